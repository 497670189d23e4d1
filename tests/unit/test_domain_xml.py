"""The domain XML model reads what libvirt writes and writes it back unchanged.

The documents are real: libvirtd's own output for a domain with many device kinds
(tests/unit/data/domain_rich_defined.xml, saved from this machine's libvirtd 9.0; the
integration tests repeat this against the live daemon), libvirt's test driver, and the
demo lab. Comparisons are of canonical XML (C14N 2.0), which keeps namespace prefixes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import libvirt
import pytest

from connectors.libvirt import domxml
from connectors.libvirt.domxml import (Channel, Console, Controller, Disk, DomainXMLError,
                                       Graphics, Hostdev, Input, Interface, Memballoon,
                                       OpaqueDevice, Panic, Redirdev, Rng, Serial, Sound,
                                       SourceHost, Topology, Tpm, Video, Watchdog)

DATA = Path(__file__).resolve().parent / "data"
LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"
RICH = (DATA / "domain_rich_defined.xml").read_text()


def canonical(text: str) -> str:
    return ET.canonicalize(text)


@pytest.fixture(scope="module")
def rich() -> domxml.Domain:
    return domxml.parse(RICH)


def test_libvirts_own_output_writes_back_byte_for_byte_but_for_metadata_quotes():
    dom = domxml.parse(RICH)
    assert canonical(dom.to_xml()) == canonical(RICH)
    # libvirt writes <metadata> with double quotes (libxml2), the rest with single ones.
    assert dom.to_xml() == RICH.replace('"', "'")


def test_the_basics_of_a_domain(rich):
    assert rich.type == "qemu" and rich.name == "rich" and rich.title == "Rich test domain"
    assert rich.uuid == "45d84321-f78b-4174-8561-9182eaf7e9c9"
    assert rich.description.startswith("Many device kinds, for the domain XML model's")
    assert rich.id is None
    assert (rich.on_poweroff, rich.on_reboot, rich.on_crash) == ("destroy", "restart",
                                                                  "destroy")
    assert rich.emulator == "/usr/bin/qemu-system-x86_64"


def test_memory_and_vcpus_in_kib_and_counts(rich):
    assert rich.memory_kib == 512 * 1024 and rich.current_memory_kib == 384 * 1024
    assert rich.max_memory_kib == 4 * 1024 * 1024 and rich.max_memory_slots == 4
    assert (rich.vcpus, rich.max_vcpus, rich.vcpu_placement) == (2, 4, "static")


@pytest.mark.parametrize("unit, value, kib", [
    ("KiB", "1024", 1024), ("MiB", "2", 2048), ("GiB", "1", 1048576), ("b", "4096", 4),
    ("bytes", "2048", 2), ("k", "8", 8), ("M", "1", 1024), ("G", "2", 2097152),
    ("T", "1", 1024 ** 3), ("MB", "1", 976), ("KB", "1024", 1000),
])
def test_memory_units_are_normalised_to_kib(unit, value, kib):
    dom = domxml.parse(f"<domain><memory unit='{unit}'>{value}</memory></domain>")
    assert dom.memory_kib == kib
    assert dom.current_memory_kib == kib          # libvirt's default: all of it


def test_memory_without_a_unit_is_kib_and_nonsense_is_unknown():
    assert domxml.parse("<domain><memory>2048</memory></domain>").memory_kib == 2048
    assert domxml.parse("<domain><memory unit='parsecs'>1</memory></domain>").memory_kib is None
    assert domxml.parse("<domain><memory>lots</memory></domain>").memory_kib is None
    assert domxml.parse("<domain/>").memory_kib is None


def test_cpu_os_features_and_clock(rich):
    cpu = rich.cpu
    assert cpu is not None
    assert (cpu.mode, cpu.match, cpu.check, cpu.model, cpu.model_fallback) == (
        "custom", "exact", "none", "qemu64", "forbid")
    assert cpu.topology == Topology(sockets=1, cores=2, threads=2, dies=1)
    assert cpu.topology.vcpus == 4
    assert cpu.features == {"svm": "disable"}
    os = rich.os
    assert (os.type, os.arch, os.machine) == ("hvm", "x86_64", "pc-q35-7.2")
    assert os.firmware is None and os.bootmenu is True and os.bootmenu_timeout == 3000
    assert os.boot_devices == [] and os.kernel is None and not os.direct_kernel_boot
    assert rich.features is not None and rich.features.names == ["acpi", "apic", "vmport"]
    assert rich.features.has("acpi") and not rich.features.has("vmport")  # state='off'
    assert rich.clock is not None and rich.clock.offset == "utc"
    assert rich.clock.timers["hpet"] == {"name": "hpet", "present": "no"}


def test_every_device_has_its_typed_view_in_document_order(rich):
    kinds = [(d.kind, type(d)) for d in rich.devices]
    assert kinds[:6] == [("disk", Disk)] * 5 + [("controller", Controller)]
    classes = {cls for _kind, cls in kinds}
    assert {Disk, Controller, Interface, Serial, Console, Channel, Input, Tpm, Graphics,
            Sound, Video, Hostdev, Redirdev, Watchdog, Memballoon, Rng, Panic,
            OpaqueDevice} == classes
    assert [d.kind for d in rich.devices if isinstance(d, OpaqueDevice)] == ["audio", "vsock"]


def test_disks(rich):
    vda, vdb, vdc, sda, sdb = rich.disks
    assert (vda.type, vda.device, vda.driver_name, vda.driver_type, vda.cache,
            vda.discard) == ("file", "disk", "qemu", "qcow2", "none", "unmap")
    assert vda.source_file == "/var/lib/hvconsole-test/pool/rich.qcow2"
    assert (vda.target_dev, vda.bus, vda.serial, vda.boot_order) == ("vda", "virtio",
                                                                     "RICH-0001", 1)
    assert vda.address == {"type": "pci", "domain": "0x0000", "bus": "0x08", "slot": "0x00",
                           "function": "0x0"}
    assert (vdb.type, vdb.source_dev, vdb.shareable, vdb.readonly) == ("block", "/dev/null",
                                                                       True, False)
    assert (vdc.type, vdc.source_pool, vdc.source_volume) == (
        "volume", "hvconsole-test", "rich-data.qcow2")
    assert vdc.source_path == "hvconsole-test/rich-data.qcow2"
    assert (sda.device, sda.readonly, sda.has_media, sda.source_path, sda.is_removable) == (
        "cdrom", True, False, None, True)
    assert (sdb.type, sdb.source_protocol, sdb.source_name) == ("network", "nbd", "export")
    assert sdb.source_hosts == [SourceHost("127.0.0.1", 10809)]
    assert rich.disk("vdb").element is vdb.element and rich.disk("vdz") is None


def test_interfaces(rich):
    net, bridge, user = rich.interfaces
    assert (net.type, net.source_network, net.mac, net.model, net.link_state, net.link_up,
            net.boot_order) == ("network", "default", "52:54:00:aa:bb:01", "virtio", "down",
                                False, 2)
    assert (bridge.type, bridge.source, bridge.model, bridge.link_up) == (
        "bridge", "virbr0", "e1000e", True)
    assert (user.type, user.source) == ("user", None)
    assert rich.interface("52:54:00:AA:BB:03").element is user.element


def test_graphics_and_their_credentials(rich):
    vnc, spice = rich.graphics
    assert (vnc.type, vnc.port, vnc.autoport, vnc.listen_address, vnc.passwd) == (
        "vnc", -1, True, "127.0.0.1", "vncpass1")
    assert vnc.listens == [domxml.Listen("address", "127.0.0.1")]
    assert spice.channels == {"main": "insecure"} and not spice.tls_only
    assert domxml.graphics_password(rich, 0) == "vncpass1"
    assert domxml.graphics_password(rich, 1) == "spice-ticket"
    assert domxml.graphics_password(rich, 2) is None
    assert domxml.ticket_expiry(rich, 1) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert domxml.ticket_expiry(rich, 0) is None


@pytest.mark.parametrize("graphics, tls_only", [
    ("<graphics type='spice' port='5900'/>", False),
    ("<graphics type='spice' port='5900' tlsPort='5901'/>", False),
    ("<graphics type='spice' tlsPort='5901'/>", True),
    ("<graphics type='spice' port='5900' tlsPort='5901' defaultMode='secure'/>", True),
    ("<graphics type='spice' port='5900' tlsPort='5901'><channel name='main' "
     "mode='secure'/></graphics>", True),
    ("<graphics type='spice' port='5900' tlsPort='5901'><channel name='inputs' "
     "mode='secure'/></graphics>", False),
    ("<graphics type='spice' autoport='yes' defaultMode='secure'/>", False),  # not running
    ("<graphics type='vnc' port='5900'/>", False),
])
def test_which_spice_displays_take_only_tls(graphics, tls_only):
    dom = domxml.parse(f"<domain><devices>{graphics}</devices></domain>")
    assert domxml.tls_only(dom.graphics[0]) is tls_only


def test_a_ticket_expiry_that_is_no_date_is_unknown():
    dom = domxml.parse("<domain><devices><graphics type='spice' passwd='x' "
                       "passwdValidTo='soon'/></devices></domain>")
    assert domxml.ticket_expiry(dom, 0) is None and domxml.graphics_password(dom, 0) == "x"


def test_the_other_devices(rich):
    video = rich.videos[0]
    assert (video.model, video.heads, video.primary, video.vram) == ("virtio", 2, True, None)
    tpm = rich.devices_of(Tpm)[0]
    assert (tpm.model, tpm.backend_type, tpm.device_path) == ("tpm-tis", "passthrough",
                                                              "/dev/tpm0")
    rng = rich.devices_of(Rng)[0]
    assert (rng.model, rng.backend_model, rng.source, rng.rate_bytes) == (
        "virtio", "random", "/dev/urandom", 1024)
    serial = rich.devices_of(Serial)[0]
    assert (serial.type, serial.target_port, serial.target_type, serial.target_model) == (
        "pty", 0, "isa-serial", "isa-serial")
    agent, spicevmc = rich.devices_of(Channel)
    assert (agent.type, agent.target_type, agent.target_name) == (
        "unix", "virtio", "org.qemu.guest_agent.0")
    assert spicevmc.type == "spicevmc"
    assert rich.devices_of(Console)[0].target_type == "serial"
    assert [(c.type, c.model, c.index) for c in rich.devices_of(Controller)][:3] == [
        ("usb", "qemu-xhci", 0), ("scsi", "virtio-scsi", 0), ("virtio-serial", None, 0)]
    assert [(i.type, i.bus) for i in rich.devices_of(Input)][:2] == [("tablet", "usb"),
                                                                     ("keyboard", "virtio")]
    assert rich.devices_of(Sound)[0].model == "ich9"
    usb = rich.hostdevs[0]
    assert (usb.mode, usb.type, usb.managed, usb.usb_ids, usb.pci_address) == (
        "subsystem", "usb", True, (0x1d6b, 0x0002), None)
    balloon = rich.devices_of(Memballoon)[0]
    assert (balloon.model, balloon.stats_period) == ("virtio", 10)
    assert rich.devices_of(Watchdog)[0].action == "reset"


def test_a_pci_host_device():
    dom = domxml.parse("<domain><devices><hostdev mode='subsystem' type='pci' managed='no'>"
                       "<source><address domain='0x0000' bus='0x3a' slot='0x1f' "
                       "function='0x3'/></source></hostdev></devices></domain>")
    assert dom.hostdevs[0].pci_address == (0, 0x3a, 0x1f, 3)
    assert dom.hostdevs[0].managed is False


def test_metadata_is_kept_and_reachable_by_namespace(rich):
    tags = rich.metadata_entry("https://hvconsole.example/tags/1")
    assert tags is not None
    assert [t.text for t in tags] == ["lab", "web"]
    assert rich.metadata_entry("http://nowhere/") is None
    assert "<libosinfo:os id='http://debian.org/debian/12'/>" in rich.to_xml()


def test_direct_kernel_boot_and_efi_are_read():
    dom = domxml.parse("""<domain type='kvm'><os firmware='efi'>
      <type arch='x86_64' machine='q35'>hvm</type>
      <firmware><feature enabled='yes' name='secure-boot'/></firmware>
      <kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd</initrd>
      <cmdline>console=ttyS0</cmdline><boot dev='hd'/><boot dev='cdrom'/></os></domain>""")
    os = dom.os
    assert os.firmware == "efi" and os.secure_boot is True
    assert (os.kernel, os.initrd, os.cmdline) == ("/boot/vmlinuz", "/boot/initrd",
                                                  "console=ttyS0")
    assert os.boot_devices == ["hd", "cdrom"] and os.direct_kernel_boot
    pflash = domxml.parse("<domain><os><type>hvm</type><loader readonly='yes' type='pflash' "
                          "secure='no'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"
                          "<nvram>/var/lib/libvirt/qemu/nvram/x_VARS.fd</nvram></os></domain>")
    assert pflash.os.firmware == "efi" and pflash.os.secure_boot is False
    xen = domxml.parse("<domain type='xen'><os><type>hvm</type>"
                       "<loader type='rom'>/usr/lib/xen/boot/hvmloader</loader></os></domain>")
    assert xen.os.firmware == "bios"


def test_a_syntax_error_says_where():
    with pytest.raises(DomainXMLError) as caught:
        domxml.parse("<domain>\n  <name>x</domain>")
    assert caught.value.position == (2, 11) and "mismatched tag" in str(caught.value)


@pytest.mark.parametrize("text", ["not xml", "<domain><name>x</domain>", "<network/>", ""])
def test_what_is_not_a_domain_is_refused_in_words(text):
    with pytest.raises(DomainXMLError):
        domxml.parse(text)


def test_comments_and_odd_whitespace_survive():
    text = ("<domain type='kvm'>\n  <!-- keep me -->\n  <name>a &amp; b</name>\n"
            "  <description>line one\nline two &lt;here&gt;</description>\n"
            "  <devices><disk type='file' device='disk'><source file=\"/it's/a.img\"/>"
            "<target dev='vda'/></disk></devices>\n</domain>\n")
    dom = domxml.parse(text)
    assert dom.to_xml() == text.replace('"/it\'s/a.img"', "'/it&apos;s/a.img'")
    assert dom.name == "a & b" and dom.disks[0].source_file == "/it's/a.img"


def test_prefixes_of_namespaces_are_kept_even_when_declared_on_the_root():
    text = ("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
            "<name>x</name><qemu:commandline><qemu:arg value='-S'/></qemu:commandline>"
            "</domain>")
    assert domxml.parse(text).to_xml() == text + "\n"
    nested = text.replace(" xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'", "")
    nested = nested.replace("<qemu:commandline>", "<qemu:commandline xmlns:qemu="
                            "'http://libvirt.org/schemas/domain/qemu/1.0'>")
    assert domxml.parse(nested).to_xml() == nested + "\n"


def test_a_default_namespace_inside_metadata_stays_one():
    text = ("<domain><metadata><app xmlns='http://example.com/app'><x a='1'/></app>"
            "</metadata><name>n</name></domain>")
    out = domxml.parse(text).to_xml()
    assert canonical(out) == canonical(text)
    assert "<app xmlns='http://example.com/app'><x a='1'/></app>" in out


@pytest.fixture(scope="module")
def lab_domains():
    libvirt.registerErrorHandler(lambda *_args: None, None)
    conn = libvirt.open(f"test://{LAB}")
    try:
        yield [(d.name(), d.XMLDesc(flags)) for d in conn.listAllDomains(0)
               for flags in (0, libvirt.VIR_DOMAIN_XML_SECURE, libvirt.VIR_DOMAIN_XML_INACTIVE)]
    finally:
        conn.close()


def test_the_demo_labs_domains_write_back_unchanged(lab_domains):
    assert len(lab_domains) >= 30
    for name, text in lab_domains:
        dom = domxml.parse(text)
        assert dom.name == name
        assert dom.to_xml() == text, name


def test_the_test_drivers_default_domain_writes_back_unchanged():
    conn = libvirt.open("test:///default")
    try:
        for dom in conn.listAllDomains(0):
            text = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
            assert domxml.parse(text).to_xml() == text
    finally:
        conn.close()


def test_parse_many_reads_each_document_alone_or_batched():
    docs = ["<domain id='1'><name>a</name></domain>", None,
            "<domain><name>b &amp; c</name></domain>\n"] * 40
    doms = domxml.parse_many(docs)
    assert doms[1] is None
    assert [d.name for d in doms if d is not None][:2] == ["a", "b & c"]
    assert doms[0].id == 1 and doms[2].element.tail is None


@pytest.mark.parametrize("odd", [
    "<?xml version='1.0'?><domain><name>declared</name></domain>",   # not joinable
    "<domain><name>x</name></domain><domain><name>y</name></domain>",  # two roots
    "text<domain><name>z</name></domain>",                             # text before
    "<!-- a comment, no element -->",                                  # no root at all
])
def test_parse_many_falls_back_to_one_by_one_and_stays_strict(odd):
    """A document that cannot be joined is parsed alone; one that is not a single
    well-formed element still fails loudly."""
    good = "<domain><name>ok</name></domain>"
    try:
        expected = ET.fromstring(odd).findtext("name")
    except ET.ParseError:
        expected = None
    if expected is None:
        with pytest.raises(DomainXMLError):
            domxml.parse_many([good, odd])
    else:
        doms = domxml.parse_many([good, odd])
        assert [d.name for d in doms] == ["ok", expected]


def test_parse_many_keeps_each_documents_prefixes():
    docs = [f"<domain xmlns:t='urn:t{i}'><name>n{i}</name><t:x/></domain>" for i in range(3)]
    for doc, dom in zip(docs, domxml.parse_many(docs), strict=True):
        assert canonical(dom.to_xml()) == canonical(doc)


def test_a_device_alone_for_hot_plug():
    dom = domxml.parse(RICH)
    nic = dom.interfaces[0]
    text = nic.to_xml()
    assert text.startswith("<interface type='network'>") and text.endswith("</interface>")
    again = domxml.device_from_xml(text)
    assert isinstance(again, Interface) and again.mac == "52:54:00:aa:bb:01"


def test_a_running_vms_network_listener_says_its_address():
    dom = domxml.parse("<domain><devices><graphics type='vnc' port='5900' autoport='yes'>"
                       "<listen type='network' address='192.168.122.1' network='default'/>"
                       "</graphics><graphics type='vnc' socket='/run/x.sock'><listen "
                       "type='socket' socket='/run/x.sock'/></graphics></devices></domain>")
    first, second = dom.graphics
    assert first.listen_address == "192.168.122.1" and first.listen_socket is None
    assert second.listen_address is None and second.listen_socket == "/run/x.sock"
