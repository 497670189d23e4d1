"""Migrate…: which hosts a VM can go to, the pre-check, and the migrations as tasks.

``MigrationService`` is what the Migrate dialog, drag-and-drop in the tree and maintenance
mode share. A destination is a connected host of the same hypervisor that is not in
maintenance mode. ``precheck()`` reads the facts from both hosts once (in their worker
pools); the dialog then re-checks every change of its options with the pure
``PreCheck.problems(options)``, without another round trip. ``start()`` runs one
migration as one Task (progress and a line of detail from libvirt's job statistics,
Cancel = abortJob); several start at once, but at most the preference's number run at
the same time, the others wait in line and say so.

The preference (migration/max_parallel) is added to app.preferences' table from here.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app import preferences as prefs
from app.actions.migrate import MigrateVMAction
from app.host_settings import HostSettings
from connectors.libvirt.migration import JobProgress, MigrationOptions, size_text
from connectors.libvirt.migration_check import (HostFacts, Problem, VMFacts, blocking,
                                                check)
from connectors.libvirt.migration_run import MigrationOutcome, Names
from connectors.libvirt.model import ActionError, ConnState

log = logging.getLogger(__name__)

MAX_PARALLEL = "migration/max_parallel"
MAX_PARALLEL_LIMITS = (1, 16)
prefs.SETTINGS.setdefault(MAX_PARALLEL, prefs.Setting(
    MAX_PARALLEL, 2, prefs._clamped(int, *MAX_PARALLEL_LIMITS)))


@dataclass(frozen=True)
class PreCheck:
    """The facts of one VM and two hosts; ``problems(options)`` is the verdict."""

    vm: VMFacts
    source: HostFacts
    dest: HostFacts

    def problems(self, options: MigrationOptions) -> list[Problem]:
        return check(self.vm, self.source, self.dest, options)

    def blockers(self, options: MigrationOptions) -> list[Problem]:
        return blocking(self.problems(options))


@dataclass(frozen=True)
class MigrationRequest:
    source: str              # conn_id
    key: str                 # the VM's UUID
    dest: str                # conn_id
    options: MigrationOptions
    name: str = ""           # the VM's name, for the task


class MigrationService(QObject):
    """``migrated(source conn_id, key, dest conn_id, MigrationOutcome)`` after each
    migration that succeeded."""

    migrated = Signal(str, str, str, object)

    def __init__(self, manager, tasks, preferences: prefs.Preferences,
                 host_settings: HostSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.tasks = tasks
        self.preferences = preferences
        self.host_settings = host_settings
        self._running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    # ---- where to ----

    def _uri(self, conn_id: str) -> str:
        host = self.manager.host(conn_id)
        return host.uri if host is not None else ""

    def why_not_destination(self, source: str, dest: str) -> str:
        """"" when ``dest`` can receive VMs of ``source``, else why not (a sentence)."""
        if source == dest:
            return "The VM is already there."
        host, src = self.manager.host(dest), self.manager.host(source)
        label = self.manager.label(dest)
        if host is None or src is None:
            return f"{label} is gone."
        if host.state is not ConnState.CONNECTED:
            return f"{label} is not connected."
        if src.info is not None and host.info is not None and \
                src.info.driver.lower() != host.info.driver.lower():
            return f"{label} runs {host.info.driver}, not {src.info.driver}."
        if host.info is not None and host.info.is_demo:
            return f"{label} is the demo inventory."
        if self.host_settings.in_maintenance(host.uri):
            return f"{label} is in maintenance mode."
        return ""

    def destinations(self, source: str) -> list[tuple[str, str, str]]:
        """Every other server as (conn_id, label, why not or ""), usable ones first."""
        found = [(c, self.manager.label(c), self.why_not_destination(source, c))
                 for c in self.manager.conn_ids() if c != source]
        return sorted(found, key=lambda d: (bool(d[2]), d[1].lower()))

    # ---- pre-check ----

    async def precheck(self, source: str, key: str, dest: str,
                       dest_facts: HostFacts | None = None,
                       source_facts: HostFacts | None = None) -> PreCheck:
        """Reads both hosts (ActionError when one cannot answer). Maintenance mode passes
        the host facts it read once for many VMs."""
        src, dst = self._require(source), self._require(dest)
        vm, src_facts, dst_facts = await asyncio.gather(
            src.vm_migration_facts(key, dst),
            _given(source_facts) if source_facts else src.migration_host_facts(
                self.manager.label(source)),
            _given(dest_facts) if dest_facts else dst.migration_host_facts(
                self.manager.label(dest)))
        return PreCheck(vm, src_facts, dst_facts)

    def default_options(self, pre: PreCheck, dest: str) -> MigrationOptions:
        """What a drag and drop does: live when it runs, its local disks copied to the
        destination's roomiest pool, the definition moved, nothing else asked."""
        targets = pre.dest.copy_targets()
        copies = tuple((d.target, targets[0].name) for d in pre.vm.local_disks()) \
            if targets else ()
        return MigrationOptions(live=pre.vm.live, copy_storage=copies,
                                remove_source_disks=bool(copies),
                                persistent=pre.vm.persistent or not pre.vm.live,
                                dest_address=self.host_settings.migration_address(
                                    self._uri(dest)),
                                peer_uri=self.peer_uri(dest))

    def peer_uri(self, dest: str) -> str:
        """The URI a source's libvirtd opens for a tunnelled migration to ``dest``."""
        uri = self._uri(dest)
        return self.host_settings.peer_uri(uri) or uri

    # ---- running ----

    def start(self, request: MigrationRequest):
        """One Task for one migration (it waits its turn when enough are running)."""
        return self.tasks.run_action(
            MigrateVMAction(self, request, self.manager.label(request.source)))

    async def run_migration(self, request: MigrationRequest, task) -> str:
        """The action's work; its outcome is the sentence of what happened ("moved to
        kvm2 (…)")."""
        outcome = await self.migrate(request, task)
        return outcome_text(outcome, self.manager.label(request.dest))

    async def migrate(self, request: MigrationRequest, task=None) -> MigrationOutcome:
        """The migration itself, after waiting for a free place; raises ActionError."""
        await self._take_turn(task)
        try:
            return await self._migrate(request, task)
        finally:
            self._release()

    async def _migrate(self, request: MigrationRequest, task) -> MigrationOutcome:
        src, dst = self._require(request.source), self._require(request.dest)
        names = Names(request.name or request.key, self.manager.label(request.source),
                      self.manager.label(request.dest))
        options = request.options
        if task is not None:
            task.set_detail("Preparing…")

        def progress(reading: JobProgress) -> None:
            if task is None:
                return
            fraction = reading.fraction
            task.set_progress(None if fraction is None else round(fraction * 100))
            task.set_detail(reading.describe())

        outcome = await src.migrate_vm(request.key, dst, options, names, progress)
        self._tell(request, names, outcome)
        self.migrated.emit(request.source, request.key, request.dest, outcome)
        return outcome

    def _tell(self, request: MigrationRequest, names: Names,
              outcome: MigrationOutcome) -> None:
        """What the task's own row does not say: the disks left on the source."""
        log_ = self.tasks.events_log
        if log_ is None or not outcome.copied or request.options.keep_source_definition:
            return
        target = f"{names.source} » {names.vm}"
        if outcome.kept:
            log_.add("warning", "action", target,
                     f"{names.vm} runs from copies on {names.dest}; these disks it had on "
                     f"{names.source} could not be deleted: {'; '.join(outcome.kept)}.")
        elif not request.options.remove_source_disks:
            log_.add("info", "action", target,
                     f"The disks {names.vm} had on {names.source} are still there (it runs "
                     f"from copies on {names.dest} now); delete them from the storage pool "
                     "when they are no longer needed.")

    def _require(self, conn_id: str):
        host = self.manager.host(conn_id)
        if host is None or host.state is not ConnState.CONNECTED:
            raise ActionError(f"{self.manager.label(conn_id)} is not connected.")
        return host

    # ---- at most N at once ----

    @property
    def limit(self) -> int:
        return int(self.preferences.value(MAX_PARALLEL))

    @property
    def running(self) -> int:
        return self._running

    async def _take_turn(self, task) -> None:
        while self._running >= self.limit:
            if task is not None:
                task.set_detail(f"Waiting: {self._running} migrations are running (at "
                                f"most {self.limit} at once, see Preferences)")
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
        self._running += 1

    def _release(self) -> None:
        self._running -= 1
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break


async def _given(value):
    return value


def outcome_text(outcome: MigrationOutcome, dest: str) -> str:
    """"moved to kvm2 (3.4 s, paused 187 ms, 71.7 MiB sent)"."""
    details = [f"{outcome.total_ms / 1000:.1f} s"]
    if outcome.downtime_ms is not None:
        details.append(f"paused {outcome.downtime_ms} ms")
    if outcome.data_bytes:
        details.append(f"{size_text(outcome.data_bytes)} sent")
    if outcome.post_copy:
        details.append("finished in post-copy")
    return f"moved to {dest} ({', '.join(details)})"
