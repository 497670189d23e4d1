"""New VM… and Clone…: commands that open a dialog for one server or one shut-off VM.
The window owns the dialogs (app/ has no widgets) and hands in what opens them; the
dialogs then run the work as actions (app/actions/new_vm.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from app.inventory import Node
from connectors.libvirt.model import ConnState, VMInfo, VMState

from .base import OpensDialog, Verdict, is_vm

if TYPE_CHECKING:
    from app.tasks import Task


NOT_FOR_POOLS = "not available for XenServer / XCP-ng pools yet"

class NewVM(OpensDialog[Callable[[str], object]]):
    text = "&New VM…"
    icon_name = "action-new-vm"
    shortcut = "Ctrl+N"
    tooltip = "Create a virtual machine on the selected server"
    nothing = "select the server to create it on"

    def target_host(self, selection: Sequence[Node]) -> str | None:
        """The one server the selection points at (a server, or anything under it); with
        nothing selected, the only connected server."""
        hosts = {n.conn_id for n in selection}
        if len(hosts) == 1:
            return next(iter(hosts))
        if not selection:
            connected = [c for c in self.ctx.manager.conn_ids()
                         if self.ctx.conn_state(c) is ConnState.CONNECTED]
            if len(connected) == 1:
                return connected[0]
        return None

    def _why_not(self, conn_id: str) -> str:
        if self.ctx.conn_state(conn_id) is not ConnState.CONNECTED:
            return "not connected"
        if self.ctx.manager.host(conn_id) is None:
            return NOT_FOR_POOLS
        if self.ctx.host(conn_id).is_demo:
            return "the demo inventory (libvirt's test driver) cannot create VMs"
        return ""

    def decide(self, selection: Sequence[Node]) -> Verdict:
        conn_id = self.target_host(selection)
        if conn_id is None:
            return Verdict(nothing=self.nothing)
        server = next((n for n in selection if n.conn_id == conn_id), None)
        why = self._why_not(conn_id)
        if why:
            return Verdict(nothing=f"{self.ctx.host_label(conn_id)}: {why}")
        return Verdict(runnable=(server,) if server is not None else (), free=True)

    def start(self, verdict: Verdict) -> list[Task]:
        conn_id = self.target_host(self.selection)
        if self._handler is not None and verdict.enabled and conn_id is not None:
            self._handler(conn_id)
        return []


class CloneVM(OpensDialog[Callable[[Node], object]]):
    text = "&Clone…"
    icon_name = "action-clone"
    shortcut = "Ctrl+Shift+C"
    tooltip = "Make a copy of the shut-off VM, with its own disks"
    nothing = "select one VM"

    def about(self, node: Node) -> bool:
        return is_vm(node)

    def refusal(self, node: Node) -> str:
        vm = node.obj
        assert isinstance(vm, VMInfo)       # about() let only VMs through
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its server is not connected"
        if vm.is_control_domain:
            return "the server's control domain"
        if self.ctx.manager.host(node.conn_id) is None:
            return NOT_FOR_POOLS
        if self.ctx.host(node.conn_id).is_demo:
            return "the demo inventory (libvirt's test driver) cannot copy disks"
        if vm.state is not VMState.SHUTOFF:
            return f"{vm.state.value}; shut it down to clone it"
        return ""

    def decide(self, selection: Sequence[Node]) -> Verdict:
        if len(selection) > 1:
            return Verdict(nothing="select one VM")
        return super().decide(selection)

    def start(self, verdict: Verdict) -> list[Task]:
        if self._handler is not None and len(verdict.runnable) == 1:
            self._handler(verdict.runnable[0])
        return []
