"""The domain XML model against the real libvirtd (qemu:///system): what libvirtd writes
comes back unchanged through the model, and what the model writes libvirtd accepts.

Documents: the tiny test guest (defined, and running: the live XML has ports, aliases
and addresses), a domain with many device kinds (tests/unit/data/domain_rich.xml), and
new domains from the builders; one of these boots the test guest's kernel. libvirt's
test driver and the demo lab are covered in tests/unit/test_domain_xml.py (in-process).
"""
from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.libvirt import domxml
from tests.integration.conftest import PREFIX, _remove_domain
from tests.integration.guest import KERNEL_CMDLINE, serial_log_path, wait_for_serial
from tests.unit.test_domain_xml_fuzz import CHANGES

pytestmark = pytest.mark.integration

RICH_SOURCE = Path(__file__).resolve().parents[1] / "unit" / "data" / "domain_rich.xml"


def _flags():
    import libvirt
    return (0, libvirt.VIR_DOMAIN_XML_SECURE, libvirt.VIR_DOMAIN_XML_INACTIVE,
            libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)


@pytest.fixture(scope="module")
def conn(libvirt_uri):
    import libvirt
    c = libvirt.open(libvirt_uri)
    yield c
    c.close()


@pytest.fixture
def defined(conn):
    """define(xml_or_domain) -> virDomain, undefined when the test ends."""
    names: list[str] = []

    def define(dom: domxml.Domain):
        names.append(dom.name)
        return conn.defineXML(dom.to_xml())

    yield define
    for name in names:
        _remove_domain(conn, name)


def unique(tag: str) -> str:
    return f"{PREFIX}domxml-{tag}-{uuid.uuid4().hex[:6]}"


def rich(name: str) -> domxml.Domain:
    return domxml.parse(RICH_SOURCE.read_text().replace("<name>rich</name>",
                                                        f"<name>{name}</name>"))


def assert_round_trips(dom_obj) -> None:
    """Canonically the same, and byte for byte but for the double quotes libvirt keeps
    in <metadata> (libxml2 writes that part; the model writes single quotes)."""
    for flags in _flags():
        text = dom_obj.XMLDesc(flags)
        out = domxml.parse(text).to_xml()
        assert ET.canonicalize(out) == ET.canonicalize(text), flags
        assert out == text.replace('"', "'"), flags


def test_the_test_guest_writes_back_unchanged_defined_and_running(guest_factory):
    guest = guest_factory("domxml", with_disk=True, graphics="spice", vnc_password="ticket")
    assert_round_trips(guest.domain)
    guest.start()
    live = domxml.parse(guest.domain.XMLDesc(0))
    assert live.id is not None and live.graphics[0].port > 0
    assert live.disks[0].alias == "virtio-disk0"
    assert_round_trips(guest.domain)


def test_a_domain_with_many_device_kinds_writes_back_unchanged(conn, defined):
    dom = defined(rich(unique("rich")))
    assert_round_trips(dom)
    read = domxml.parse(dom.XMLDesc(libvirt_secure()))
    assert [g.passwd for g in read.graphics] == ["vncpass1", "spice-ticket"]
    assert domxml.graphics_password(read, 1) == "spice-ticket"
    assert read.metadata_entry("https://hvconsole.example/tags/1") is not None
    assert {type(d).__name__ for d in read.devices} >= {
        "Disk", "Controller", "Interface", "Serial", "Console", "Channel", "Input", "Tpm",
        "Graphics", "Sound", "Video", "Hostdev", "Redirdev", "Watchdog", "Memballoon",
        "Rng", "Panic", "OpaqueDevice"}


def libvirt_secure() -> int:
    import libvirt
    return libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE


def test_properties_changes_are_accepted_and_read_back(conn, defined):
    """What the Properties pages change, all at once on a shut-off domain."""
    name = unique("props")
    original = defined(rich(name))
    dom = domxml.parse(original.XMLDesc(libvirt_secure()))
    dom.title, dom.description = "Changed <title>", "Changed & described"
    dom.ensure_cpu().drop("numa")
    dom.set_max_memory(None)
    dom.set_memory(768 * 1024, 512 * 1024)
    dom.set_vcpus(2, 4)
    dom.cpu.set_mode("host-model")
    dom.cpu.topology = domxml.Topology(sockets=2, cores=2, threads=1)
    new_disk = dom.add_device(domxml.new_disk(domxml.next_target(dom, "virtio"),
                                              file="/var/lib/hvconsole-test/pool/extra.qcow2",
                                              cache="none"))
    dom.disk("sda").insert_media("/var/lib/hvconsole-test/pool/media.iso")
    dom.disk("vdb").shareable = False
    dom.remove_device(dom.disk("sdb"))
    nic = dom.interfaces[0]
    nic.set_bridge("virbr0")
    nic.link_up = True
    nic.model = "e1000e"
    dom.remove_device(dom.interfaces[2])
    dom.add_device(domxml.new_interface(network="default", mac="52:54:00:aa:bb:09"))
    dom.set_boot_order([dom.disk("sda"), new_disk, nic])
    dom.replace_device(dom.graphics[0], domxml.new_graphics("vnc", listen="0.0.0.0",
                                                            password="newpass"))
    dom.graphics[1].set_password(None)
    dom.videos[0].set_model("qxl", vram=65536)
    dom.remove_device(dom.devices_of(domxml.Tpm)[0])
    dom.add_device(domxml.new_serial("file", port=1, path="/var/log/hvconsole-test/x.log"))
    dom.add_device(domxml.new_usb_hostdev(0x1d6b, 0x0003))
    dom.remove_device(dom.devices_of(domxml.Rng)[0])
    dom.add_device(domxml.new_rng("/dev/random"))
    dom.set_firmware("bios")
    dom.os.bootmenu = False
    text = dom.to_xml()

    back = domxml.parse(conn.defineXML(text).XMLDesc(libvirt_secure()))
    assert back.uuid == dom.uuid and back.name == name
    assert (back.title, back.description) == ("Changed <title>", "Changed & described")
    assert (back.memory_kib, back.current_memory_kib, back.max_memory_kib) == (
        768 * 1024, 512 * 1024, None)
    assert (back.vcpus, back.max_vcpus) == (2, 4)
    assert (back.cpu.mode, back.cpu.topology) == ("host-model", domxml.Topology(2, 2, 1))
    assert [(d.target_dev, d.source_path) for d in back.disks] == [
        ("vda", "/var/lib/hvconsole-test/pool/rich.qcow2"),
        ("vdb", "/dev/null"), ("vdc", "hvconsole-test/rich-data.qcow2"),
        ("vdd", "/var/lib/hvconsole-test/pool/extra.qcow2"),
        ("sda", "/var/lib/hvconsole-test/pool/media.iso")]
    assert back.disk("vdd").cache == "none" and not back.disk("vdb").shareable
    assert [(n.type, n.source, n.model, n.link_up, n.mac) for n in back.interfaces] == [
        ("bridge", "virbr0", "e1000e", True, "52:54:00:aa:bb:01"),
        ("bridge", "virbr0", "e1000e", True, "52:54:00:aa:bb:02"),
        ("network", "default", "virtio", True, "52:54:00:aa:bb:09")]
    assert [(d.kind, getattr(d, "target_dev", None)) for d in back.boot_order()] == [
        ("disk", "sda"), ("disk", "vdd"), ("interface", None)]
    assert back.os.boot_devices == [] and back.os.bootmenu is False
    assert [(g.type, g.listen_address, g.passwd) for g in back.graphics] == [
        ("vnc", "0.0.0.0", "newpass"), ("spice", "127.0.0.1", None)]
    assert [(v.model, v.vram) for v in back.videos] == [("qxl", 65536)]
    assert back.devices_of(domxml.Tpm) == []
    assert [s.source_path for s in back.devices_of(domxml.Serial)] == [
        None, "/var/log/hvconsole-test/x.log"]
    assert [h.usb_ids for h in back.hostdevs] == [(0x1d6b, 2), (0x1d6b, 3)]
    assert [r.source for r in back.devices_of(domxml.Rng)] == ["/dev/random"]
    # What the model was never asked to touch is still there.
    assert back.disk("vda").serial == "RICH-0001" and "<total_iops_sec>500" in back.to_xml()
    assert back.metadata_entry("http://libosinfo.org/xmlns/libvirt/domain/1.0") is not None
    assert "<qemu:arg value='timestamp=on'/>" in back.to_xml()


def test_cdrom_eject_and_a_rename_by_a_new_definition(conn, defined):
    dom = defined(rich(unique("eject")))
    model = domxml.parse(dom.XMLDesc(libvirt_secure()))
    model.disk("sda").insert_media("/var/lib/hvconsole-test/pool/a.iso")
    conn.defineXML(model.to_xml())
    model = domxml.parse(dom.XMLDesc(libvirt_secure()))
    assert model.disk("sda").source_file == "/var/lib/hvconsole-test/pool/a.iso"
    model.disk("sda").eject()
    conn.defineXML(model.to_xml())
    assert not domxml.parse(dom.XMLDesc(libvirt_secure())).disk("sda").has_media


@pytest.mark.parametrize("graphics, video, firmware", [
    ("vnc", "virtio", None), ("spice", "qxl", None), (None, None, "efi")])
def test_new_domains_from_the_builders_are_accepted(conn, defined, graphics, video,
                                                    firmware):
    dom = domxml.new_domain(unique("new"), domain_type="qemu", memory_kib=256 * 1024,
                            vcpus=2, graphics=graphics, video=video, firmware=firmware)
    dom.add_device(domxml.new_disk("vda", file="/var/lib/hvconsole-test/pool/new.qcow2",
                                   boot_order=2))
    dom.add_device(domxml.new_cdrom("sda", file="/var/lib/hvconsole-test/pool/new.iso",
                                    boot_order=1))
    dom.add_device(domxml.new_interface(network="default"))
    back = domxml.parse(defined(dom).XMLDesc(libvirt_secure()))
    assert (back.os.machine or "").startswith("pc-q35") and back.os.firmware == firmware
    assert [d.target_dev for d in back.boot_order()] == ["sda", "vda"]
    assert [g.type for g in back.graphics] == ([graphics] if graphics else [])
    assert [v.model for v in back.videos] == ([video] if video else [])
    assert back.interfaces[0].mac.startswith("52:54:00:")
    usb = [c.model for c in back.devices_of(domxml.Controller) if c.type == "usb"]
    assert usb == ["qemu-xhci"]


@pytest.mark.slow
def test_a_new_domain_from_the_builders_boots_the_test_guest(conn, defined,
                                                             test_guest_files):
    name = unique("boot")
    dom = domxml.new_domain(name, domain_type=test_guest_files.accel,
                            memory_kib=128 * 1024, vcpus=1)
    os = dom.os
    os.kernel, os.initrd = str(test_guest_files.kernel), str(test_guest_files.initrd)
    os.cmdline = KERNEL_CMDLINE
    log = serial_log_path(name)
    for console in dom.devices_of(domxml.Console):
        dom.remove_device(console)
    dom.replace_device(dom.devices_of(domxml.Serial)[0],
                       domxml.new_serial("file", path=str(log)))
    defined(dom).create()
    wait_for_serial(log, timeout=120)
    log.unlink(missing_ok=True)


# A dozen fixed examples in CI (each is a define and an undefine); more on demand.
FEW = settings(max_examples=int(os.environ.get("HVCONSOLE_DOMXML_EXAMPLES", "12")),
               deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.function_scoped_fixture])


@FEW
@given(st.data())
def test_random_changes_are_accepted_by_libvirtd(conn, data):
    name = unique("fuzz")
    dom = rich(name)
    for change in data.draw(st.lists(st.sampled_from(CHANGES), min_size=1, max_size=10)):
        change(dom, data)
    dom.name = name
    dom.uuid = None
    try:
        defined_dom = conn.defineXML(dom.to_xml())
        back = domxml.parse(defined_dom.XMLDesc(libvirt_secure()))
        assert (back.memory_kib, back.current_memory_kib, back.vcpus, back.max_vcpus) == (
            dom.memory_kib, dom.current_memory_kib, dom.vcpus, dom.max_vcpus)
        # libvirt keeps the disks of one bus together, in the order of their names.
        assert sorted((d.target_dev, d.source_path, d.cache) for d in back.disks) == sorted(
            (d.target_dev, d.source_path, d.cache) for d in dom.disks)
        assert [(n.type, n.source, n.model, n.link_up) for n in back.interfaces] == [
            (n.type, n.source, n.model, n.link_up) for n in dom.interfaces]
        assert [(g.type, g.passwd) for g in back.graphics] == [
            (g.type, g.passwd) for g in dom.graphics]
        assert [v.model for v in back.videos] == [v.model for v in dom.videos]
        assert [(d.kind, d.boot_order) for d in back.boot_order()] == [
            (d.kind, d.boot_order) for d in dom.boot_order()]
        assert ET.canonicalize(domxml.parse(back.to_xml()).to_xml()) == ET.canonicalize(
            back.to_xml())
    finally:
        _remove_domain(conn, name)
