"""Forget Console Password from the VM menu / context menu (the Console tab's action):
enabled for one VM with a display when a vault exists; it removes the VM's VNC and SPICE
entries from a real encrypted-file vault and says so in the pane and the status bar.
The VM and its host are the connector records behind the VmOpener stand-ins of
tests/unit/test_console_spice_app.py (nothing connects here)."""
from __future__ import annotations

from PySide6.QtWidgets import QMainWindow

from app.console_passwords import vm_console_keys
from app.inventory import InventoryModel, NodeKind
from app.vault import EncryptedFileVault
from tests.conftest import wait_until
from tests.unit.test_console_spice_app import SPICE, VNC, Host, Manager, vm


def test_forget_console_password_for_the_selected_vm(aloop, qtbot, tmp_path):
    from widgets.tabs.console import ConsoleTab
    record = vm(VNC, SPICE)
    host = Host(record, uri="qemu+ssh://kvm1/system")
    window = QMainWindow()
    qtbot.addWidget(window)
    tab = ConsoleTab(manager=Manager(host), inventory=InventoryModel())
    window.setCentralWidget(tab)
    vault = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)
    vault.unlock("file password")
    keys = vm_console_keys(host.uri, record.key)
    for key in keys:
        vault.set(key, "kept")

    class Node:
        kind, conn_id, key, obj = NodeKind.VM, "c1", record.key, record

    action = tab.forget_password_action
    tab.set_selection([Node()])
    assert not action.isEnabled()          # no vault: nothing could be remembered
    tab.set_selection([])
    tab.vault_source = lambda: vault
    tab.set_selection([Node()])
    assert action.isEnabled()
    action.trigger()
    aloop.run_until_complete(wait_until(lambda: window.statusBar().currentMessage(), 20))
    said = "Forgot the remembered VNC and SPICE console password of desk."
    assert window.statusBar().currentMessage() == said
    assert tab.pane.last_message == said
    assert [vault.get(key) for key in keys] == [None, None]
    tab.set_selection([])
    assert not action.isEnabled()
