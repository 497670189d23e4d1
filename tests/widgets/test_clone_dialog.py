"""The Clone dialog: its suggestions and refusals, against a stand-in host
(tests/widgets/new_vm_helpers.py)."""
from __future__ import annotations

from PySide6.QtWidgets import QApplication

from app.new_vm.clone import CloneSession
from app.tasks import TaskManager
from connectors.libvirt.model import DiskInfo, VMInfo, VMState
from tests.widgets.new_vm_helpers import FakeHost, kvm_facts
from widgets.dialogs.clone_vm import CloneDialog


def _vm(name: str, state: VMState = VMState.SHUTOFF) -> VMInfo:
    return VMInfo(key="k-" + name, name=name, state=state, state_reason="", domain_type="kvm",
                  os_type="hvm", arch="x86_64", virtualization="KVM", vcpus=1, max_vcpus=1,
                  memory_kib=1024, max_memory_kib=1024, persistent=True, autostart=False,
                  managed_save=False,
                  disks=(DiskInfo("vda", "disk", "virtio",
                                  "/var/lib/libvirt/images/base.qcow2", "qcow2"),
                         DiskInfo("sda", "cdrom", "sata", "/iso/d.iso", "raw", True)))


def _dialog(qtbot, aloop, vm: VMInfo) -> CloneDialog:
    QApplication.instance().setQuitOnLastWindowClosed(False)
    dialog = CloneDialog(CloneSession(FakeHost(kvm_facts()), TaskManager(), "kvm1", vm))
    qtbot.addWidget(dialog)
    dialog.show()
    aloop.run_until_complete(dialog.load_task)
    return dialog


def test_the_clone_dialog_suggests_a_free_name_and_lists_the_disks_it_copies(qtbot, aloop):
    dialog = _dialog(qtbot, aloop, _vm("db"))
    assert dialog.name.text() == "db-clone"
    assert dialog.disks.text() == "Disks: vda (/var/lib/libvirt/images/base.qcow2)"
    assert dialog.problem.text() == "" and dialog.clone_button.isEnabled()
    dialog.name.setText("web-01")
    assert dialog.problem.text() == "A VM named web-01 already exists on this host."
    assert not dialog.clone_button.isEnabled()
    dialog.name.setText("db-copy")
    dialog.pool.setCurrentIndex(dialog.pool.findData("tiny"))
    assert dialog.problem.text() == ("The storage pool tiny has too little free space for "
                                     "copies of the disks.")
    dialog.linked.setChecked(True)              # an overlay needs no room for a copy
    assert dialog.clone_button.isEnabled()


def test_a_running_vm_is_not_cloned(qtbot, aloop):
    dialog = _dialog(qtbot, aloop, _vm("web", VMState.RUNNING))
    assert dialog.problem.text() == ("web is running: shut it down first, so its disks do "
                                     "not change while they are copied.")
    assert not dialog.clone_button.isEnabled()
