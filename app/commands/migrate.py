"""Migrate… and maintenance mode as commands: when they apply, and why not.

The work is app.migration and app.maintenance; these commands decide from the selection
whether they may run (and say why not), and hand the user's choices to the window's
dialogs through handlers the window sets, as Add Server does: the Migrate dialog with
the selected VMs (and the host they were dropped on, for a drag in the tree), the Enter
and Exit Maintenance Mode dialogs with the selected host.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

from connectors.libvirt.model import ConnState, VMInfo, VMState

from .base import Command, is_host
from .vm import VMCommand

MigrateHandler = Callable[[list, "str | None"], object]
HostHandler = Callable[[str], object]


class Destinations(Protocol):
    """What the commands ask the migration service (app.migration.MigrationService)."""

    def destinations(self, source: str) -> list[tuple[str, str, str]]: ...
    def why_not_destination(self, source: str, dest: str) -> str: ...


class MigrateVM(VMCommand):
    text = "&Migrate…"
    icon_name = "action-migrate"
    shortcut = "Ctrl+M"
    tooltip = "Move the VM to another host (live when it runs)"
    states = frozenset({VMState.RUNNING, VMState.PAUSED, VMState.SHUTOFF})
    needs_words = "running, paused or shut off"
    verb = "Migrating"

    _open: MigrateHandler | None = None
    destinations: Destinations | None = None

    def set_handler(self, handler: MigrateHandler | None,
                    destinations: Destinations | None = None) -> None:
        self._open = handler
        self.destinations = destinations
        self.update(self.selection)

    def _why_not(self, node) -> str:
        if self._open is None or self.destinations is None:
            return "migration is not available here"
        vm: VMInfo = node.obj
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return f"the host of {vm.name} is not connected"
        if vm.is_control_domain:
            return f"{vm.name} is the host's control domain"
        if vm.state not in self.states:
            return f"{vm.name} is {vm.state.value}; it must be {self.needs_words}"
        choices = self.destinations.destinations(node.conn_id)
        if not any(not why for _c, _label, why in choices):
            return ("no other connected host of the same hypervisor can take it"
                    if choices else "add a second server to move VMs to")
        return ""

    def trigger(self) -> None:
        nodes = self.runnable(self.selection)
        if nodes and self._open is not None:
            self._open(nodes, None)

    def drop(self, nodes: Sequence, dest: str) -> bool:
        """VMs dragged onto a host in the tree: the dialog, with that host chosen.
        False (and nothing opens) when none of them can go there."""
        if self._open is None or self.destinations is None:
            return False
        movable = [n for n in self.runnable(nodes) if n.conn_id != dest and
                   not self.destinations.why_not_destination(n.conn_id, dest)]
        if not movable:
            return False
        self._open(movable, dest)
        return True

    async def execute(self, selection: Sequence) -> None:
        raise NotImplementedError("the Migrate dialog starts the migrations")


class _MaintenanceCommand(Command):
    """A host command that opens a dialog the window provides."""

    _open: HostHandler | None = None
    entering = True

    def set_handler(self, handler: HostHandler | None) -> None:
        self._open = handler
        self.update(self.selection)

    def _hosts(self, selection: Sequence) -> list:
        return [n for n in selection if is_host(n)]

    def _why_not(self, node) -> str:
        label = self.ctx.host_label(node.conn_id)
        if self._open is None:
            return "maintenance mode is not available here"
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return f"{label} is not connected"
        if self.ctx.in_maintenance(node.conn_id) == self.entering:
            return f"{label} is {'already' if self.entering else 'not'} in maintenance mode"
        return ""

    def can_run(self, selection: Sequence) -> bool:
        hosts = self._hosts(selection)
        return len(hosts) == 1 and not self._why_not(hosts[0])

    def disabled_reason(self, selection: Sequence) -> str:
        hosts = self._hosts(selection)
        if len(hosts) != 1:
            return "select one server"
        return self._why_not(hosts[0])

    def trigger(self) -> None:
        hosts = self._hosts(self.selection)
        if self._open is not None and self.can_run(hosts):
            self._open(hosts[0].conn_id)

    async def execute(self, selection: Sequence) -> None:
        raise NotImplementedError("the maintenance dialogs start the work")


class EnterMaintenance(_MaintenanceCommand):
    text = "Enter &Maintenance Mode…"
    icon_name = "action-maintenance"
    tooltip = "Move the running VMs to other hosts and start nothing here"
    entering = True


class ExitMaintenance(_MaintenanceCommand):
    text = "E&xit Maintenance Mode…"
    icon_name = "action-maintenance-exit"
    tooltip = "Let VMs start here again, and bring back the ones that were moved away"
    entering = False
