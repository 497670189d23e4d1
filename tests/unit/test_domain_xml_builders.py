"""New domains and devices as virt-install would write them (libvirtd accepts them: see
tests/integration/test_domain_xml_libvirtd.py)."""
from __future__ import annotations

import pytest

from connectors.libvirt import domxml
from connectors.libvirt.domxml import (Channel, Console, Controller, Input, Memballoon, Rng,
                                       Serial)


def test_a_new_kvm_domain_has_virt_installs_defaults():
    dom = domxml.new_domain("web", memory_kib=2 * 1024 * 1024, vcpus=2)
    again = domxml.parse(dom.to_xml())
    assert (again.type, again.name, again.memory_kib, again.current_memory_kib) == (
        "kvm", "web", 2097152, 2097152)
    assert (again.vcpus, again.max_vcpus, again.vcpu_placement) == (2, 2, "static")
    assert (again.os.type, again.os.arch, again.os.machine, again.os.firmware) == (
        "hvm", "x86_64", "q35", None)
    assert again.features.names == ["acpi", "apic"]
    assert again.cpu.mode == "host-passthrough"
    assert again.clock.timers["hpet"]["present"] == "no"
    assert (again.on_poweroff, again.on_reboot, again.on_crash) == ("destroy", "restart",
                                                                    "destroy")
    usb = [c for c in again.devices_of(Controller) if c.type == "usb"]
    assert [c.model for c in usb] == ["qemu-xhci"]
    assert [(i.type, i.bus) for i in again.devices_of(Input)] == [("tablet", "usb")]
    assert [g.type for g in again.graphics] == ["vnc"] and again.graphics[0].autoport
    assert [v.model for v in again.videos] == ["virtio"]
    assert [c.target_name for c in again.devices_of(Channel)] == ["org.qemu.guest_agent.0"]
    assert len(again.devices_of(Serial)) == len(again.devices_of(Console)) == 1
    assert [m.model for m in again.devices_of(Memballoon)] == ["virtio"]
    assert [r.source for r in again.devices_of(Rng)] == ["/dev/urandom"]
    assert again.disks == [] and again.interfaces == []


def test_devices_of_a_new_domain_are_in_libvirts_order():
    dom = domxml.new_domain("x", graphics="spice", video="qxl")
    dom.add_device(domxml.new_interface(network="default"))
    dom.add_device(domxml.new_disk("vda", file="/pool/x.qcow2", boot_order=1))
    dom.add_device(domxml.new_cdrom("sda", file="/iso/x.iso", boot_order=2))
    dom.add_device(domxml.new_tpm())
    kinds = [d.kind for d in dom.devices]
    order = [k for i, k in enumerate(kinds) if k not in kinds[:i]]
    assert order == ["disk", "controller", "interface", "serial", "console", "channel",
                     "input", "tpm", "graphics", "sound", "video", "redirdev", "memballoon",
                     "rng"]
    assert [c.target_name for c in dom.devices_of(Channel)] == [
        "org.qemu.guest_agent.0", "com.redhat.spice.0"]
    assert [d.element for d in dom.boot_order()] == [d.element for d in dom.disks]


def test_uefi_with_secure_boot_and_a_tcg_domain():
    dom = domxml.new_domain("secure", domain_type="qemu", firmware="efi", secure_boot=True)
    assert dom.os.firmware == "efi" and dom.os.secure_boot
    assert dom.features.has("smm") and dom.cpu is None      # TCG: libvirt's default CPU
    assert "<os firmware='efi'>" in dom.to_xml()


def test_machines_for_other_architectures_and_xen():
    assert domxml.default_machine("kvm", "aarch64") == "virt"
    assert domxml.default_machine("xen", "x86_64") is None
    arm = domxml.new_domain("arm", domain_type="qemu", arch="aarch64")
    assert arm.os.machine == "virt" and arm.features.names == ["acpi", "gic"]
    pv = domxml.new_domain("pv", domain_type="xen", os_type="xen", graphics=None)
    assert pv.os.machine is None and pv.features is None
    assert [(c.type, c.target_type) for c in pv.devices_of(Console)] == [("pty", "xen")]
    assert [m.model for m in pv.devices_of(Memballoon)] == ["xen"]
    hvm = domxml.new_domain("hvm", domain_type="xen")
    assert hvm.features.names == ["acpi", "apic", "pae"]
    with pytest.raises(ValueError):
        domxml.new_domain("lxc", domain_type="lxc")


def test_disk_names_are_the_first_free_on_the_bus():
    dom = domxml.new_domain("x")
    assert domxml.next_target(dom, "virtio") == "vda"
    for _ in range(27):
        dom.add_device(domxml.new_disk(domxml.next_target(dom, "virtio"), file="/f"))
    assert [d.target_dev for d in dom.disks][-3:] == ["vdy", "vdz", "vdaa"]
    assert domxml.next_target(dom, "sata") == "sda"
    assert domxml.next_target(dom, "xen") == "xvda"


def test_device_factories_refuse_what_cannot_be():
    with pytest.raises(ValueError):
        domxml.new_disk("vda")                                   # a disk with nothing in it
    with pytest.raises(ValueError):
        domxml.new_disk("vda", file="/a", block="/dev/b")
    with pytest.raises(ValueError):
        domxml.new_interface(network="a", bridge="b")
    with pytest.raises(ValueError):
        domxml.new_graphics("rdp")
    empty = domxml.new_cdrom("sdb")
    assert empty.device == "cdrom" and not empty.has_media and empty.readonly


def test_device_factories_write_what_libvirt_documents():
    assert domxml.new_usb_hostdev(0x46d, 0xc52b).to_xml() == (
        "<hostdev mode='subsystem' type='usb' managed='yes'><source>"
        "<vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>")
    assert domxml.new_pci_hostdev(0, 0x3a, 0x1f, 3).to_xml() == (
        "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
        "domain='0x0000' bus='0x3a' slot='0x1f' function='0x3'/></source></hostdev>")
    assert domxml.new_tpm().to_xml() == ("<tpm model='tpm-crb'><backend type='emulator' "
                                         "version='2.0'/></tpm>")
    assert domxml.new_rng().to_xml() == ("<rng model='virtio'><backend model='random'>"
                                         "/dev/urandom</backend></rng>")
    assert domxml.new_graphics("vnc", listen="0.0.0.0", password="pw").to_xml() == (
        "<graphics type='vnc' autoport='yes' listen='0.0.0.0' passwd='pw'><listen "
        "type='address' address='0.0.0.0'/></graphics>")
    assert domxml.new_interface(bridge="br0", mac="52:54:00:01:02:03").to_xml() == (
        "<interface type='bridge'><mac address='52:54:00:01:02:03'/><source bridge='br0'/>"
        "<model type='virtio'/></interface>")
    assert domxml.new_filesystem("/srv", "share").to_xml() == (
        "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>"
        "<source dir='/srv'/><target dir='share'/></filesystem>")
    assert domxml.random_mac("xen").startswith("00:16:3e:")
