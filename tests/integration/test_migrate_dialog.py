"""The Migrate dialog and drag and drop in the window, on two real hosts (no guest boots).

The window as the launcher composes it, connected to this machine's libvirtd and to the
second host of peer_host.py. A shut-off VM with a qcow2 disk (defined, never started) is
what the user moves: the dialog says what kind of migration it will be, lists the disk
with the pool it is copied to, says in words what blocks (a disk left uncopied, a name
taken on the destination) with Migrate disabled, and Enter migrates only when nothing
blocks. Dropping the VM on the other host in the tree opens the dialog with that host.
"""
from __future__ import annotations

import argparse
import uuid

import libvirt
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.inventory import NODE_ROLE, NodeKind
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.integration.conftest import PREFIX, _remove_domain, _test_pool
from tests.integration.guest import guest_xml
from widgets.dialogs.migrate import MigrateDialog
from widgets.launcher import Session

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def window(qapp, aloop, libvirt_uri, peer):
    qapp.setQuitOnLastWindowClosed(False)
    session = Session(argparse.Namespace(connect=[libvirt_uri, peer.uri], show_domain=None,
                                         screenshot=None, debug=False))
    window = session.build()
    window.show()
    session.local_id = session.manager.open(libvirt_uri, save=False)
    session.remote_id = session.manager.open(peer.uri, save=False)
    aloop.run_until_complete(wait_until(lambda: all(
        session.manager.host(c).state is ConnState.CONNECTED
        for c in (session.local_id, session.remote_id)), 30))
    yield session
    aloop.run_until_complete(session.shutdown())
    window.close()
    window.deleteLater()


@pytest.fixture
def shut_off_vm(libvirt_uri, window, aloop):
    conn = libvirt.open(libvirt_uri)
    name = f"{PREFIX}dialog-{uuid.uuid4().hex[:6]}"
    vol = _test_pool(conn).createXML(
        f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
        "<target><format type='qcow2'/></target></volume>", 0)
    conn.defineXML(guest_xml(name, accel="qemu", kernel="/nonexistent/vmlinuz",
                             initrd="/nonexistent/initrd", disk_path=vol.path(),
                             disk_format="qcow2"))
    window.window.tree.set_filter_text("")
    aloop.run_until_complete(wait_until(lambda: window.window.show_domain(name), 10))
    yield name
    _remove_domain(conn, name)
    vol.delete(0)
    conn.close()


def open_dialog(aloop, window, name: str) -> MigrateDialog:
    assert window.window.show_domain(name)
    action = window.commands.migrate.action
    assert action.isEnabled(), action.toolTip()
    action.trigger()
    return checked(aloop, window.migration_ui.dialog)


def checked(aloop, dialog) -> MigrateDialog:
    seen = []
    dialog.checked.connect(lambda: seen.append(1))
    aloop.run_until_complete(wait_until(lambda: seen or "Checking" not in
                                        dialog.check_label.text(), 30))
    return dialog


def test_the_dialog_says_what_it_will_do_and_what_blocks(aloop, window, shut_off_vm):
    dialog = open_dialog(aloop, window, shut_off_vm)
    try:
        assert dialog.dest_box.currentText() == window.manager.label(window.remote_id)
        assert dialog.mode_label.text().startswith("Offline migration:")
        assert dialog.disk_table.rowCount() == 1
        assert dialog.disk_table.item(0, 0).text().startswith("vda")
        assert dialog.disk_table.cellWidget(0, 2).currentData() == "default"
        assert "Ready to migrate" in dialog.check_label.text()
        assert dialog.migrate_button.isEnabled()

        dialog.copy_box.setChecked(False)
        assert not dialog.migrate_button.isEnabled()
        assert "Disk vda" in dialog.check_label.text()
        assert "choose to copy the storage" in dialog.check_label.text()
        QTest.keyClick(dialog, Qt.Key.Key_Return)        # blocked: Enter does nothing
        assert dialog.isVisible()

        dialog.copy_box.setChecked(True)
        [request] = dialog.requests()
        assert (request.dest, request.options.live) == (window.remote_id, False)
        assert request.options.copy_storage == (("vda", "default"),)
    finally:
        dialog.reject()


def test_a_name_taken_there_blocks(aloop, window, shut_off_vm, peer):
    remote = libvirt.open(peer.uri)
    twin = remote.defineXML(f"<domain type='qemu'><name>{shut_off_vm}</name><memory unit="
                            "'MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>"
                            "</domain>")
    try:
        dialog = open_dialog(aloop, window, shut_off_vm)
        try:
            assert not dialog.migrate_button.isEnabled()
            assert (f"{window.manager.label(window.remote_id)} already has a VM named "
                    f"{shut_off_vm}; rename one of them first.") in dialog.check_label.text()
        finally:
            dialog.reject()
    finally:
        twin.undefine()
        remote.close()


def test_dropping_a_vm_on_the_other_host_opens_the_dialog_for_it(aloop, window,
                                                                  shut_off_vm):
    tree = window.window.tree
    vm = next(i for i in _rows(tree) if i.data(NODE_ROLE).kind is NodeKind.VM and
              i.data(NODE_ROLE).obj.name == shut_off_vm)
    hosts = {i.data(NODE_ROLE).conn_id: i for i in _rows(tree)
             if i.data(NODE_ROLE).kind is NodeKind.HOST}
    drag = tree.vm_drag
    mime = drag.mime_data([vm.data(NODE_ROLE)])
    window.migration_ui.dialog = None

    # On its own host: refused, nothing opens.
    assert not _drop(tree, hosts[window.local_id], mime)
    assert window.migration_ui.dialog is None
    # On the other host: the dialog, with that host chosen.
    assert _drop(tree, hosts[window.remote_id], mime)
    dialog = checked(aloop, window.migration_ui.dialog)
    try:
        assert dialog.dest == window.remote_id
        assert [v.vm.name for v in dialog.vms] == [shut_off_vm]
    finally:
        dialog.reject()


def _drop(tree, index, mime) -> bool:
    """A drag arriving over the row (enter, move) and let go there, as Qt delivers it;
    whether the tree took it. Over a host that takes the VMs, its row is outlined."""
    rect = tree.visualRect(index)
    pos = QPoint(rect.center().x(), rect.center().y())
    args = (pos, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(tree.viewport(), QDragEnterEvent(*args))
    move = QDragMoveEvent(*args)
    QApplication.sendEvent(tree.viewport(), move)
    outlined = tree.vm_drag._outline.isVisible()
    assert outlined == move.isAccepted()
    event = QDropEvent(*args)
    QApplication.sendEvent(tree.viewport(), event)
    return event.isAccepted()


def _rows(view, parent=None):
    from PySide6.QtCore import QModelIndex
    model = view.model()
    parent = parent if parent is not None else QModelIndex()
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index
        yield from _rows(view, index)
