"""Changing a domain through the model: each change lands where libvirt expects it and
leaves everything else (addresses, iotune, metadata, unknown devices) as it was.

tests/integration/test_domain_xml_libvirtd.py has libvirtd accept the changed documents.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Rng, Serial, Topology, Tpm

RICH = (Path(__file__).resolve().parent / "data" / "domain_rich_defined.xml").read_text()


@pytest.fixture
def dom() -> domxml.Domain:
    return domxml.parse(RICH)


def lines_of(dom: domxml.Domain) -> list[str]:
    return dom.to_xml().splitlines()


def test_rename_retitle_and_describe(dom):
    dom.name = "renamed & <odd>"
    dom.title = None
    dom.description = "It's \"new\""
    again = domxml.parse(dom.to_xml())
    assert again.name == "renamed & <odd>" and again.title is None
    assert again.description == "It's \"new\""
    assert "<name>renamed &amp; &lt;odd&gt;</name>" in dom.to_xml()


def test_memory_is_written_in_kib_and_checked(dom):
    dom.set_memory(1024 * 1024, 768 * 1024)
    assert "  <memory unit='KiB'>1048576</memory>" in lines_of(dom)
    assert "  <currentMemory unit='KiB'>786432</currentMemory>" in lines_of(dom)
    assert (dom.memory_kib, dom.current_memory_kib) == (1048576, 786432)
    dom.set_memory(2048)
    assert dom.current_memory_kib == 2048
    for bad in ((0, None), (1024, 2048), (1024, 0)):
        with pytest.raises(ValueError):
            dom.set_memory(*bad)
    dom.set_max_memory(None)
    assert dom.max_memory_kib is None and "maxMemory" not in dom.to_xml()


def test_memory_made_from_nothing_lands_in_libvirts_order():
    dom = domxml.parse("<domain type='kvm'><name>x</name><os><type>hvm</type></os></domain>")
    dom.set_memory(4096)
    dom.set_vcpus(2)
    assert dom.to_xml() == ("<domain type='kvm'><name>x</name><memory unit='KiB'>4096</memory>"
                            "<currentMemory unit='KiB'>4096</currentMemory><vcpu>2</vcpu>"
                            "<os><type>hvm</type></os></domain>\n")


def test_vcpus_current_and_maximum(dom):
    dom.set_vcpus(3)
    assert (dom.vcpus, dom.max_vcpus) == (3, 4)
    assert "<vcpu placement='static' current='3'>4</vcpu>" in dom.to_xml()
    dom.set_vcpus(4)
    assert "<vcpu placement='static'>4</vcpu>" in dom.to_xml()
    dom.set_vcpus(6)                  # the maximum rises with it
    assert (dom.vcpus, dom.max_vcpus) == (6, 6)
    dom.set_vcpus(1, 8)
    assert (dom.vcpus, dom.max_vcpus) == (1, 8)
    with pytest.raises(ValueError):
        dom.set_vcpus(9, 8)
    with pytest.raises(ValueError):
        dom.set_vcpus(0)


def test_a_new_maximum_drops_the_per_vcpu_list():
    dom = domxml.parse("<domain><vcpu current='1'>2</vcpu><vcpus><vcpu id='0' enabled='yes'/>"
                       "<vcpu id='1' enabled='no'/></vcpus></domain>")
    dom.set_vcpus(2, 2)
    assert "<vcpus>" in dom.to_xml()          # same maximum: the list still fits
    dom.set_vcpus(2, 4)
    assert "<vcpus>" not in dom.to_xml()


def test_cpu_mode_and_topology(dom):
    cpu = dom.cpu
    cpu.set_mode("host-passthrough")
    assert (cpu.mode, cpu.model, cpu.match) == ("host-passthrough", None, None)
    assert cpu.topology == Topology(1, 2, 2) and cpu.features == {"svm": "disable"}
    assert "<numa>" in dom.to_xml()
    cpu.set_mode("custom", "Skylake-Client")
    assert (cpu.mode, cpu.model, cpu.match) == ("custom", "Skylake-Client", "exact")
    xml = dom.to_xml()
    assert xml.index("<model>Skylake-Client</model>") < xml.index("<topology")
    cpu.topology = Topology(sockets=2, cores=1, threads=2)
    assert "<topology sockets='2' cores='1' threads='2'/>" in dom.to_xml()
    cpu.topology = None
    assert cpu.topology is None
    cpu.set_feature("svm", None)
    cpu.set_feature("vmx", "require")
    assert cpu.features == {"vmx": "require"}
    with pytest.raises(ValueError):
        cpu.set_mode("custom")
    with pytest.raises(ValueError):
        cpu.set_mode("fastest")


def test_a_domain_without_a_cpu_element_gets_one():
    dom = domxml.parse("<domain><os><type>hvm</type></os><clock offset='utc'/></domain>")
    assert dom.cpu is None
    dom.ensure_cpu().set_mode("host-model")
    assert dom.to_xml() == ("<domain><os><type>hvm</type></os><cpu mode='host-model'/>"
                            "<clock offset='utc'/></domain>\n")


def test_boot_order_per_device_replaces_the_os_list(dom):
    dom.set_boot_devices(["cdrom", "hd"])
    assert dom.os.boot_devices == ["cdrom", "hd"] and dom.boot_order() == []
    assert "<boot order=" not in dom.to_xml()
    cdrom, nic = dom.disk("sda"), dom.interfaces[1]
    dom.set_boot_order([nic, cdrom])
    assert [d.element for d in dom.boot_order()] == [nic.element, cdrom.element]
    assert dom.os.boot_devices == [] and nic.boot_order == 1 and cdrom.boot_order == 2
    assert dom.disk("vda").boot_order is None
    with pytest.raises(ValueError):
        dom.set_boot_order([domxml.new_disk("vdz", file="/x")])


def test_os_boot_devices_keep_their_place_in_os(dom):
    dom.set_boot_devices(["network", "hd"])
    lines = lines_of(dom)
    start = lines.index("  <os>")
    assert lines[start:start + 6] == [
        "  <os>", "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>",
        "    <boot dev='network'/>", "    <boot dev='hd'/>",
        "    <bootmenu enable='yes' timeout='3000'/>", "    <bios useserial='yes'/>"]


def test_firmware_efi_with_secure_boot_and_back(dom):
    dom.set_firmware("efi", secure_boot=True)
    os = dom.os
    assert os.firmware == "efi" and os.secure_boot is True
    assert os.firmware_features == {"secure-boot": True, "enrolled-keys": True}
    assert dom.features.has("smm")
    dom.set_firmware("efi", loader="/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
                     secure_boot=True, nvram_template="/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
    assert (os.firmware_attr, os.loader_type, os.loader_readonly, os.loader_secure) == (
        None, "pflash", True, True)
    assert os.nvram_template == "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
    dom.set_firmware("bios")
    assert os.firmware is None and os.loader is None and os.nvram is None
    assert os.firmware_features == {}
    with pytest.raises(ValueError):
        dom.set_firmware("coreboot")


def test_direct_kernel_boot_fields(dom):
    os = dom.os
    os.kernel, os.initrd, os.cmdline = "/k", "/i", "console=ttyS0"
    assert os.direct_kernel_boot
    os.kernel = os.initrd = os.cmdline = None
    assert not os.direct_kernel_boot and "<kernel>" not in dom.to_xml()


def test_a_disk_added_lands_after_the_last_disk_indented_like_them(dom):
    disk = dom.add_device(domxml.new_disk(domxml.next_target(dom, "virtio"),
                                          file="/pool/new.qcow2", cache="none"))
    assert disk.target_dev == "vdd"
    assert [d.target_dev for d in dom.disks] == ["vda", "vdb", "vdc", "sda", "sdb", "vdd"]
    lines = lines_of(dom)
    start = lines.index("    <disk type='file' device='disk'>", lines.index("      "
                        "<target dev='sdb' bus='scsi'/>"))
    assert lines[start:start + 5] == [
        "    <disk type='file' device='disk'>",
        "      <driver name='qemu' type='qcow2' cache='none'/>",
        "      <source file='/pool/new.qcow2'/>",
        "      <target dev='vdd' bus='virtio'/>",
        "    </disk>"]
    assert lines[start + 5] == "    <controller type='usb' index='0' model='qemu-xhci' ports='15'>"


def test_changing_a_disk_keeps_what_the_model_does_not_know(dom):
    vda = dom.disk("vda")
    vda.cache, vda.discard = "writeback", None
    vda.readonly = True
    vda.set_file("/elsewhere.qcow2")
    xml = dom.to_xml()
    assert "<driver name='qemu' type='qcow2' cache='writeback'/>" in xml
    assert "<total_iops_sec>500</total_iops_sec>" in xml
    assert vda.address["bus"] == "0x08" and vda.serial == "RICH-0001"
    assert vda.readonly and vda.source_file == "/elsewhere.qcow2"
    vda.set_volume("default", "vol.qcow2")
    assert (vda.type, vda.source_path, vda.source_file) == ("volume", "default/vol.qcow2",
                                                            None)
    vda.set_network("nbd", "exp", (domxml.SourceHost("10.0.0.1", 10809),))
    assert vda.type == "network" and vda.source_hosts == [domxml.SourceHost("10.0.0.1",
                                                                            10809)]
    vda.set_block("/dev/sdz")
    assert (vda.type, vda.source_dev, vda.source_hosts) == ("block", "/dev/sdz", [])


def test_removing_a_device_leaves_the_others_and_their_layout(dom):
    before = lines_of(dom)
    nic = dom.interfaces[1]
    dom.remove_device(nic)
    after = lines_of(dom)
    assert len(before) - len(after) == 6 and not any("virbr0" in line for line in after)
    assert after[-1] == "</domain>"
    with pytest.raises(ValueError):
        dom.remove_device(nic)
    last = dom.devices[-1]
    dom.remove_device(last)
    assert lines_of(dom)[-7:-5] == ["    <panic model='isa'/>", "  </devices>"]


def test_cdrom_media_in_and_out(dom):
    cdrom = dom.disk("sda")
    cdrom.insert_media("/iso/debian.iso")
    assert cdrom.has_media and cdrom.source_file == "/iso/debian.iso"
    assert dom.to_xml().count("<source file='/iso/debian.iso'/>") == 1
    cdrom.insert_volume("isos", "debian.iso")
    assert cdrom.source_path == "isos/debian.iso" and cdrom.type == "volume"
    cdrom.eject()
    assert not cdrom.has_media and cdrom.readonly
    with pytest.raises(ValueError):
        dom.disk("vda").eject()


def test_network_interfaces(dom):
    nic = dom.interfaces[0]
    nic.link_up = True
    assert nic.link_state is None and "<link " not in nic.to_xml()
    nic.link_up = False
    assert nic.link_state == "down"
    nic.set_bridge("br0")
    nic.mac = "52:54:00:00:00:01"
    nic.model = "e1000e"
    assert (nic.type, nic.source, nic.mac, nic.model) == ("bridge", "br0",
                                                         "52:54:00:00:00:01", "e1000e")
    assert nic.address is not None and nic.boot_order == 2
    nic.set_direct("eth0", "bridge")
    assert (nic.type, nic.source_dev, nic.source_mode) == ("direct", "eth0", "bridge")
    nic.set_user()
    assert nic.source is None and nic.type == "user"
    added = dom.add_device(domxml.new_interface(network="default",
                                                mac=domxml.random_mac()))
    assert dom.interfaces[-1].element is added.element
    assert added.mac.startswith("52:54:00:") and len(added.mac) == 17


def test_graphics_listen_password_and_type(dom):
    vnc = dom.graphics[0]
    vnc.set_listen_address("0.0.0.0")
    assert vnc.listen_address == "0.0.0.0" and vnc.listens == [domxml.Listen("address",
                                                                             "0.0.0.0")]
    when = datetime.now(timezone.utc) + timedelta(hours=1)
    vnc.set_password("s3cret", valid_to=when)
    assert vnc.passwd == "s3cret"
    assert vnc.passwd_valid_to == when.replace(microsecond=0)
    vnc.set_password(None)
    assert vnc.passwd is None and vnc.passwd_valid_to is None
    vnc.set_listen_socket()
    assert vnc.listens == [domxml.Listen("socket")] and vnc.listen_address is None
    assert vnc.port is None and vnc.autoport is None
    vnc.set_listen_none()
    assert vnc.listens == [domxml.Listen("none")]
    spice = dom.replace_device(dom.graphics[0], domxml.new_graphics("spice",
                                                                    listen="127.0.0.1"))
    assert [g.type for g in dom.graphics] == ["spice", "spice"]
    assert spice.autoport is True and spice.listen_address == "127.0.0.1"
    spice.port, spice.tls_port = 5900, 5901
    spice.set_channel_mode("main", "secure")
    assert spice.tls_only
    spice.set_channel_mode("main", None)
    assert not spice.tls_only
    spice.set_autoport()
    assert spice.port is None and spice.tls_port is None


def test_video_tpm_rng_serial_and_usb_devices(dom):
    video = dom.videos[0]
    video.set_model("qxl", vram=65536)
    assert (video.model, video.vram, video.heads, video.primary) == ("qxl", 65536, 1, True)
    dom.remove_device(dom.devices_of(Tpm)[0])
    tpm = dom.add_device(domxml.new_tpm())
    assert (tpm.model, tpm.backend_type, tpm.version) == ("tpm-crb", "emulator", "2.0")
    kinds = [d.kind for d in dom.devices]
    assert kinds.index("tpm") == kinds.index("input") + 4   # where libvirt writes a TPM
    dom.add_device(domxml.new_rng("/dev/random"))
    assert [r.source for r in dom.devices_of(Rng)] == ["/dev/urandom", "/dev/random"]
    serial = dom.add_device(domxml.new_serial("file", port=1, path="/var/log/s.log"))
    assert [s.target_port for s in dom.devices_of(Serial)] == [0, 1]
    assert serial.source_path == "/var/log/s.log"
    usb = dom.add_device(domxml.new_usb_hostdev(0x046d, 0xc52b))
    assert usb.usb_ids == (0x046d, 0xc52b) and dom.hostdevs[-1].element is usb.element
    pci = dom.add_device(domxml.new_pci_hostdev(0, 0x3a, 0x1f, 3))
    assert pci.pci_address == (0, 0x3a, 0x1f, 3) and pci.managed is True


def test_metadata_entries_by_namespace(dom):
    entry = ET.Element("{https://hvconsole.example/tags/1}tags")
    ET.SubElement(entry, "{https://hvconsole.example/tags/1}tag").text = "db"
    dom.set_metadata_entry(entry, "hvc")
    assert [t.text for t in dom.metadata_entry("https://hvconsole.example/tags/1")] == ["db"]
    assert "<libosinfo:os" in dom.to_xml()
    lines = lines_of(dom)
    start = lines.index("  <metadata>")
    assert lines[start + 1:start + 4] == [
        "    <hvc:tags xmlns:hvc='https://hvconsole.example/tags/1'>",
        "      <hvc:tag>db</hvc:tag>", "    </hvc:tags>"]
    dom.remove_metadata_entry("https://hvconsole.example/tags/1")
    dom.remove_metadata_entry("http://libosinfo.org/xmlns/libvirt/domain/1.0")
    assert dom.metadata is None
    fresh = domxml.parse("<domain><name>x</name><memory>1</memory></domain>")
    fresh.set_metadata_entry(ET.Element("{urn:app}a"), "app")
    assert fresh.to_xml() == ("<domain><name>x</name><metadata><app:a xmlns:app='urn:app'/>"
                              "</metadata><memory>1</memory></domain>\n")
    with pytest.raises(ValueError):
        fresh.set_metadata_entry(ET.Element("plain"), "p")


def test_a_copy_is_independent(dom):
    other = dom.copy()
    other.name = "other"
    other.remove_device(other.disks[0])
    assert dom.name == "rich" and len(dom.disks) == 5 and len(other.disks) == 4
    assert dom.to_xml() == RICH.replace('"', "'")


def test_features_and_clock(dom):
    features = dom.features
    features.enable("vmport")
    assert features.has("vmport")
    features.disable("apic")
    features.enable("hyperv", mode="custom")
    assert features.names == ["acpi", "vmport", "hyperv"]
    clock = dom.clock
    clock.offset = "localtime"
    clock.set_timer("hpet", present=None)
    clock.set_timer("kvmclock", present="yes")
    assert "hpet" not in clock.timers and clock.timers["kvmclock"]["present"] == "yes"
