"""The delete dialog: lists what goes, keeps the disks unless the user ticks the box."""
from __future__ import annotations

from PySide6.QtWidgets import QDialog

from connectors.libvirt.model import DiskInfo, VMInfo, VMState
from widgets.dialogs.delete_vm import DeleteVMDialog


def _vm(name):
    return VMInfo(key=name, name=name, state=VMState.SHUTOFF, state_reason="",
                  domain_type="kvm", os_type="hvm", arch="x86_64", virtualization="KVM",
                  vcpus=1, max_vcpus=1, memory_kib=1024, max_memory_kib=1024,
                  persistent=True, autostart=False, managed_save=False,
                  disks=(DiskInfo("vda", "disk", "virtio", f"/img/{name}.qcow2"),
                         DiskInfo("sda", "cdrom", "sata", "/iso/d.iso")))


def test_delete_dialog_lists_disks_and_defaults_to_keeping_them(qtbot):
    dialog = DeleteVMDialog([_vm("a"), _vm("b")])
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "Delete 2 VMs"
    first = dialog.list.topLevelItem(0)
    assert first.text(0) == "a" and first.childCount() == 1  # the CD image is not listed
    assert first.child(0).text(1) == "/img/a.qcow2"
    assert not dialog.delete_button.isDefault()
    assert dialog.choice().delete_storage is False
    dialog.storage.setChecked(True)
    dialog.delete_button.click()
    assert dialog.result() == QDialog.Accepted
    assert dialog.choice().delete_storage is True
