"""VM → Properties… (Alt+Enter): the selected VM's Properties dialog, which the window
opens (``set_handler``). Not an action: the dialog is where the work is chosen, and each
Apply there says what it did. Enter and a double-click open the VM's console instead, as
virt-manager's do."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from connectors.libvirt.model import ConnState

from .base import OpensDialog, Refusal, Verdict, is_vm
from .vm import vm_of

if TYPE_CHECKING:
    from app.inventory import Node
    from app.tasks import Task


class ShowProperties(OpensDialog[Callable[["Node"], object]]):
    text = "P&roperties…"
    icon_name = "action-properties"
    shortcut = "Alt+Return"
    tooltip = "Change the VM's hardware and settings"
    nothing = "select a VM"

    def about(self, node: Node) -> bool:
        return is_vm(node)

    def refusal(self, node: Node) -> str:
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its server is not connected"
        if vm_of(node).is_control_domain:
            return "the host's control domain"
        return ""

    def decide(self, selection: Sequence[Node]) -> Verdict:
        verdict = super().decide(selection)
        if len(verdict.runnable) + len(verdict.refused) > 1:
            return Verdict(refused=tuple(Refusal(n, "one VM at a time")
                                         for n in verdict.runnable) + verdict.refused)
        return verdict

    def start(self, verdict: Verdict) -> list[Task]:
        if verdict.enabled and self._handler is not None:
            self._handler(verdict.runnable[0])
        return []
