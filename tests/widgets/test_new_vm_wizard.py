"""The New VM wizard page by page: what each page refuses and says, what Next allows,
what Create does. The host is a stand-in answering as a real one would
(tests/widgets/new_vm_helpers.py: no libvirtd in widget tests); the OS database, the
ISO reading and the HTTP tree (a server on 127.0.0.1) are the real ones."""
from __future__ import annotations

import functools
import http.server
import threading

import pytest
from PySide6.QtWidgets import QWizard

from app.new_vm.session import NewVmSession
from app.tasks import TaskManager, TaskState
from connectors.libvirt.create_ops import Source
from tests.conftest import wait_until
from tests.widgets.new_vm_helpers import BARE, FakeHost, iso_bytes, kvm_facts, xen_facts
from widgets.dialogs.new_vm import NewVmWizard

NEXT = QWizard.WizardButton.NextButton
FINISH = QWizard.WizardButton.FinishButton


def _open(qtbot, aloop, facts=None, **host_options):
    # The wizard may be the only window: closing it must not end the test's loop.
    aloop_app = qtbot_app()
    aloop_app.setQuitOnLastWindowClosed(False)
    host = FakeHost(facts or kvm_facts(), **host_options)
    tasks = TaskManager()
    session = NewVmSession(host, tasks, "kvm1")
    wizard = NewVmWizard(session, taken=lambda: {"db-01"})
    qtbot.addWidget(wizard)
    wizard.show()
    aloop.run_until_complete(wizard.load_task)
    return wizard, host, tasks


def qtbot_app():
    from PySide6.QtWidgets import QApplication
    return QApplication.instance()


def _settle(aloop, wizard, seconds: float = 5.0):
    """Until the chosen image or tree was looked at and the page re-checked."""
    aloop.run_until_complete(wait_until(lambda: not wizard.plan.checking, seconds))
    aloop.run_until_complete(wait_until(lambda: not wizard.source_page._media_timer.isActive()
                                        and not wizard.plan.checking, seconds))
    aloop.run_until_complete(wait_until(
        lambda: all(t.done() for t in wizard.pending), seconds))
    aloop.run_until_complete(_pause(0.05))


async def _pause(seconds):
    import asyncio
    await asyncio.sleep(seconds)


def _problem(wizard) -> str:
    return wizard.currentPage().problem.text()


def _next_enabled(wizard) -> bool:
    return wizard.button(NEXT).isEnabled()


@pytest.fixture
def disc(tmp_path):
    def make(volume_id="Debian 11.0.0 amd64 n", bootable=True, name="disc.iso"):
        path = tmp_path / name
        path.write_bytes(iso_bytes(volume_id, bootable))
        return str(path)
    return make


def _pick_local(wizard, path, picker="iso", pool="default"):
    page = wizard.source_page
    picker = getattr(page, picker)
    picker.here.setChecked(True)
    picker.path.setText(path)
    picker.pool.setCurrentIndex(picker.pool.findData(pool))


# ---- Source ----

def test_an_iso_here_is_recognised_as_debian_and_next_is_allowed(qtbot, aloop, disc):
    wizard, _host, _tasks = _open(qtbot, aloop)
    _pick_local(wizard, disc())
    _settle(aloop, wizard)
    assert "Debian 11.0.0 amd64 n" in wizard.source_page.detected.text()
    assert "detected: Debian 11" in wizard.source_page.detected.text()
    assert _problem(wizard) == "" and _next_enabled(wizard)


def test_an_iso_in_a_pool_is_read_through_the_connection(qtbot, aloop, disc):
    wizard, host, _tasks = _open(qtbot, aloop)
    host.heads[("default", "debian-11.iso")] = iso_bytes("Debian 11.6.0 amd64 n")
    picker = wizard.source_page.iso
    assert picker.volume.currentText().startswith("default / debian-11.iso")
    wizard.source_page.changed()
    _settle(aloop, wizard)
    assert wizard.plan.os is not None and wizard.plan.os.short_id == "debian11"
    assert _next_enabled(wizard)


def test_a_file_that_is_no_iso_or_no_boot_disc_or_missing_is_refused_in_words(
        qtbot, aloop, disc, tmp_path):
    wizard, _host, _tasks = _open(qtbot, aloop)
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"not a disc" * 10000)
    _pick_local(wizard, str(junk))
    _settle(aloop, wizard)
    assert "is not an ISO 9660 image" in _problem(wizard) and not _next_enabled(wizard)

    _pick_local(wizard, disc("cidata", bootable=False, name="seed.iso"))
    _settle(aloop, wizard)
    assert "not bootable" in _problem(wizard) and not _next_enabled(wizard)

    _pick_local(wizard, str(tmp_path / "gone.iso"))
    _settle(aloop, wizard)
    assert _problem(wizard).startswith("Cannot read") and not _next_enabled(wizard)


def test_a_pool_too_small_for_the_upload_is_refused(qtbot, aloop, disc, tmp_path):
    wizard, _host, _tasks = _open(qtbot, aloop)
    big = tmp_path / "big.iso"
    big.write_bytes(iso_bytes("Debian 11.0.0 amd64 n") + bytes(6 << 20))
    _pick_local(wizard, str(big), pool="tiny")
    _settle(aloop, wizard)
    assert _problem(wizard) == ("The storage pool tiny has 4 MiB free; the ISO needs "
                                "6 MiB.")
    assert not _next_enabled(wizard)


@pytest.fixture
def tree(tmp_path):
    """A Debian-style install tree on an HTTP server on 127.0.0.1."""
    root = tmp_path / "www"
    images = root / "debian/dists/bullseye/main/installer-amd64/current/images/netboot"
    (images / "debian-installer/amd64").mkdir(parents=True)
    (images / "debian-installer/amd64/linux").write_bytes(b"kernel")
    (images / "debian-installer/amd64/initrd.gz").write_bytes(b"initrd")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_network_install_tree_is_found_and_a_404_is_said(qtbot, aloop, tree):
    wizard, _host, _tasks = _open(qtbot, aloop)
    page = wizard.source_page
    page.radios[Source.URL].setChecked(True)
    page.url.setText(f"{tree}/debian/dists/bullseye/main/installer-amd64/")
    _settle(aloop, wizard, 20)
    assert "detected: Debian 11" in page.detected.text()
    assert _next_enabled(wizard)

    page.url.setText(f"{tree}/nothing/here/")
    _settle(aloop, wizard, 30)
    assert "is not an install tree HVConsole knows" in _problem(wizard)
    assert "HTTP 404" in _problem(wizard) and not _next_enabled(wizard)


def test_cloud_init_settings_are_checked(qtbot, aloop):
    wizard, _host, _tasks = _open(qtbot, aloop)
    page = wizard.source_page
    page.radios[Source.CLOUD].setChecked(True)
    page.cloud.volume.setCurrentIndex(page.cloud.volume.findText("default / base.qcow2",
                                                                 flags=_starts()))
    page.cloud_user.setText("Alice")
    _settle(aloop, wizard)
    assert "user name must start with a lower-case letter" in _problem(wizard)
    page.cloud_user.setText("alice")
    _settle(aloop, wizard)
    assert _problem(wizard) == "Give the user a password or an SSH public key, or nobody " \
                               "can log in."
    page.cloud_key.setPlainText("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 alice@laptop")
    _settle(aloop, wizard)
    assert _problem(wizard) == "" and _next_enabled(wizard)


def _starts():
    from PySide6.QtCore import Qt
    return Qt.MatchFlag.MatchStartsWith


def test_a_xen_host_offers_pv_from_a_kernel_and_says_why_not_the_rest(qtbot, aloop):
    wizard, _host, _tasks = _open(qtbot, aloop, xen_facts())
    page = wizard.source_page
    assert page.radios[Source.KERNEL].isEnabled() and page.radios[Source.KERNEL].isChecked()
    assert not page.radios[Source.ISO].isEnabled()
    assert "cannot run HVM guests" in page.radios[Source.ISO].toolTip()
    assert page.reasons[Source.ISO].isVisibleTo(page)
    assert "network installs and cloud images are offered for KVM" in \
        page.radios[Source.URL].toolTip()
    page.kernel_path.setText("vmlinuz")
    _settle(aloop, wizard)
    assert _problem(wizard) == "Give the kernel's full path on the host."
    page.kernel_path.setText("/root/guest/vmlinuz")
    page.initrd_path.setText("/root/guest/initrd.gz")
    _settle(aloop, wizard)
    assert _next_enabled(wizard)
    wizard.next()                                            # OS
    wizard.os_page.choose("linux2022")
    wizard.next()                                            # Resources: PV only
    res = wizard.resources_page
    assert res.hypervisor.currentText() == "Xen paravirtualized (PV)"
    assert not res.firmware.isVisibleTo(res) and not res.tpm.isVisibleTo(res)


# ---- Operating system ----

def _to_os_page(qtbot, aloop, disc):
    wizard, host, tasks = _open(qtbot, aloop)
    _pick_local(wizard, disc())
    _settle(aloop, wizard)
    wizard.next()
    return wizard, host, tasks


def test_the_os_page_shows_what_was_detected_and_searches_the_rest(qtbot, aloop, disc):
    wizard, _host, _tasks = _to_os_page(qtbot, aloop, disc)
    page = wizard.os_page
    assert "Detected from the disc: <b>Debian 11</b>" in page.detected.text()
    assert page.list.currentItem().text() == "Debian 11"
    page.search.setText("fedora 36")
    names = [page.list.item(i).text() for i in range(page.list.count())]
    assert "Fedora Linux 36" in names and all("Fedora" in n and "36" in n for n in names)
    page.search.setText("zzz no such os")
    assert page.list.count() == 0
    page.search.clear()
    assert page.choose("win11") and wizard.plan.os.short_id == "win11"
    wizard.next()
    res = wizard.resources_page     # Windows 11's defaults: UEFI and a TPM
    assert res.firmware.currentData() == "efi" and res.tpm.isChecked()


# ---- Resources ----

def _to_resources(qtbot, aloop, disc, facts=None):
    wizard, host, tasks = _open(qtbot, aloop, facts)
    _pick_local(wizard, disc())
    _settle(aloop, wizard)
    wizard.next()
    wizard.next()
    return wizard


def test_memory_above_the_hosts_is_refused_and_above_its_free_memory_too(qtbot, aloop, disc):
    wizard = _to_resources(qtbot, aloop, disc)
    page = wizard.resources_page
    assert page.memory.value() == 1024                     # Debian 11's recommendation
    assert "This host has 16 GiB, 8 GiB free now." == page.memory_note.text()
    page.memory.setValue(20 * 1024)
    _settle(aloop, wizard)
    assert _problem(wizard) == ("This host has 16 GiB of memory in all; the VM cannot "
                                "have 20 GiB.")
    assert not _next_enabled(wizard)
    page.memory.setValue(12 * 1024)
    _settle(aloop, wizard)
    assert _problem(wizard) == "This host has 8 GiB free now; a VM with 12 GiB would not start."
    page.memory.setValue(2048)
    _settle(aloop, wizard)
    assert _problem(wizard) == "" and _next_enabled(wizard)


def test_vcpus_topology_and_the_hosts_limit(qtbot, aloop, disc):
    wizard = _to_resources(qtbot, aloop, disc)
    page = wizard.resources_page
    page.vcpus.setValue(4)
    assert (page.sockets.value(), page.cores.value(), page.threads.value()) == (1, 4, 1)
    page.sockets.setValue(3)
    _settle(aloop, wizard)
    assert _problem(wizard) == "3 sockets × 4 cores × 1 threads is not 4 vCPUs."
    page.vcpus.setValue(400)
    page.sockets.setValue(1)
    page.cores.setValue(400)
    _settle(aloop, wizard)
    assert _problem(wizard) == ("KVM runs at most 288 vCPUs on this machine type; 400 "
                                "asked.")


def test_the_hypervisor_and_cpu_model_choices(qtbot, aloop, disc):
    wizard = _to_resources(qtbot, aloop, disc)
    page = wizard.resources_page
    assert page.hypervisor.currentData() == "kvm:hvm"
    assert page.cpu.currentData() == "host-passthrough"
    page.hypervisor.setCurrentIndex(page.hypervisor.findData("qemu:hvm"))
    page.cpu.setCurrentIndex(page.cpu.findData("default"))
    _settle(aloop, wizard)
    assert (wizard.plan.domain_type, wizard.plan.cpu_mode) == ("qemu", "default")
    assert wizard.plan.to_spec().domain_type == "qemu"


def test_uefi_secure_boot_and_tpm_follow_the_host(qtbot, aloop, disc):
    wizard = _to_resources(qtbot, aloop, disc)
    page = wizard.resources_page
    assert page.firmware.currentData() == "bios"          # Debian installs on BIOS
    page.firmware.setCurrentIndex(page.firmware.findData("efi"))
    assert page.secure_boot.isEnabled() and page.tpm.isEnabled()
    page.secure_boot.setChecked(True)
    page.tpm.setChecked(True)
    _settle(aloop, wizard)
    assert _next_enabled(wizard)
    plan = wizard.plan
    assert (plan.firmware, plan.secure_boot, plan.tpm) == ("efi", True, True)

    bare = _to_resources(qtbot, aloop, disc, kvm_facts(BARE))
    page = bare.resources_page
    uefi = page.firmware.model().item(page.firmware.findData("efi"))
    assert not uefi.isEnabled() and "install OVMF there" in uefi.toolTip()
    assert not page.tpm.isEnabled() and "install swtpm there" in page.tpm.toolTip()


# ---- Storage, network, display ----

def _to_hardware(qtbot, aloop, disc, **host_options):
    wizard = _to_resources(qtbot, aloop, disc)
    wizard.next()
    return wizard


def test_storage_network_and_display_refusals(qtbot, aloop, disc):
    wizard = _to_hardware(qtbot, aloop, disc)
    page = wizard.hardware_page
    assert page.disk_size.value() == 20 and page.disk_pool.currentData() == "default"
    off = page.disk_pool.model().item(page.disk_pool.findData("off"))
    assert not off.isEnabled() and off.toolTip() == "The pool off is inactive."
    assert page.net_kind.currentData() == "network"
    assert page.net_name.currentData() == "default"
    page.net_name.setCurrentIndex(page.net_name.findData("isolated"))
    _settle(aloop, wizard)
    assert _problem(wizard) == ("The virtual network isolated is not active: start it, "
                                "or choose another.")
    page.net_kind.setCurrentIndex(page.net_kind.findData("bridge"))
    page.net_name.setEditText("")
    _settle(aloop, wizard)
    assert _problem(wizard) == "Type the name of the host's bridge (e.g. br0)."
    page.net_name.setEditText("br0")
    page.password.setText("123456789")
    _settle(aloop, wizard)
    assert _problem(wizard) == "A VNC password has at most 8 characters (VNC uses only those)."
    page.password.setText("secret")
    page.disk_size.setValue(0)
    _settle(aloop, wizard)
    assert _problem(wizard) == "The new disk needs at least 1 GiB."
    page.disk.setChecked(False)
    _settle(aloop, wizard)
    assert _problem(wizard) == "" and _next_enabled(wizard)


def test_spice_is_disabled_with_the_reason_where_the_host_has_none(qtbot, aloop, disc):
    wizard = _to_resources(qtbot, aloop, disc, kvm_facts(BARE))
    wizard.next()
    page = wizard.hardware_page
    spice = page.graphics.model().item(page.graphics.findData("spice"))
    assert not spice.isEnabled() and spice.toolTip() == "KVM has no SPICE display."


# ---- Summary and Create ----

def _to_summary(qtbot, aloop, disc, **host_options):
    wizard, host, tasks = _open(qtbot, aloop, None, **host_options)
    _pick_local(wizard, disc())
    _settle(aloop, wizard)
    for _ in range(4):
        wizard.next()
    return wizard, host, tasks


def test_the_name_is_checked_for_clashes_and_show_xml_shows_the_definition(qtbot, aloop, disc):
    wizard, _host, _tasks = _to_summary(qtbot, aloop, disc)
    page = wizard.summary_page
    assert page.name.text() == "debian11"
    assert "Debian 11" in page.summary.text() and "new 20 GiB qcow2 in default" in \
        page.summary.text()
    page.name.setText("web-01")
    _settle(aloop, wizard)
    assert _problem(wizard) == "A VM named web-01 already exists on this host."
    assert not wizard.button(FINISH).isEnabled()
    page.name.setText("db-01")            # in the tree now, though not in the facts
    _settle(aloop, wizard)
    assert _problem(wizard) == "A VM named db-01 already exists on this host."
    page.name.setText("bad/name")
    _settle(aloop, wizard)
    assert _problem(wizard).startswith("A name starts with a letter or digit")
    page.name.setText("deb-test")
    _settle(aloop, wizard)
    assert wizard.button(FINISH).isEnabled()
    xml = page.open_xml().findChild(type(page.open_xml().children()[0]), "xml")
    text = page.xml_text()
    assert "<name>deb-test</name>" in text
    assert "/var/lib/libvirt/images/deb-test.qcow2" in text
    assert "/var/lib/libvirt/images/disc.iso" in text and "device=\"cdrom\"" in text \
        or "device='cdrom'" in text
    assert "http://debian.org/debian/11" in text
    del xml


def test_create_shows_progress_and_closes_with_the_new_vm(qtbot, aloop, disc):
    wizard, host, tasks = _to_summary(qtbot, aloop, disc)
    made = []
    wizard.created.connect(lambda key, console: made.append((key, console)))
    wizard.summary_page.name.setText("deb-test")
    _settle(aloop, wizard)
    wizard.button(FINISH).click()
    assert wizard.summary_page.bar.isVisible()
    aloop.run_until_complete(wait_until(lambda: made, 10))
    assert made == [("0b9c7a3e-0000-4000-8000-000000000001", True)]
    spec = host.created[0]
    assert spec.name == "deb-test" and spec.start and spec.iso.path.endswith("disc.iso")
    assert not wizard.isVisible()


def test_a_failed_creation_says_why_and_the_wizard_stays(qtbot, aloop, disc):
    wizard, _host, _tasks = _to_summary(qtbot, aloop, disc,
                                        fail="The storage pool default is full.")
    wizard.button(FINISH).click()
    aloop.run_until_complete(wait_until(lambda: not wizard.creating, 10))
    assert wizard.isVisible()
    assert _problem(wizard) == "The storage pool default is full."
    assert wizard.button(FINISH).isEnabled()


def test_cancel_while_creating_stops_before_the_vm_is_defined(qtbot, aloop, disc):
    wizard, host, tasks = _to_summary(qtbot, aloop, disc)
    host.gate.clear()
    wizard.button(FINISH).click()
    task = wizard.session.task
    aloop.run_until_complete(_pause(0.1))
    wizard.reject()                        # the Cancel button
    host.gate.set()
    aloop.run_until_complete(wait_until(lambda: task.done, 10))
    assert task.state is TaskState.CANCELLED
    assert host.created == []
    assert "cancelled; nothing was left behind" in _problem(wizard)
    assert wizard.isVisible()
