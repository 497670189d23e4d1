"""Opening New VM and Clone from the main window (their commands' handlers), and what
happens after: the new VM selected in the tree, its console shown when asked."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer

from app.new_vm.clone import CloneSession
from app.new_vm.session import NewVmSession

from ..clone_vm import CloneDialog
from .wizard import NewVmWizard


def open_new_vm(window, conn_id: str) -> NewVmWizard:
    host = window.manager.host(conn_id)
    label = window.manager.label(conn_id)
    session = NewVmSession(host, window.tasks, label)

    def taken() -> frozenset[str]:
        return frozenset(vm.name for vm in window.inventory.vms(conn_id))

    wizard = NewVmWizard(session, window, taken=taken)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    wizard.created.connect(lambda key, console: _show_new(window, conn_id, key, console))
    wizard.open()
    window.new_vm_wizard = wizard
    return wizard


def open_clone(window, node) -> CloneDialog:
    host = window.manager.host(node.conn_id)
    session = CloneSession(host, window.tasks, window.manager.label(node.conn_id), node.obj)
    dialog = CloneDialog(session, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.cloned.connect(lambda key: _show_new(window, node.conn_id, key, False))
    dialog.open()
    window.clone_dialog = dialog
    return dialog


def _show_new(window, conn_id: str, key: str, console: bool, tries: int = 50) -> None:
    """Selects the new VM once the tree has it (the host's refresh is on its way)."""
    if not window.tree.select_node(conn_id, key):
        if tries > 0:
            QTimer.singleShot(100, lambda: _show_new(window, conn_id, key, console,
                                                     tries - 1))
        return
    if console:
        window.tabs.setCurrentWidget(window.console_tab)
