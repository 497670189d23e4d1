"""A host for the New VM wizard's widget tests, and discs to show it.

The host is a stand-in (no libvirtd in widget tests): its facts are what a KVM host
with OVMF and swtpm, or a Xen host, or a host without them, answers (the records the
connector makes of those answers), and ``create_vm`` runs a scripted job that reports
progress and honours cancel like create_ops does. Discs are real ISO 9660 headers.
"""
from __future__ import annotations

import asyncio
import struct
from dataclasses import replace

from connectors.libvirt.capabilities import DomainCapabilities, GuestArch, HostCapabilities
from connectors.libvirt.create_ops import CreateCancelled, CreateFailed
from connectors.libvirt.host_facts import HostFacts, PoolFacts, VolumeFacts

GIB = 1 << 30

Q35 = DomainCapabilities(
    domain_type="kvm", arch="x86_64", machine="pc-q35-7.2",
    emulator="/usr/bin/qemu-system-x86_64", max_vcpus=288, firmware=("efi", "bios"),
    loaders=("/usr/share/OVMF/OVMF_CODE_4M.ms.fd",), secure_boot_values=("yes", "no"),
    cpu_modes=("host-passthrough", "host-model"), disk_devices=("disk", "cdrom"),
    disk_buses=("virtio", "sata", "scsi", "usb"), graphics_types=("vnc", "spice"),
    video_models=("virtio", "qxl", "vga", "bochs", "cirrus"), tpm_models=("tpm-crb",),
    tpm_backends=("emulator",), tpm_versions=("2.0",))
BARE = replace(Q35, firmware=(), loaders=(), secure_boot_values=(), tpm_backends=(),
               graphics_types=("vnc",))
KVM_HOST = HostCapabilities(9_000_000, 7_002_000, "x86_64", (
    GuestArch("hvm", "x86_64", ("kvm", "qemu"), ("pc", "q35")),), ("dir",))
XEN_HOST = HostCapabilities(9_000_000, 4_017_000, "x86_64", (
    GuestArch("xen", "x86_64", ("xen",), ("xenpv",)),), ("dir",))
XEN_PV = replace(Q35, domain_type="xen", machine="xenpv", firmware=(), loaders=(),
                 tpm_models=(), tpm_backends=(), video_models=(), disk_buses=("xen",))


def pools(free: int = 100 * GIB) -> tuple[PoolFacts, ...]:
    return (PoolFacts("default", True, "dir", "/var/lib/libvirt/images", 200 * GIB, free, (
                VolumeFacts("debian-11.iso", "/var/lib/libvirt/images/debian-11.iso",
                            400 << 20, 400 << 20, "iso"),
                VolumeFacts("base.qcow2", "/var/lib/libvirt/images/base.qcow2", 2 * GIB,
                            GIB, "qcow2"))),
            PoolFacts("tiny", True, "dir", "/srv/tiny", 8 << 20, 4 << 20),
            PoolFacts("off", False, "dir", "/srv/off", 0, 0))


def kvm_facts(caps: DomainCapabilities = Q35, **changes) -> HostFacts:
    facts = HostFacts(driver="QEMU", host=KVM_HOST,
                      domain_caps={("kvm", "hvm"): caps,
                                   ("qemu", "hvm"): replace(caps, domain_type="qemu")},
                      total_memory_kib=16 << 20, available_memory_kib=8 << 20,
                      names=frozenset({"web-01"}), pools=pools(),
                      networks=(("default", True), ("isolated", False)), bridges=("br0",))
    return replace(facts, **changes)


def xen_facts() -> HostFacts:
    return HostFacts(driver="Xen", host=XEN_HOST, domain_caps={("xen", "xen"): XEN_PV},
                     total_memory_kib=3 << 20, available_memory_kib=2 << 20,
                     names=frozenset(), pools=pools(), networks=(), bridges=())


class FakeHost:
    """Answers like LibvirtHost; ``create_vm`` walks a job through its phases."""

    uri = "qemu:///system"

    def __init__(self, facts: HostFacts, *, fail: str = "", steps: int = 20) -> None:
        self.facts, self.fail, self.steps = facts, fail, steps
        self.created: list = []
        self.heads: dict[tuple[str, str], bytes] = {}
        self.gate = asyncio.Event()
        self.gate.set()

    async def new_vm_facts(self) -> HostFacts:
        return self.facts

    async def volume_head(self, pool: str, volume: str) -> bytes:
        return self.heads[(pool, volume)]

    async def create_vm(self, spec, job) -> str:
        job.steps = self.steps
        for step in range(self.steps):
            await self.gate.wait()
            if job.cancelled:
                raise CreateCancelled("Creating the VM was cancelled; nothing was left "
                                      "behind.")
            job.phase, job.step = f"Step {step}", step
            await asyncio.sleep(0.01)
        if self.fail:
            raise CreateFailed(self.fail)
        job.defined, job.key = True, "0b9c7a3e-0000-4000-8000-000000000001"
        self.created.append(spec)
        return job.key

    async def clone_vm(self, spec, job) -> str:
        raise NotImplementedError


def iso_bytes(volume_id: str, bootable: bool = True) -> bytes:
    """The first 20 sectors of an ISO 9660 disc with this volume ID."""
    sector = 2048
    pvd = bytearray(sector)
    pvd[0], pvd[1:6], pvd[6] = 1, b"CD001", 1
    pvd[40:72] = volume_id.encode().ljust(32)
    descriptors = [bytes(pvd)]
    if bootable:
        boot = bytearray(sector)
        boot[0], boot[1:6], boot[6] = 0, b"CD001", 1
        boot[7:30] = b"EL TORITO SPECIFICATION"
        boot[71:75] = struct.pack("<I", 20)
        descriptors.append(bytes(boot))
    end = bytearray(sector)
    end[0], end[1:6], end[6] = 255, b"CD001", 1
    descriptors.append(bytes(end))
    return bytes(16 * sector) + b"".join(descriptors) + bytes(sector)
