"""Each Properties page as a user sees it: what it refuses (the sentence on the page, and
the dialog's OK and Apply greyed with it as their tooltip) and the Now / After shutdown
marks beside its fields while the VM runs (none while it is shut off).

The sessions are over libvirt's own document of a domain with many device kinds
(tests/properties_fixtures.py); what libvirtd would add is written there by hand. The
pages change real VMs in tests/integration/test_properties_*.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.properties.changes import When, plan
from app.properties.session import DiskChoice, EditSession, NewVolume
from connectors.libvirt.nodedev import UsbDevice
from tests.properties_fixtures import CAPS, GIB, RICH, data, session
from widgets.dialogs.properties.base import LATER_TEXT, NOW_TEXT
from widgets.dialogs.properties.boot import FIRMWARE_RUNNING, BootPage
from widgets.dialogs.properties.cdrom import NO_ISOS, CdromPage
from widgets.dialogs.properties.cpu import CpuPage
from widgets.dialogs.properties.dialog import PropertiesDialog
from widgets.dialogs.properties.disks import DisksPage
from widgets.dialogs.properties.display import DisplayPage
from widgets.dialogs.properties.general import RENAME_RUNNING, GeneralPage
from widgets.dialogs.properties.memory import MemoryPage
from widgets.dialogs.properties.network import NetworkPage
from widgets.dialogs.properties.rng import RngPage
from widgets.dialogs.properties.serial import SerialPage
from widgets.dialogs.properties.tpm import TpmPage
from widgets.dialogs.properties.usb import NO_USB, UsbPage
from widgets.dialogs.properties.xml import XmlPage

NOW, LATER = When.NOW, When.AFTER_SHUTDOWN


@dataclass
class Answers:
    """Scripted answers to the pages' questions (a human answers them in dialogs)."""

    remove: bool = True
    delete_volume: bool = False
    shrink: bool = False
    disks: list = field(default_factory=list)
    asked: list = field(default_factory=list)

    def confirm_removal(self, label, volume):
        self.asked.append(("remove", label, volume))
        return self.remove, self.delete_volume

    def confirm_shrink(self, target, old, new):
        self.asked.append(("shrink", target, old, new))
        return self.shrink

    def choose_new_disk(self, s):
        return self.disks.pop(0) if self.disks else None

    def confirm_changes(self, name, changes, running):
        return True


def page(cls, *, running=False, answers=None, **kwargs):
    s = session(running=running, **kwargs)
    shown = cls(s, answers or Answers())
    shown.resize(700, 500)
    shown.show()
    return shown


def marks(shown) -> dict[str, When | None]:
    return {name: label.when for name, label in shown.marks().items()}


def test_general_refuses_a_name_libvirt_would_not_take(qapp):
    general = page(GeneralPage)
    for name, problem in (("", "A VM needs a name."),
                          ("a/b", "A VM's name cannot contain “/”."),
                          ("web-01", "Another VM on this host is already called web-01."),
                          (" x", "A VM's name cannot begin or end with a space.")):
        general.name_edit.textEdited.emit(name)
        general.name_edit.setText(name)
        general.show_problems()
        assert general.problem_label.isVisible() and general.problem_label.text() == problem
    general.name_edit.setText("rich-2")
    general.name_edit.textEdited.emit("rich-2")
    assert not general.problem_label.isVisible()
    assert general.session.edited.name == "rich-2"


def test_general_says_a_running_vm_keeps_its_name_and_marks_its_fields(qapp):
    general = page(GeneralPage, running=True)
    assert not general.name_edit.isEnabled()
    assert general.name_edit.toolTip() == RENAME_RUNNING
    assert marks(general) == {"title": NOW, "description": NOW, "autostart": NOW,
                              "os": NOW}
    assert general.marks()["title"].text().endswith(f"{NOW_TEXT}</span>")
    off = page(GeneralPage)
    assert all(label.isHidden() for label in off.marks().values())


def test_cpu_refuses_more_vcpus_now_than_at_most_and_a_topology_that_does_not_add_up(qapp):
    cpu = page(CpuPage, running=True)
    assert marks(cpu) == {"vcpus": NOW, "max_vcpus": LATER, "topology": LATER,
                          "cpu_mode": LATER}
    assert cpu.topology_check.isChecked()          # the domain's 1 × 2 × 2
    cpu.vcpus_spin.setValue(5)
    assert cpu.problem_label.text() == "5 vCPUs now is more than the 4 at most."
    cpu.vcpus_spin.setValue(4)
    cpu.cores.setValue(3)
    assert cpu.problem_label.text() == ("Sockets × cores × threads is 6; it must equal the "
                                        "vCPUs at most (4).")
    cpu.cores.setValue(2)
    assert not cpu.problem_label.isVisible()
    cpu.max_spin.setValue(6)
    assert marks(cpu)["vcpus"] is NOW                 # 4 of the running VM's 4
    cpu.vcpus_spin.setValue(6)
    assert marks(cpu)["vcpus"] is LATER               # more than the running VM has


def test_cpu_greys_out_a_mode_the_hypervisor_lacks_with_its_reason(qapp):
    cpu = page(CpuPage)
    index = cpu.mode_combo.findData("host-passthrough")
    item = cpu.mode_combo.model().item(index)
    assert not item.isEnabled()
    assert "needs KVM" in cpu.mode_combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert cpu.mode_combo.currentData() == "custom:qemu64"


def test_memory_refuses_a_current_allocation_above_the_most(qapp):
    memory = page(MemoryPage, running=True)
    assert marks(memory) == {"memory": LATER, "current_memory": NOW, "balloon": LATER}
    memory.current_spin.setValue(1024)
    assert memory.problem_label.text() == ("The current allocation (1024 MiB) is more than "
                                           "the memory at most (512 MiB).")
    memory.current_spin.setValue(256)
    assert not memory.problem_label.isVisible()
    assert memory.session.edited.current_memory_kib == 256 * 1024
    memory.balloon_check.setChecked(False)
    assert marks(memory)["current_memory"] is NOW    # the running VM still has one


def test_boot_offers_the_firmware_only_while_shut_off_and_needs_a_kernel_path(qapp):
    boot = page(BootPage, running=True)
    assert not boot.firmware_combo.isEnabled()
    assert boot.firmware_combo.toolTip() == FIRMWARE_RUNNING
    assert set(marks(boot).values()) == {LATER}
    off = page(BootPage)
    assert off.firmware_combo.isEnabled()
    labels = [off.order_list.item(i).text() for i in range(off.order_list.count())]
    assert labels[:2] == ["Disk vda", "Network interface 52:54:00:aa:bb:01 on network "
                                      "default"]
    off.kernel_check.setChecked(True)
    assert off.problem_label.text() == "Direct kernel boot needs the kernel's path on the host."
    off.kernel_edit.setText("/boot/vmlinuz")
    off.kernel_edit.textEdited.emit("/boot/vmlinuz")
    assert not off.problem_label.isVisible()


def test_disks_never_shrink_without_the_second_yes(qapp):
    answers = Answers(shrink=False)
    disks = page(DisksPage, running=True, answers=answers)
    assert marks(disks) == {"disk_resize": NOW, "disk_flags": LATER}
    assert disks.remove_mark.when is NOW             # vda is a virtio disk
    disks.table.selectRow(0)
    disks.unit_combo.setCurrentIndex(disks.unit_combo.findData(GIB))
    disks.size_spin.setValue(4)
    disks.resize_button.click()
    assert answers.asked == [("shrink", "vda", 10 * GIB, 4 * GIB)]
    assert disks.session.resizes == {} and disks.size_spin.value() == 10
    answers.shrink = True
    disks.size_spin.setValue(4)
    disks.resize_button.click()
    assert disks.session.resizes == {"vda": 4 * GIB}
    assert not disks.problem_label.isVisible()
    assert "(was 10 GiB)" in disks.table.item(0, 3).text()


def test_disks_add_a_new_volume_and_remove_with_its_volume_on_request(qapp):
    answers = Answers(delete_volume=True)
    answers.disks.append(DiskChoice("virtio", "none", NewVolume("hvconsole-test",
                                                                "rich.qcow2", GIB), "/pool"))
    disks = page(DisksPage, answers=answers)
    disks.add_button.click()
    assert disks.table.item(disks.table.rowCount() - 1, 2).text() == \
        "new volume hvconsole-test/rich.qcow2"
    disks.table.selectRow(2)                            # vdc, a pool's volume
    disks.remove_button.click()
    assert answers.asked[-1] == ("remove", "disk vdc", "hvconsole-test/rich-data.qcow2")
    assert [c.text for c in plan(disks.session) if c.area == "Disks"][-1].startswith(
        "remove disk vdc and delete its volume")


def test_cdrom_inserts_from_the_pools_and_says_when_there_is_nothing(qapp):
    cd = page(CdromPage, running=True)
    assert marks(cd) == {"cd_media": NOW}
    assert cd.media_label.text() == "empty" and not cd.eject_button.isEnabled()
    cd.insert_button.click()
    assert cd.media_label.text() == "/pool/debian.iso" and cd.eject_button.isEnabled()
    assert [c.summary for c in plan(cd.session)] == [
        "CD/DVD: insert /pool/debian.iso into the CD/DVD drive sda"]
    bare = CdromPage(_session(replace(data(), volumes=())), Answers())
    assert not bare.insert_button.isEnabled() and bare.iso_combo.toolTip() == NO_ISOS


def test_network_refuses_malformed_multicast_and_duplicate_macs(qapp):
    net = page(NetworkPage, running=True)
    assert marks(net) == {"nic_source": NOW, "nic_model": LATER, "nic_mac": LATER,
                          "nic_link": NOW}
    assert net.plug_mark.when is NOW
    for mac, problem in (
            ("52:54:00:zz:00:01", "“52:54:00:zz:00:01” is not a MAC address (six pairs of "
                                  "hex digits separated by colons)."),
            ("53:54:00:00:00:01", "53:54:00:00:00:01 is a multicast address; a NIC needs a "
                                  "unicast one (an even first byte)."),
            ("52:54:00:aa:bb:02", "Two interfaces have the MAC address 52:54:00:aa:bb:02.")):
        net.mac_edit.setText(mac)
        net.mac_edit.textEdited.emit(mac)
        assert problem in net.problem_label.text().split("\n")
    net.mac_edit.setText("52:54:00:aa:bb:09")
    net.mac_edit.textEdited.emit("52:54:00:aa:bb:09")
    assert not net.problem_label.isVisible()
    inactive = net.network_combo.findData("isolated")
    assert not net.network_combo.model().item(inactive).isEnabled()


def test_display_refuses_a_long_vnc_password_and_a_bad_address(qapp):
    display = page(DisplayPage, running=True)
    assert marks(display) == {"graphics": LATER, "graphics_password": NOW, "video": LATER}
    assert display.password_check.isChecked()
    display.password_edit.setText("much-too-long")
    display.password_edit.textEdited.emit("much-too-long")
    assert display.problem_label.text() == ("A VNC password has at most 8 characters; VNC "
                                            "clients would only send the first 8.")
    display.password_edit.setText("short")
    display.password_edit.textEdited.emit("short")
    display.listen_edit.setText("localhost:5900")
    display.listen_edit.textEdited.emit("localhost:5900")
    assert display.problem_label.text() == "“localhost:5900” is not an IP address to " \
                                           "listen on."
    display.listen_edit.setText("0.0.0.0")
    display.listen_edit.textEdited.emit("0.0.0.0")
    assert not display.problem_label.isVisible()
    [password, listen] = plan(display.session)
    assert (password.text, password.when) == ("VNC display: password changed", NOW)
    assert listen.when is LATER


def test_tpm_offers_what_the_host_emulates_and_refuses_a_crb_tpm_1_2(qapp):
    no_swtpm = data(caps=None)
    tpm = TpmPage(_session(no_swtpm), Answers())
    assert tpm.kind_combo.currentData() == "passthrough"   # the domain's /dev/tpm0
    choose(tpm.kind_combo, "1.2")
    choose(tpm.model_combo, "tpm-crb")
    assert tpm.problem_label.text() == ("A TPM 1.2 needs the tpm-tis model (tpm-crb is "
                                        "TPM 2.0 only).")
    lacking = TpmPage(_session(data(caps=replace(CAPS, tpm_backends=("passthrough",)))),
                      Answers())
    index = lacking.kind_combo.findData("2.0")
    assert not lacking.kind_combo.model().item(index).isEnabled()
    assert "install swtpm" in lacking.kind_combo.itemData(index,
                                                          Qt.ItemDataRole.ToolTipRole)


def test_rng_is_added_now_on_a_running_vm(qapp):
    rng = page(RngPage, running=True, xml=_without("<rng"))
    assert marks(rng) == {"rng": NOW}
    rng.present_check.setChecked(True)
    [change] = plan(rng.session)
    assert change.summary.startswith("RNG: add random number generator") and \
        change.when is NOW


def test_serial_ports_are_added_for_the_next_start(qapp):
    serial = page(SerialPage, running=True)
    assert serial.plug_mark.when is LATER
    assert serial.plug_mark.text().endswith(f"{LATER_TEXT}</span>")
    serial.add_button.click()
    assert serial.port_list.count() == 3
    [change] = plan(serial.session)
    assert change.summary == "Serial: add serial port 1 (pty)" and change.when is LATER


def test_usb_lists_the_hosts_devices_and_says_when_there_are_none(qapp):
    bare = page(UsbPage, running=True)
    assert bare.plug_mark.when is NOW
    assert not bare.attach_button.isEnabled() and bare.attach_button.toolTip() == NO_USB
    token = UsbDevice("usb_1_4", 0x1234, 0x5678, "HVConsole Labs", "Test Token", 1, 4)
    usb = page(UsbPage, running=True, usb=(token,))
    usb.host_list.setCurrentRow(0)
    usb.attach_button.click()
    assert usb.attached_list.count() == 2
    [change] = plan(usb.session)
    assert change.summary == "USB: add USB device 1234:5678" and change.when is NOW
    usb.attach_button.click()
    assert usb.problem_label.text() == ("The USB device 1234:5678 is given to this VM "
                                        "twice.")


def test_the_xml_page_locks_the_others_and_points_at_the_faulty_line(qapp):
    dialog = PropertiesDialog(data(running=True), None, Answers())
    dialog.show()
    xml = dialog.page(XmlPage)
    assert xml.marks()["xml"].when is LATER
    xml.editor.setPlainText(xml.editor.toPlainText().replace("destroy</on_crash>",
                                                             "restart</on_crash>"))
    assert dialog.lock_label.isVisible()
    assert not dialog.page(GeneralPage).isEnabled() and xml.isEnabled()
    xml.show_error("The domain XML is not well-formed: mismatched tag: line 7, column 4",
                   (7, 4))
    assert xml.error_label.text().startswith("The domain XML is not well-formed")
    assert xml.error_line() == 7 and xml.editor.textCursor().blockNumber() == 6
    xml.revert_button.click()
    assert not dialog.lock_label.isVisible() and dialog.page(GeneralPage).isEnabled()
    assert xml.editor.toPlainText() == dialog.session.edited.to_xml()


def test_ok_and_apply_are_greyed_while_a_page_refuses_its_input(qapp):
    dialog = PropertiesDialog(data(running=False), _NoHost(), Answers())
    dialog.show()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    apply = dialog.buttons.button(QDialogButtonBox.StandardButton.Apply)
    assert ok.isEnabled() and apply.isEnabled()
    memory = dialog.page(MemoryPage)
    memory.current_spin.setValue(4096)
    assert not ok.isEnabled() and not apply.isEnabled()
    assert apply.toolTip().startswith("The current allocation (4096 MiB)")
    memory.current_spin.setValue(128)
    assert ok.isEnabled() and apply.isEnabled()


class _NoHost:
    """A host this test never reaches: only the buttons' state is looked at."""

    def run(self, job, failed, *, timeout_s=None):
        raise AssertionError("nothing is applied in this test")


def _session(d):
    return EditSession(d)


def _without(tag: str) -> str:
    start = RICH.index(f"    {tag}")
    end = RICH.index("</rng>\n", start) + len("</rng>\n")
    return RICH[:start] + RICH[end:]


def choose(combo, value) -> None:
    index = combo.findData(value)
    assert index >= 0
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
