"""The New Storage Pool and New Network wizards, page by page, and the volume and DHCP
dialogs: what each page says is wrong, whether Next (or OK) lets the user on, and what
the wizard hands over at the end. No host is needed: the wizards are given the host's
answers (pool type offers, other networks, bridges) as the window would give them."""
from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QWizard

from connectors.libvirt.capabilities import YES, Offer
from connectors.libvirt.model import ActionError, PoolInfo
from connectors.libvirt.net_xml import NetworkSpec, StaticHost, parse_network
from connectors.libvirt.storage_xml import PoolSource, VolumeInfo
from widgets.dialogs.new_network.dhcp import DhcpDialog
from widgets.dialogs.new_network.wizard import NewNetworkWizard
from widgets.dialogs.new_pool.wizard import NewPoolWizard
from tests.conftest import wait_until
from widgets.dialogs.volume import GrowVolumeDialog, NewVolumeDialog

MIB = 1 << 20
NO_DIRECT = Offer(False, "This host's libvirt has no iscsi-direct storage pool backend.")
OFFERS = {"dir": YES, "fs": YES, "netfs": YES, "logical": YES, "iscsi": YES,
          "iscsi-direct": NO_DIRECT}


def until(aloop, predicate) -> None:
    """The wizard's Find runs on the app's asyncio loop: run it until ``predicate``."""
    aloop.run_until_complete(wait_until(predicate, 10))


def next_enabled(wizard: QWizard) -> bool:
    return wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def pool_wizard(qtbot, find=None):
    async def nothing_found(kind, host, port, initiator):
        return []
    wizard = NewPoolWizard("kvm1", OFFERS, {"default"}, find or nothing_found,
                           "iqn.2026-01.org.hvconsole:kvm1")
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def test_pool_types_the_host_lacks_are_greyed_with_its_reason(qtbot):
    wizard = pool_wizard(qtbot)
    page = wizard.type_page
    rows = {page.types.item(r).data(Qt.ItemDataRole.UserRole): page.types.item(r)
            for r in range(page.types.count())}
    direct = rows["iscsi-direct"]
    assert not direct.flags() & Qt.ItemFlag.ItemIsEnabled
    assert direct.text().endswith("not available")
    assert direct.toolTip() == NO_DIRECT.reason
    assert NO_DIRECT.reason in page.reason.text()
    assert rows["dir"].flags() & Qt.ItemFlag.ItemIsEnabled


def test_the_name_page_says_what_is_wrong_until_the_name_is_good(qtbot):
    wizard = pool_wizard(qtbot)
    page = wizard.type_page
    assert not next_enabled(wizard)
    assert page.problem.text() == "The pool needs a name."
    page.name.setText("default")
    assert page.problem.text() == "This host already has a pool named default."
    assert not next_enabled(wizard)
    page.name.setText("my/pool")
    assert "may only hold letters" in page.problem.text()
    page.name.setText("images")
    assert page.problem.text() == "" and next_enabled(wizard)
    qtbot.keyClick(page.name, Qt.Key.Key_Return)
    assert wizard.currentPage() is wizard.source_page, "Enter goes on"


def test_a_directory_pool_needs_an_absolute_path_and_is_built_by_default(qtbot):
    wizard = pool_wizard(qtbot)
    wizard.type_page.name.setText("images")
    wizard.next()
    page = wizard.source_page
    assert page.target.text() == "/var/lib/libvirt/images/images"
    assert not page.host.isVisible() and page.target.isVisible()
    page.target.setText("images")
    assert "absolute path" in page.problem.text() and not next_enabled(wizard)
    page.target.setText("/srv/images")
    assert next_enabled(wizard)
    wizard.next()
    options = wizard.options_page
    assert options.build.isChecked() and "directory" in options.build.text()
    new = wizard.new_pool()
    assert (new.spec.type, new.spec.target_path, new.build, new.overwrite) == \
        ("dir", "/srv/images", True, False)
    assert new.start and new.autostart


def test_a_filesystem_pool_warns_that_formatting_erases_the_device(qtbot):
    wizard = pool_wizard(qtbot)
    wizard.type_page.name.setText("fast")
    wizard.type_page.types.setCurrentRow(1)
    wizard.next()
    page = wizard.source_page
    assert "Name the block device" in page.problem.text()
    page.device.setText("/dev/loop3")
    assert next_enabled(wizard)
    wizard.next()
    build = wizard.options_page.build
    assert "erases everything on it" in build.text() and not build.isChecked()
    assert wizard.new_pool().build is False, "nothing is formatted unless asked"
    build.setChecked(True)
    assert wizard.new_pool().overwrite is True


def test_find_exports_fills_the_list_and_a_missing_server_is_a_sentence(qtbot, aloop):
    """``find`` stands in for the host's findStoragePoolSources: no NFS server can run on
    this machine's kernel (the real refusal is in tests/integration)."""
    asked = []

    async def find(kind, host, port, initiator):
        asked.append((kind, host, port))
        if host == "nas":
            return [PoolSource(host="nas", dir="/export/vms"),
                    PoolSource(host="nas", dir="/export/iso")]
        raise ActionError(f"Could not look for netfs sources on {host}: no answer")

    wizard = pool_wizard(qtbot, find)
    wizard.type_page.name.setText("nas")
    wizard.type_page.types.setCurrentRow(2)
    wizard.next()
    page = wizard.source_page
    assert "Name the server" in page.problem.text()
    page.host.setText("gone")
    qtbot.mouseClick(page.find_button, Qt.MouseButton.LeftButton)
    until(aloop, lambda: "Could not look" in page.found.text())
    page.host.setText("nas")
    qtbot.mouseClick(page.find_button, Qt.MouseButton.LeftButton)
    until(aloop, lambda: page.export.count() == 2)
    assert page.found.text() == "Found 2: nas:/export/vms, nas:/export/iso"
    assert asked[-1] == ("netfs", "nas", 0)
    assert next_enabled(wizard)
    assert wizard.spec().source_dir == "/export/vms"


def test_an_iscsi_target_needs_an_iqn(qtbot):
    wizard = pool_wizard(qtbot)
    wizard.type_page.name.setText("san")
    wizard.type_page.types.setCurrentRow(4)
    wizard.next()
    page = wizard.source_page
    page.host.setText("127.0.0.1")
    page.iqn.setEditText("disks")
    assert "must be an IQN" in page.problem.text() and not next_enabled(wizard)
    page.iqn.setEditText("iqn.2026-01.lan.san:disks")
    assert next_enabled(wizard)


# ---- New Network ----

def network_wizard(qtbot, bridges=("br0",)):
    others = [parse_network(NetworkSpec("default", "nat", ipv4="192.168.122.0/24",
                                        dhcp_start="192.168.122.2",
                                        dhcp_end="192.168.122.254").network_xml()),
              parse_network(NetworkSpec("lab", "nat", ipv4="192.168.100.0/24")
                            .network_xml())]
    wizard = NewNetworkWizard("kvm1", others, list(bridges))
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def test_the_network_name_page_refuses_a_taken_name(qtbot):
    wizard = network_wizard(qtbot)
    page = wizard.name_page
    assert page.problem.text() == "The network needs a name." and not next_enabled(wizard)
    page.name.setText("lab")
    assert page.problem.text() == "This host already has a network named lab."
    page.name.setText("lab2")
    assert next_enabled(wizard)


def test_the_suggested_subnet_is_free_and_an_overlap_is_refused(qtbot):
    wizard = network_wizard(qtbot)
    wizard.name_page.name.setText("lab2")
    wizard.next()
    page = wizard.address_page
    assert page.ipv4.text() == "192.168.101.0/24", "the first /24 no network uses"
    assert (page.dhcp_start.text(), page.dhcp_end.text()) == ("192.168.101.128",
                                                              "192.168.101.254")
    assert next_enabled(wizard)
    page.ipv4.setText("192.168.122.0/25")
    assert page.problem.text().startswith(
        "192.168.122.0/25 overlaps 192.168.122.0/24 of the network default")
    assert not next_enabled(wizard)
    page.ipv4.setText("10.20.0.0/16")
    assert page.dhcp_start.text() == "10.20.128.0", "the suggestion follows the subnet"
    page.ipv4.setText("10.20.300.0/16")
    assert "is not an IPv4 subnet" in page.problem.text()
    page.ipv4.setText("10.20.0.0/16")
    page.dhcp_end.setText("10.21.0.5")
    assert "must be a guest address inside 10.20.0.0/16" in page.problem.text()
    page.dhcp.setChecked(False)
    assert next_enabled(wizard), "without DHCP the range does not matter"


def test_bridge_mode_asks_for_the_host_bridge_only(qtbot):
    wizard = network_wizard(qtbot)
    wizard.name_page.name.setText("lan")
    wizard.name_page.findChild(type(wizard.name_page.modes.button(0)),
                               "mode-bridge").setChecked(True)
    wizard.next()
    page = wizard.address_page
    assert page.bridge.isVisible() and not page.ipv4.isVisible()
    assert page.bridge.currentText() == "br0" and next_enabled(wizard)
    page.bridge.setEditText("")
    assert "Choose the host bridge" in page.problem.text()
    page.bridge.setEditText("br0")
    wizard.next()
    assert not wizard.hosts_page.editor.isEnabled()
    assert wizard.spec() == NetworkSpec("lan", "bridge", bridge="br0")


def test_fixed_hosts_are_checked_and_handed_over(qtbot):
    wizard = network_wizard(qtbot)
    wizard.name_page.name.setText("lab2")
    wizard.next()
    wizard.next()
    page = wizard.hosts_page
    page.editor.add_host(StaticHost("52:54:00:zz:00:01", "192.168.101.7"))
    assert "is not a MAC address" in page.problem.text()
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    page.editor.set_hosts((StaticHost("52:54:00:00:00:01", "192.168.101.7", "web"),))
    assert page.problem.text() == ""
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    spec = wizard.spec()
    assert spec.hosts == (StaticHost("52:54:00:00:00:01", "192.168.101.7", "web"),)
    assert spec.problems(wizard.others) == []


# ---- volumes and DHCP ----

POOL = PoolInfo("k", "images", "running", "dir", True, True, 100 * MIB, 60 * MIB,
                40 * MIB, "/srv/images")


def ok_enabled(dialog) -> bool:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_new_volume_checks_name_size_and_free_space(qtbot):
    dialog = NewVolumeDialog(POOL)
    qtbot.addWidget(dialog)
    assert "needs a name" in dialog.problem.text() and not ok_enabled(dialog)
    dialog.name.setText("disk1.qcow2")
    assert ok_enabled(dialog), "20 GiB sparse in a 40 MiB pool: the user's call"
    dialog.size_edit.setText("lots")
    assert dialog.problem.text() == "lots is not a size such as 20 GiB."
    dialog.size_edit.setText("64 MiB")
    dialog.format.setCurrentText("raw")
    assert dialog.name.text() == "disk1.img", "the name follows the format"
    dialog.prealloc.setCurrentIndex(2)      # full
    assert "The pool has 40 MiB free; this volume needs 64 MiB now." in dialog.problem.text()
    dialog.size_edit.setText("16M")
    assert ok_enabled(dialog)
    spec = dialog.spec()
    assert (spec.name, spec.capacity, spec.format, spec.preallocation) == \
        ("disk1.img", 16 * MIB, "raw", "full")
    dialog.backing.setText("/srv/images/base.qcow2")
    assert "Only a qcow2 volume can start from a backing file." in dialog.problem.text()


def test_grow_only_grows(qtbot):
    vol = VolumeInfo("disk1.qcow2", "/srv/images/disk1.qcow2", "/srv/images/disk1.qcow2",
                     "qcow2", 10 * MIB, MIB)
    dialog = GrowVolumeDialog(POOL, vol)
    qtbot.addWidget(dialog)
    assert dialog.size_edit.text() == "20 MiB" and ok_enabled(dialog)
    dialog.size_edit.setText("5 MiB")
    assert dialog.problem.text() == "A volume can only grow: choose more than 10 MiB."
    assert not ok_enabled(dialog)
    dialog.size_edit.setText("1G")
    assert ok_enabled(dialog) and dialog.capacity() == 1 << 30


def test_the_dhcp_editor_checks_the_range_and_hosts(qtbot):
    details = parse_network(NetworkSpec(
        "lab", "nat", ipv4="10.9.8.0/24", dhcp_start="10.9.8.100", dhcp_end="10.9.8.200",
        hosts=(StaticHost("52:54:00:00:00:01", "10.9.8.5"),)).network_xml())
    dialog = DhcpDialog(details)
    qtbot.addWidget(dialog)
    assert ok_enabled(dialog) and dialog.editor.hosts() == details.hosts
    dialog.end.setText("")
    assert dialog.problem.text() == "A DHCP range needs both its start and its end."
    dialog.end.setText("10.9.9.1")
    assert "inside 10.9.8.0/24" in dialog.problem.text()
    dialog.end.setText("10.9.8.150")
    assert ok_enabled(dialog)
    assert dialog.values()[:2] == ("10.9.8.100", "10.9.8.150")


def test_find_runs_on_the_loop(qtbot, aloop):
    """The wizard's Find is a coroutine on the app's loop: the window stays live."""
    started = asyncio.Event()

    async def slow(kind, host, port, initiator):
        started.set()
        await asyncio.sleep(0.2)
        return [PoolSource(name="vg0")]

    wizard = pool_wizard(qtbot, slow)
    wizard.type_page.name.setText("vg")
    wizard.type_page.types.setCurrentRow(3)
    wizard.next()
    page = wizard.source_page
    page.find_sources_now()
    assert page.found.text() == "Asking…" and not page.find_button.isEnabled()
    aloop.run_until_complete(asyncio.wait_for(started.wait(), 5))
    until(aloop, lambda: page.vg.findText("vg0") >= 0)
    assert page.find_button.isEnabled()
