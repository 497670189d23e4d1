"""The delete dialog: says which VMs go, from which server, what happens to each (a
running one is forced off), keeps the disks unless the user ticks the box; Enter cancels."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.commands import DeleteTarget
from connectors.libvirt.model import DiskInfo, VMInfo, VMState
from widgets.dialogs.delete_vm import DeleteVMDialog


def _vm(name, state=VMState.SHUTOFF, **changes):
    vm = VMInfo(key=name, name=name, state=state, state_reason="",
                domain_type="kvm", os_type="hvm", arch="x86_64", virtualization="KVM",
                vcpus=1, max_vcpus=1, memory_kib=1024, max_memory_kib=1024,
                persistent=True, autostart=False, managed_save=False,
                disks=(DiskInfo("vda", "disk", "virtio", f"/img/{name}.qcow2"),
                       DiskInfo("sda", "cdrom", "sata", "/iso/d.iso")))
    return replace(vm, **changes)


def _dialog(qtbot, targets):
    dialog = DeleteVMDialog(targets)
    qtbot.addWidget(dialog)
    return dialog


def test_delete_dialog_lists_disks_and_defaults_to_keeping_them(qtbot):
    dialog = _dialog(qtbot, [DeleteTarget(_vm("a"), "kvm1"), DeleteTarget(_vm("b"), "kvm1")])
    assert dialog.windowTitle() == "Delete 2 VMs"
    assert dialog.delete_button.text() == "Delete 2 VMs"
    assert dialog.intro.text() == ("Delete these 2 VMs on kvm1? Their definitions are "
                                   "removed from the server.")
    assert dialog.warning.isHidden(), "nothing runs: nothing to warn about"
    assert [dialog.list.headerItem().text(c) for c in range(4)] == [
        "VM", "Server", "State", "What happens"]
    assert dialog.rows() == [
        ["a", "kvm1", "Shut off", "will be deleted"],
        ["vda", "", "", "kept: /img/a.qcow2"],          # the CD image is not listed
        ["b", "kvm1", "Shut off", "will be deleted"],
        ["vda", "", "", "kept: /img/b.qcow2"]]
    assert dialog.storage.text() == "Also delete these VMs' disk images (cannot be undone)"
    assert not dialog.delete_button.isDefault() and dialog.cancel_button.isDefault()
    assert dialog.choice().delete_storage is False
    dialog.storage.setChecked(True)
    assert dialog.rows()[1][3] == "deleted if in a storage pool: /img/a.qcow2"
    dialog.delete_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.choice().delete_storage is True


def test_one_running_vm_is_called_by_its_name_and_said_to_be_forced_off(qtbot):
    dialog = _dialog(qtbot, [DeleteTarget(_vm("k8s-worker-1", VMState.RUNNING), "kvm1")])
    assert dialog.windowTitle() == "Delete VM" and dialog.delete_button.text() == "Delete VM"
    assert dialog.intro.text() == (
        "Delete the VM k8s-worker-1 on kvm1? Its definition is removed from the server.")
    assert dialog.warning.text() == (
        "k8s-worker-1 is running: it will be forced off first, like pulling the power "
        "cord, and what the guest has not saved is lost.")
    assert not dialog.warning.isHidden()
    assert dialog.rows()[0] == ["k8s-worker-1", "kvm1", "Running",
                                "will be forced off, then deleted"]
    assert dialog.storage.text() == "Also delete this VM's disk images (cannot be undone)"
    assert "these" not in dialog.intro.text()


def test_vms_of_several_servers_say_where_each_one_is(qtbot):
    targets = [DeleteTarget(_vm("web", VMState.RUNNING), "kvm1"),
               DeleteTarget(_vm("web", VMState.PAUSED, key="web-2"), "kvm2"),
               DeleteTarget(_vm("old", VMState.SUSPENDED, managed_save=True), "kvm2"),
               DeleteTarget(_vm("tmp", VMState.RUNNING, persistent=False), "kvm2")]
    dialog = _dialog(qtbot, targets)
    assert dialog.intro.text() == (
        "Delete these 4 VMs on 2 servers? Their definitions are removed from their "
        "servers.")
    assert dialog.warning.text() == (
        "3 of them are paused or running: they will be forced off first, like pulling the "
        "power cord, and what the guests have not saved is lost.")
    vms = [row for row in dialog.rows() if row[1]]
    assert vms == [
        ["web", "kvm1", "Running", "will be forced off, then deleted"],
        ["web", "kvm2", "Paused", "will be forced off, then deleted"],
        ["old", "kvm2", "Suspended", "its saved memory is discarded, then it is deleted"],
        ["tmp", "kvm2", "Running", "will be forced off (a transient VM is then gone)"]]


def test_enter_and_escape_cancel(qtbot):
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        dialog = _dialog(qtbot, [DeleteTarget(_vm("a", VMState.RUNNING), "kvm1")])
        dialog.show()
        qtbot.waitExposed(dialog)
        qtbot.keyClick(dialog.cancel_button, key)
        assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()
