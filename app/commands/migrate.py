"""Migrate… and maintenance mode as commands: when they apply, and why not.

The work is app.migration and app.maintenance (their actions in app/actions/migrate.py);
these commands decide from the selection whether they may run, and why not, and hand the
user's choice to the window's dialogs through handlers the window sets, as Add Server
does: the Migrate dialog with the selected VMs (and the host they were dropped on, for a
drag in the tree), the Enter and Exit Maintenance Mode dialogs with the selected server.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from connectors.libvirt.model import ConnState, VMState

from .base import Command, Verdict, is_host
from .vm import VMCommand, vm_of

if TYPE_CHECKING:
    from app.inventory import Node
    from app.tasks import Task

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
    tooltip = "Move the VM to another server (live when it runs)"
    states = frozenset({VMState.RUNNING, VMState.PAUSED, VMState.SHUTOFF})
    required_state = "running, paused or shut off"

    _open: MigrateHandler | None = None
    destinations: Destinations | None = None

    def set_handler(self, handler: MigrateHandler | None,
                    destinations: Destinations | None = None) -> None:
        self._open = handler
        self.destinations = destinations
        self.update(self.selection)

    def evaluate(self, selection: Sequence[Node]) -> Verdict:
        if self._open is None or self.destinations is None:
            return Verdict(nothing="migration is not available here")
        return super().evaluate(selection)

    def refusal(self, node: Node) -> str:
        vm = vm_of(node)
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its server is not connected"
        if vm.is_control_domain:
            return "the host's control domain"
        if vm.state not in self.states:
            return f"{vm.state.value}; it must be {self.required_state}"
        assert self.destinations is not None
        choices = self.destinations.destinations(node.conn_id)
        if not any(not why for _c, _label, why in choices):
            return ("no other connected server of the same hypervisor can take it"
                    if choices else "add a second server to move VMs to")
        return ""

    def start(self, verdict: Verdict) -> list[Task]:
        if verdict.enabled and self._open is not None:
            self._open(list(verdict.runnable), None)
        return []

    def drop(self, nodes: Sequence[Node], dest: str) -> bool:
        """VMs dragged onto a server in the tree: the dialog, with that server chosen.
        False (and nothing opens) when none of them can go there."""
        if self._open is None or self.destinations is None:
            return False
        why_not = self.destinations.why_not_destination
        movable = [n for n in self.evaluate(nodes).runnable
                   if n.conn_id != dest and not why_not(n.conn_id, dest)]
        if not movable:
            return False
        self._open(movable, dest)
        return True


class _MaintenanceCommand(Command):
    """A command on one server that opens a dialog the window provides."""

    nothing = "select a server"
    entering = True
    _open: HostHandler | None = None

    def set_handler(self, handler: HostHandler | None) -> None:
        self._open = handler
        self.update(self.selection)

    def about(self, node: Node) -> bool:
        return is_host(node)

    def evaluate(self, selection: Sequence[Node]) -> Verdict:
        if self._open is None:
            return Verdict(nothing="maintenance mode is not available here")
        if len([n for n in selection if is_host(n)]) > 1:
            return Verdict(nothing="select one server")
        return super().evaluate(selection)

    def refusal(self, node: Node) -> str:
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "not connected"
        if self.ctx.in_maintenance(node.conn_id) == self.entering:
            return "already in maintenance mode" if self.entering else \
                "not in maintenance mode"
        return ""

    def start(self, verdict: Verdict) -> list[Task]:
        if verdict.enabled and self._open is not None:
            self._open(verdict.runnable[0].conn_id)
        return []


class EnterMaintenance(_MaintenanceCommand):
    text = "Enter &Maintenance Mode…"
    icon_name = "action-maintenance"
    shortcut = "Ctrl+Shift+M"
    tooltip = "Move the running VMs to other servers and start nothing here"
    entering = True


class ExitMaintenance(_MaintenanceCommand):
    text = "E&xit Maintenance Mode…"
    icon_name = "action-maintenance-exit"
    shortcut = "Ctrl+Shift+X"
    tooltip = "Let VMs start here again, and bring back the ones that were moved away"
    entering = False
