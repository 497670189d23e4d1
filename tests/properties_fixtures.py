"""Properties sessions over real domain documents, for the unit and widget tests.

The documents are libvirt's own (tests/unit/data/domain_rich_defined.xml: a domain with
many device kinds as libvirt 9.0 wrote it back); what libvirt would answer besides
(capabilities, disk sizes, pools, networks) is written here by hand, since these tests run
without a libvirtd. The same pages and plans run against libvirtd in
tests/integration/test_properties_*.py.
"""
from __future__ import annotations

from pathlib import Path

from app.properties.data import PropertiesData
from app.properties.session import EditSession
from connectors.libvirt.capabilities import DomainCapabilities, HostCapabilities
from connectors.libvirt.domain_ops import DiskSize, DomainFacts, PoolVolume
from connectors.libvirt.model import NetworkInfo, PoolInfo, VMInfo, VMState
from connectors.libvirt.nodedev import UsbDevice

RICH = (Path(__file__).resolve().parent / "unit" / "data" /
        "domain_rich_defined.xml").read_text()
KEY = "45d84321-f78b-4174-8561-9182eaf7e9c9"
GIB = 1024 ** 3

CAPS = DomainCapabilities(
    domain_type="qemu", arch="x86_64", machine="pc-q35-7.2",
    emulator="/usr/bin/qemu-system-x86_64", max_vcpus=255, firmware=("efi",),
    loaders=("/usr/share/OVMF/OVMF_CODE_4M.fd",), secure_boot_values=("yes", "no"),
    cpu_modes=("host-model", "maximum", "custom"), host_model="Skylake-Client",
    cpu_models=("qemu64", "Skylake-Client"), disk_devices=("disk", "cdrom"),
    disk_buses=("virtio", "sata", "scsi", "usb"), graphics_types=("vnc", "spice"),
    video_models=("vga", "virtio", "qxl", "bochs"), tpm_models=("tpm-tis", "tpm-crb"),
    tpm_backends=("emulator", "passthrough"), tpm_versions=("1.2", "2.0"))


def vm_info(running: bool) -> VMInfo:
    return VMInfo(key=KEY, name="rich",
                  state=VMState.RUNNING if running else VMState.SHUTOFF, state_reason="",
                  domain_type="qemu", os_type="hvm", arch="x86_64", virtualization="",
                  vcpus=2, max_vcpus=4, memory_kib=393216, max_memory_kib=524288,
                  persistent=True, autostart=False, managed_save=False)


def data(*, running: bool = False, xml: str = RICH, live_xml: str | None = None,
         caps: DomainCapabilities | None = CAPS, usb: tuple[UsbDevice, ...] = (),
         **extra) -> PropertiesData:
    facts = DomainFacts(xml, (live_xml or xml) if running else None, running, True, False,
                        {"vda": DiskSize(10 * GIB, 2 * GIB, "hvconsole-test", "rich.qcow2"),
                         "vdc": DiskSize(GIB, GIB, "hvconsole-test", "rich-data.qcow2")})
    return PropertiesData(
        vm_info(running), facts, HostCapabilities(9_000_000, 7_002_000, "x86_64", ()),
        caps,
        volumes=(PoolVolume("hvconsole-test", "debian.iso", "/pool/debian.iso", GIB),
                 PoolVolume("hvconsole-test", "spare.qcow2", "/pool/spare.qcow2", GIB)),
        networks=(NetworkInfo("n1", "default", True, True, True),
                  NetworkInfo("n2", "isolated", False, True, False)),
        pools=(PoolInfo("p1", "hvconsole-test", "running", "dir", True, True, 100 * GIB,
                        10 * GIB, 5 * GIB, "/pool"),),
        usb=usb, other_names=frozenset({"web-01"}), **extra)


def session(**kwargs) -> EditSession:
    return EditSession(data(**kwargs))
