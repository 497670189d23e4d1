"""VM → Properties… (Alt+Enter): the selected VM's Properties dialog, which the window
opens (``set_handler``); Enter and a double-click open the VM's console instead, as in
virt-manager."""
from __future__ import annotations

from typing import Callable, Sequence

from connectors.libvirt.model import ConnState

from .base import Command, is_vm


class ShowProperties(Command):
    text = "P&roperties…"
    icon_name = "action-properties"
    shortcut = "Alt+Return"
    tooltip = "Change the VM's hardware and settings"

    def __init__(self, ctx, parent=None) -> None:
        self._handler: Callable[[object], object] | None = None
        super().__init__(ctx, parent)

    def set_handler(self, handler: Callable[[object], object] | None) -> None:
        """``handler(node)`` opens the dialog for one VM's tree node."""
        self._handler = handler
        self.update(self.selection)

    def _why_not(self, selection: Sequence) -> str:
        vms = [n for n in selection if is_vm(n)]
        if len(vms) != 1 or len(selection) != 1:
            return "select one VM"
        node = vms[0]
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return f"the host of {node.obj.name} is not connected"
        if node.obj.is_control_domain:
            return f"{node.obj.name} is the host's control domain"
        if self._handler is None:
            return "not available here"
        return ""

    def can_run(self, selection: Sequence) -> bool:
        return not self._why_not(selection)

    def disabled_reason(self, selection: Sequence) -> str:
        return self._why_not(selection)

    def trigger(self) -> None:
        if self._handler is not None and self.can_run(self.selection):
            self._handler(self.selection[0])
