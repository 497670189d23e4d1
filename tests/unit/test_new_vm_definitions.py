"""What New VM defines for each source, read back through the domain XML model, and how
osinfo-db's data is matched (the machine's own osinfo-db package)."""
from __future__ import annotations

import pytest

from app.new_vm.plan import VmPlan
from connectors.libvirt import domxml, iso9660, osinfo
from connectors.libvirt import create_ops as co
from tests.widgets.new_vm_helpers import iso_bytes

POOLS = {"default": "/var/lib/libvirt/images"}


def _preview(**changes) -> domxml.Domain:
    values = dict(name="vm1", source=co.Source.ISO, domain_type="kvm", memory_mib=2048,
                  vcpus=2, iso=co.VolumeRef("default", "d.iso"),
                  disk=co.NewDisk("default", 20 << 30), network=("network", "default"))
    values.update(changes)
    return domxml.parse(co.preview_xml(co.CreateSpec(**values), POOLS))


def test_an_iso_install_boots_the_disk_first_then_the_disc():
    dom = _preview()
    disk, cdrom = dom.disks
    assert (disk.device, disk.boot_order, disk.source_file) == (
        "disk", 1, "/var/lib/libvirt/images/vm1.qcow2")
    assert (cdrom.device, cdrom.bus, cdrom.boot_order, cdrom.readonly) == (
        "cdrom", "sata", 2, True)
    assert dom.interfaces[0].boot_order is None and dom.interfaces[0].model == "virtio"
    assert dom.interfaces[0].mac.startswith("52:54:00:")
    assert dom.os.machine == "q35" and dom.memory_kib == 2 << 20 and dom.vcpus == 2


def test_the_cpu_model_under_kvm():
    assert _preview().cpu.mode == "host-passthrough"
    assert _preview(cpu_mode="host-model").cpu.mode == "host-model"
    assert _preview(cpu_mode="default").cpu is None
    default = _preview(cpu_mode="default", topology=(1, 2, 1))
    assert default.cpu.mode is None and default.cpu.topology.cores == 2


def test_pxe_boots_the_disk_then_the_network():
    dom = _preview(source=co.Source.PXE, iso=None)
    assert [d.device for d in dom.disks] == ["disk"]
    assert dom.disks[0].boot_order == 1 and dom.interfaces[0].boot_order == 2


def test_a_cloud_image_gets_its_overlay_and_the_seed_disc_which_never_boots():
    cfg = co.cloudinit.CloudInitConfig("h", "alice", "pw")
    dom = _preview(source=co.Source.CLOUD, iso=None, image=co.VolumeRef("default", "b.qcow2"),
                   cloud=cfg, work_pool="default")
    disk, seed = dom.disks
    assert disk.source_file.endswith("/vm1.qcow2") and disk.boot_order == 1
    assert seed.source_file.endswith("/vm1-cidata.iso") and seed.boot_order is None


def test_uefi_secure_boot_and_a_tpm_for_q35():
    dom = _preview(firmware="efi", secure_boot=True, tpm=True, os_id="http://x/os")
    assert dom.os.firmware == "efi" and dom.os.secure_boot is True
    assert dom.features.has("smm")
    tpm = dom.devices_of(domxml.Tpm)[0]
    assert (tpm.model, tpm.backend_type, tpm.version) == ("tpm-crb", "emulator", "2.0")
    assert dom.metadata_entry(co.LIBOSINFO_NS) is not None


def test_a_xen_pv_guest_boots_its_kernel_with_no_boot_order():
    dom = _preview(source=co.Source.KERNEL, domain_type="xen", os_type="xen", iso=None,
                   disk=co.NewDisk("default", 1 << 30), kernel_path="/root/vmlinuz",
                   initrd_path="/root/initrd.gz", kernel_args="console=hvc0",
                   network=("bridge", "xenbr0"), video=None)
    assert dom.type == "xen" and dom.os.type == "xen"
    assert (dom.os.kernel, dom.os.initrd, dom.os.cmdline) == (
        "/root/vmlinuz", "/root/initrd.gz", "console=hvc0")
    assert dom.disks[0].bus == "xen" and all(d.boot_order is None for d in dom.devices)
    assert dom.interfaces[0].mac.startswith("00:16:3e:") and dom.interfaces[0].model is None


def test_a_network_install_shows_its_first_boot_in_the_preview():
    dom = _preview(source=co.Source.URL, iso=None, work_pool="default",
                   kernel_url="http://m/linux", initrd_url="http://m/initrd.gz")
    assert dom.os.kernel == "/var/lib/libvirt/images/vm1-kernel"
    assert "First boot only" in (dom.description or "")


def test_the_plan_becomes_the_spec_the_wizard_shows():
    plan = VmPlan(name="web", from_local=True, local_path="/tmp/d.iso",
                  upload_pool="default", disk_pool="default", disk_gib=8,
                  network_kind="user", graphics="spice", sockets=1, cores=2, vcpus=2)
    spec = plan.to_spec()
    assert spec.iso == co.Upload("/tmp/d.iso", "default", "d.iso", "raw")
    assert spec.disk == co.NewDisk("default", 8 << 30, "qcow2")
    assert spec.network == ("user", "") and spec.graphics == "spice"
    assert spec.topology == (1, 2, 1) and spec.start


def test_iso_labels_are_read_and_a_non_iso_is_refused():
    facts = iso9660.read_head(iso_bytes("Fedora-WS-Live-38-1-6"))
    assert facts.label.volume_id == "Fedora-WS-Live-38-1-6" and facts.bootable
    assert not facts.hybrid
    with pytest.raises(iso9660.NotAnIso, match="too small"):
        iso9660.read_head(b"x" * 100, "tiny.iso")
    with pytest.raises(iso9660.NotAnIso, match="no CD001"):
        iso9660.read_head(bytes(64 * 1024), "zeros.iso")


@pytest.fixture(scope="module")
def db():
    return osinfo.load_default()


def test_discs_and_trees_are_matched_as_libosinfo_does(db):
    label = osinfo.DiscLabel(volume_id="Debian 11.7.0 amd64 n")
    assert db.identify_disc(label).short_id == "debian11"
    assert db.identify_disc(label, "aarch64") is None             # an amd64 disc
    assert db.identify_disc(osinfo.DiscLabel(volume_id="MY_OWN_DISC")) is None
    found = db.identify_tree_url("https://mirror.example/debian/dists/bullseye/main/"
                                 "installer-amd64/")
    assert found is not None and found[0].short_id == "debian11"
    assert found[1].kernel == "current/images/netboot/debian-installer/amd64/linux"
    assert db.identify_treeinfo("Fedora", "36", "x86_64").short_id == "fedora36"


def test_defaults_follow_the_os(db):
    debian = db.defaults(db.get("debian11"))
    assert (debian.disk_bus, debian.nic_model, debian.firmware) == ("virtio", "virtio", "bios")
    assert debian.memory_mib == 1024 and debian.disk_gib == 20
    xp = db.defaults(db.get("winxp"))
    assert xp.disk_bus == "sata" and xp.nic_model != "virtio"
    assert db.defaults(osinfo.GENERIC).memory_mib == 2048
