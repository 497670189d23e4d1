"""New VM… and Clone…: commands that open a dialog for one host or one VM. The window
owns the dialogs (app/ has no widgets) and hands in what opens them."""
from __future__ import annotations

from typing import Callable, Sequence

from connectors.libvirt.model import ConnState, VMState

from .base import Command, is_vm


class NewVM(Command):
    text = "&New VM…"
    icon_name = "action-new-vm"
    shortcut = "Ctrl+N"
    tooltip = "Create a virtual machine on the selected server"

    _handler: Callable[[str], object] | None = None

    def set_handler(self, handler: Callable[[str], object] | None) -> None:
        self._handler = handler
        self.update(self.selection)

    def target_host(self, selection: Sequence) -> str | None:
        """The one host the selection points at (a host, or anything under it); with
        nothing selected, the only connected host."""
        hosts = {n.conn_id for n in selection}
        if len(hosts) == 1:
            return next(iter(hosts))
        if not selection:
            connected = [c for c in self.ctx.manager.conn_ids()
                         if self.ctx.conn_state(c) is ConnState.CONNECTED]
            if len(connected) == 1:
                return connected[0]
        return None

    def _why_not(self, selection: Sequence) -> str:
        if self._handler is None:
            return "not available here"
        conn_id = self.target_host(selection)
        if conn_id is None:
            return "select the server to create it on"
        if self.ctx.conn_state(conn_id) is not ConnState.CONNECTED:
            return f"{self.ctx.host_label(conn_id)} is not connected"
        host = self.ctx.host(conn_id)
        if host is not None and host.is_demo:
            return "the demo inventory (libvirt's test driver) cannot create VMs"
        return ""

    def can_run(self, selection: Sequence) -> bool:
        return not self._why_not(selection)

    def disabled_reason(self, selection: Sequence) -> str:
        return self._why_not(selection)

    def trigger(self) -> None:
        conn_id = self.target_host(self.selection)
        if self._handler is not None and conn_id is not None and self.can_run(self.selection):
            self._handler(conn_id)

    async def execute(self, selection: Sequence) -> None:
        conn_id = self.target_host(selection)
        if self._handler is not None and conn_id is not None:
            self._handler(conn_id)


class CloneVM(Command):
    text = "&Clone…"
    icon_name = "action-clone"
    tooltip = "Make a copy of the shut-off VM, with its own disks"

    _handler: Callable[[object], object] | None = None

    def set_handler(self, handler: Callable[[object], object] | None) -> None:
        self._handler = handler
        self.update(self.selection)

    def _why_not(self, selection: Sequence) -> str:
        if self._handler is None:
            return "not available here"
        vms = [n for n in selection if is_vm(n)]
        if len(vms) != 1 or len(selection) != 1:
            return "select one VM"
        node = vms[0]
        vm = node.obj
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return f"the host of {vm.name} is not connected"
        if vm.is_control_domain:
            return f"{vm.name} is the host's control domain"
        host = self.ctx.host(node.conn_id)
        if host is not None and host.is_demo:
            return "the demo inventory (libvirt's test driver) cannot copy disks"
        if vm.state is not VMState.SHUTOFF:
            return f"{vm.name} is {vm.state.value}; shut it down to clone it"
        return ""

    def can_run(self, selection: Sequence) -> bool:
        return not self._why_not(selection)

    def disabled_reason(self, selection: Sequence) -> str:
        return self._why_not(selection)

    def trigger(self) -> None:
        if self._handler is not None and self.can_run(self.selection):
            self._handler(self.selection[0])

    async def execute(self, selection: Sequence) -> None:
        if self._handler is not None and self.can_run(selection):
            self._handler(selection[0])


__all__ = ["CloneVM", "NewVM"]
