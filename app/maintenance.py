"""Maintenance mode for a host (XenCenter's Enter/Exit Maintenance Mode).

Entering empties the host of running VMs: each goes to one of the hosts the user picked,
or, when none was picked, to whichever connected host of the same hypervisor passes its
pre-check and has the most memory left (largest VMs placed first); its local disks are
copied when it needs that. A VM no host can take is refused with the reasons, and shut
down when the user agreed to that. The host is marked at once, before anything moves
(HostSettings: it stays marked across restarts, the tree says "In maintenance", Start is
refused there and no migration picks it as a destination), and the VMs moved away are
remembered, so that Exit Maintenance Mode can bring them back.

Each migration is a task of its own (the migration service's limit on how many run at
once applies); entering and exiting are one task each that waits for them.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, Signal

from app.actions.migrate import EnterMaintenanceAction, ExitMaintenanceAction
from app.host_settings import Evacuated, HostSettings
from app.migration import MigrationRequest, MigrationService, PreCheck
from app.tasks import TaskState
from connectors.libvirt.migration_check import HostFacts
from connectors.libvirt.model import ActionError, ConnState, VMAction, VMInfo, VMState

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 120.0


@dataclass(frozen=True)
class Move:
    key: str
    name: str
    dest: str                       # conn_id
    request: MigrationRequest


@dataclass(frozen=True)
class Refusal:
    key: str
    name: str
    reasons: tuple[str, ...]        # one sentence per destination tried


@dataclass
class EvacuationPlan:
    host: str                       # conn_id
    moves: list[Move] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def _moving(vm: VMInfo) -> bool:
    return vm.state in (VMState.RUNNING, VMState.PAUSED) and not vm.is_control_domain


class MaintenanceMode(QObject):
    """``changed(conn_id)`` when a host enters or leaves maintenance mode."""

    changed = Signal(str)

    def __init__(self, manager, migrations: MigrationService, host_settings: HostSettings,
                 tasks, inventory=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.migrations = migrations
        self.host_settings = host_settings
        self.tasks = tasks
        self.inventory = inventory
        manager.connectionAdded.connect(self._show)
        host_settings.changed.connect(self._settings_changed)
        for conn_id in manager.conn_ids():
            self._show(conn_id)

    def _settings_changed(self, uri: str) -> None:
        for conn_id in self.manager.conn_ids():
            if self._uri(conn_id) == uri:
                self._show(conn_id)
                self.changed.emit(conn_id)

    def _show(self, conn_id: str) -> None:
        """The tree's mark follows the setting (also for hosts added later)."""
        if self.inventory is not None:
            self.inventory.set_maintenance(conn_id, self.in_maintenance(conn_id))

    def _uri(self, conn_id: str) -> str:
        host = self.manager.host(conn_id)
        return host.uri if host is not None else ""

    def in_maintenance(self, conn_id: str) -> bool:
        uri = self._uri(conn_id)
        return bool(uri) and self.host_settings.in_maintenance(uri)

    def evacuated(self, conn_id: str) -> list[Evacuated]:
        return self.host_settings.evacuated(self._uri(conn_id))

    # ---- planning ----

    async def plan(self, conn_id: str, targets: list[str] | None = None) -> EvacuationPlan:
        """Where each running VM of the host would go, and which cannot go anywhere."""
        host = self.manager.host(conn_id)
        if host is None or host.state is not ConnState.CONNECTED:
            raise ActionError(f"{self.manager.label(conn_id)} is not connected.")
        usable = [c for c, _label, why in self.migrations.destinations(conn_id) if not why]
        chosen = [c for c in (targets if targets is not None else usable) if c in usable]
        plan = EvacuationPlan(conn_id, targets=chosen)
        vms = sorted((vm for vm in host.vms() if _moving(vm)),
                     key=lambda vm: -vm.memory_kib)
        if not vms:
            return plan
        if not chosen:
            reason = ("No other connected host of the same hypervisor can take it."
                      if targets is None else "No destination host was chosen.")
            plan.refused = [Refusal(vm.key, vm.name, (reason,)) for vm in vms]
            return plan
        source_facts = await host.migration_host_facts(self.manager.label(conn_id))
        facts: dict[str, HostFacts] = {}
        for dest in chosen:
            try:
                facts[dest] = await self.manager.host(dest).migration_host_facts(
                    self.manager.label(dest))
            except ActionError as err:
                log.warning("maintenance plan: %s", err)
        free = {d: f.available_memory_kib for d, f in facts.items()}
        for vm in vms:
            reasons = []
            for dest in sorted(facts, key=lambda d: -(free[d] or 0)):
                dest_facts = replace(facts[dest], available_memory_kib=free[dest])
                pre, why = await self._try(conn_id, vm, dest, source_facts, dest_facts)
                if pre is None:
                    reasons.append(f"{self.manager.label(dest)}: {why}")
                    continue
                request = MigrationRequest(conn_id, vm.key, dest,
                                           self.migrations.default_options(pre, dest),
                                           vm.name)
                plan.moves.append(Move(vm.key, vm.name, dest, request))
                if free[dest] is not None:
                    free[dest] = (free[dest] or 0) - vm.memory_kib
                break
            else:
                plan.refused.append(Refusal(vm.key, vm.name, tuple(reasons) or (
                    "No destination host answered.",)))
        return plan

    async def _try(self, conn_id: str, vm: VMInfo, dest: str, source_facts: HostFacts,
                   dest_facts: HostFacts) -> tuple[PreCheck | None, str]:
        try:
            pre = await self.migrations.precheck(conn_id, vm.key, dest,
                                                 dest_facts=dest_facts,
                                                 source_facts=source_facts)
        except ActionError as err:
            return None, str(err)
        blockers = pre.blockers(self.migrations.default_options(pre, dest))
        return (pre, "") if not blockers else (None, str(blockers[0]))

    # ---- entering ----

    def enter(self, plan: EvacuationPlan, shut_down_refused: bool = False):
        """One task: mark the host, move the VMs (a task each), shut down the refused
        ones when the user agreed. It fails, naming them, when VMs still run there."""
        return self.tasks.run_action(EnterMaintenanceAction(
            self, plan, self.manager.label(plan.host), shut_down_refused))

    async def run_enter(self, plan: EvacuationPlan, shut_down_refused: bool,
                        task) -> str | None:
        uri = self._uri(plan.host)
        host = self.manager.host(plan.host)
        if host is None:
            raise ActionError(f"{self.manager.label(plan.host)} is gone.")
        label = self.manager.label(plan.host)
        self.host_settings.set_maintenance(uri, True, self.evacuated(plan.host))
        task.set_detail(f"Moving {len(plan.moves)} VMs")
        subtasks = [(move, self.migrations.start(move.request)) for move in plan.moves]
        shut = []
        if shut_down_refused:
            shut = [asyncio.ensure_future(self._shut_down(host, r)) for r in plan.refused]
        left: list[str] = []
        for move, sub in subtasks:
            await _finished(sub)
            if sub.state is TaskState.SUCCEEDED:
                dest = self.manager.host(move.dest)
                self.host_settings.add_evacuated(
                    uri, Evacuated(move.key, move.name, dest.uri if dest else ""))
            else:
                left.append(f"{move.name} ({sub.error or sub.state.label.lower()})")
        for job in shut:
            try:
                await job
            except ActionError as err:
                left.append(str(err))
        if not shut_down_refused:
            left += [f"{r.name} (cannot move: {r.reasons[0]})" for r in plan.refused]
        if left:
            raise ActionError(f"{label} is in maintenance mode, but these VMs still run "
                              f"there: {'; '.join(left)}.")
        return f"in maintenance mode; {len(subtasks)} VMs moved" if subtasks else \
            "in maintenance mode"

    async def _shut_down(self, host, refusal: Refusal) -> None:
        """ACPI shutdown, then waits for it; a guest that ignores it keeps running (never
        forced off behind the user's back)."""
        vm = host.vm(refusal.key)
        if vm is None or not _moving(vm):
            return
        await host.vm_action(refusal.key, VMAction.SHUTDOWN)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_WAIT_S
        while loop.time() < deadline:
            vm = host.vm(refusal.key)
            if vm is None or not vm.state.is_active:
                return
            await asyncio.sleep(0.5)
        raise ActionError(f"{refusal.name} did not shut down within "
                          f"{SHUTDOWN_WAIT_S:g} s")

    # ---- exiting ----

    def exit(self, conn_id: str, bring_back: bool = True):
        return self.tasks.run_action(ExitMaintenanceAction(
            self, conn_id, self.manager.label(conn_id), bring_back))

    async def run_exit(self, conn_id: str, bring_back: bool, task) -> str | None:
        uri = self._uri(conn_id)
        moved = self.evacuated(conn_id)
        self.host_settings.set_maintenance(uri, False)
        if not bring_back or not moved:
            return None
        task.set_detail(f"Bringing back {len(moved)} VMs")
        subtasks, left = [], []
        home = self.manager.host(conn_id)
        for entry in moved:
            if home is not None and home.vm(entry.uuid) is not None and \
                    home.vm(entry.uuid).state.is_active:
                continue                      # already back (moved by hand)
            where = self._find(entry, conn_id)
            if where is None:
                left.append(f"{entry.name} (not found on any connected host)")
                continue
            source, vm = where
            try:
                pre = await self.migrations.precheck(source, vm.key, conn_id)
            except ActionError as err:
                left.append(f"{entry.name} ({err})")
                continue
            options = self.migrations.default_options(pre, conn_id)
            blockers = pre.blockers(options)
            if blockers:
                left.append(f"{entry.name} ({blockers[0]})")
                continue
            request = MigrationRequest(source, vm.key, conn_id, options, vm.name)
            subtasks.append((entry, self.migrations.start(request)))
        for entry, sub in subtasks:
            await _finished(sub)
            if sub.state is not TaskState.SUCCEEDED:
                left.append(f"{entry.name} ({sub.error or sub.state.label.lower()})")
        if left:
            raise ActionError(f"These VMs did not come back to "
                              f"{self.manager.label(conn_id)}: {'; '.join(left)}.")
        return f"{len(subtasks)} VMs brought back" if subtasks else None

    def _find(self, entry: Evacuated, home: str) -> tuple[str, VMInfo] | None:
        """Where the VM is now (running or not: a shut-off one comes back offline): the
        host it went to first, else any connected host."""
        hosts = sorted((c for c in self.manager.conn_ids() if c != home),
                       key=lambda c: self._uri(c) != entry.to_uri)
        for conn_id in hosts:
            host = self.manager.host(conn_id)
            if host is None or host.state is not ConnState.CONNECTED:
                continue
            vm = host.vm(entry.uuid)
            if vm is not None:
                return conn_id, vm
        return None


async def _finished(task) -> None:
    """Waits for a Task of app.tasks to end."""
    if task.done:
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    task.finished.connect(settle)
    if not task.done:
        await done
