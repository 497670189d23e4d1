"""The New VM wizard's choices as one plain object, and the definition it becomes.

The wizard's pages only edit a ``VmPlan``; what may be chosen and why not is decided in
validation.py against the host's facts, and ``to_spec`` turns a valid plan into the
connector's ``CreateSpec``. So the whole wizard's logic is testable without a window.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from connectors.libvirt.cloudinit import CloudInitConfig
from connectors.libvirt.create_ops import CreateSpec, NewDisk, Source, Upload, VolumeRef
from connectors.libvirt.host_facts import HostFacts
from connectors.libvirt.install_tree import TreeFacts
from connectors.libvirt.iso9660 import IsoFacts
from connectors.libvirt.osinfo import GENERIC, OsDb, OsDefaults, OsEntry

MIB = 1 << 20
GIB = 1 << 30
SOURCE_LABELS = {
    Source.ISO: "Install media (ISO image)",
    Source.URL: "Network install (HTTP or HTTPS tree)",
    Source.PXE: "Network boot (PXE)",
    Source.IMPORT: "Import an existing disk image",
    Source.CLOUD: "Cloud image with cloud-init",
    Source.KERNEL: "Kernel and initrd on the host (Xen PV)",
}


@dataclass
class VmPlan:
    source: Source = Source.ISO
    # install media: a volume in a pool, or a file here uploaded into ``upload_pool``
    from_local: bool = False
    volume: VolumeRef | None = None            # ISO, disk image or cloud image on the host
    local_path: str = ""
    media: IsoFacts | None = None              # the ISO's labels, once read
    media_error: str = ""
    checking: bool = False                     # the ISO or tree is being looked at
    url: str = ""
    tree: TreeFacts | None = None
    tree_error: str = ""
    kernel_args: str = ""
    image_format: str = "qcow2"
    cloud_linked: bool = True
    cloud_user: str = ""
    cloud_password: str = ""
    cloud_ssh_key: str = ""
    cloud_hostname: str = ""
    kernel_path: str = ""
    initrd_path: str = ""
    upload_pool: str = ""
    # operating system
    os: OsEntry | None = None
    os_detected: bool = False
    # resources
    domain_type: str = "kvm"
    os_type: str = "hvm"
    memory_mib: int = 2048
    vcpus: int = 2
    sockets: int = 1
    cores: int = 2
    threads: int = 1
    cpu_mode: str = "host-passthrough"         # host-passthrough, host-model, default
    firmware: str = "bios"
    secure_boot: bool = False
    tpm: bool = False
    # storage, network, graphics
    disk_enabled: bool = True
    disk_pool: str = ""
    disk_gib: int = 20
    disk_format: str = "qcow2"
    disk_bus: str = "virtio"
    network_kind: str = "network"              # network, bridge, user, none
    network_name: str = ""
    nic_model: str = "virtio"
    graphics: str = "vnc"                      # vnc, spice, none
    graphics_password: str = ""
    video: str = "virtio"
    # summary
    name: str = ""
    autostart: bool = False
    start_now: bool = True
    open_console: bool = True
    defaults_applied_for: str = field(default="", repr=False)

    @property
    def xen_pv(self) -> bool:
        return self.domain_type == "xen" and self.os_type == "xen"

    @property
    def needs_start(self) -> bool:
        """A network install boots its installer once; it must start now."""
        return self.source is Source.URL

    def upload_size(self) -> int:
        """Bytes this plan copies from this computer into ``upload_pool``."""
        if self.from_local and self.source in (Source.ISO, Source.IMPORT, Source.CLOUD):
            try:
                return os.path.getsize(self.local_path)
            except OSError:
                return 0
        return 0

    def apply_os_defaults(self, db: OsDb, facts: HostFacts | None) -> OsDefaults:
        """The OS's defaults for what it sets (memory, vCPUs, disk, buses, video,
        firmware, TPM), taken from osinfo-db; each once per OS, so the user's own
        changes to a later page are kept when they come back."""
        entry = self.os or GENERIC
        defaults = db.defaults(entry, "x86_64", q35=not self.xen_pv)
        if self.defaults_applied_for == entry.id:
            return defaults
        self.defaults_applied_for = entry.id
        memory = defaults.memory_mib
        if facts is not None:           # never more than the host has free
            memory = min(memory, max(256, facts.available_memory_kib // 1024 // 2))
        self.memory_mib = memory
        self.vcpus = defaults.vcpus
        self.sockets, self.cores, self.threads = 1, defaults.vcpus, 1
        self.disk_gib = defaults.disk_gib
        self.disk_bus = defaults.disk_bus
        self.nic_model = defaults.nic_model
        self.video = defaults.video
        self.firmware = defaults.firmware
        self.secure_boot = defaults.uefi_required
        self.tpm = defaults.tpm
        return defaults

    def suggested_name(self, taken: frozenset[str]) -> str:
        base = (self.os.short_id if self.os and self.os is not GENERIC else "vm")
        name, n = base, 2
        while name in taken:
            name = f"{base}-{n}"
            n += 1
        return name

    def to_spec(self) -> CreateSpec:
        """The connector's job for a plan validation.py accepted."""
        source: VolumeRef | Upload | None = None
        if self.source in (Source.ISO, Source.IMPORT, Source.CLOUD):
            if self.from_local:
                fmt = "raw" if self.source is Source.ISO else self.image_format
                source = Upload(self.local_path, self.upload_pool,
                                os.path.basename(self.local_path), fmt)
            else:
                source = self.volume
        disk = None
        if self.disk_enabled and self.source in (Source.ISO, Source.URL, Source.PXE,
                                                 Source.KERNEL):
            disk = NewDisk(self.disk_pool, self.disk_gib * GIB, self.disk_format)
        elif self.source is Source.CLOUD:
            disk = NewDisk(self.disk_pool or self.upload_pool, self.disk_gib * GIB)
        cloud = None
        if self.source is Source.CLOUD:
            cloud = CloudInitConfig(hostname=self.cloud_hostname or self.name,
                                    user=self.cloud_user,
                                    password=self.cloud_password or None,
                                    ssh_keys=tuple(k for k in self.cloud_ssh_key.splitlines()
                                                   if k.strip()))
        network = None
        if self.network_kind in ("network", "bridge"):
            network = (self.network_kind, self.network_name)
        elif self.network_kind == "user":
            network = ("user", "")
        topology = (self.sockets, self.cores, self.threads) if not self.xen_pv else None
        return CreateSpec(
            name=self.name, source=self.source, domain_type=self.domain_type,
            os_type=self.os_type, memory_mib=self.memory_mib, vcpus=self.vcpus,
            topology=topology, cpu_mode=self.cpu_mode,
            firmware=self.firmware if not self.xen_pv else "bios",
            secure_boot=self.secure_boot, tpm=self.tpm and not self.xen_pv,
            iso=source if self.source is Source.ISO else None,
            kernel_url=self.tree.kernel_url if self.tree else None,
            initrd_url=self.tree.initrd_url if self.tree else None,
            kernel_args=self.kernel_args,
            image=source if self.source in (Source.IMPORT, Source.CLOUD) else None,
            image_format=self.image_format, linked=self.cloud_linked, cloud=cloud,
            kernel_path=self.kernel_path or None, initrd_path=self.initrd_path or None,
            work_pool=self.upload_pool or self.disk_pool or None, disk=disk,
            disk_bus=self.disk_bus, cdrom_bus="sata" if not self.xen_pv else "xen",
            network=network, nic_model=self.nic_model,
            graphics=None if self.graphics == "none" else self.graphics,
            graphics_password=self.graphics_password or None,
            video=None if self.graphics == "none" or self.xen_pv else self.video,
            os_id=self.os.id if self.os and self.os is not GENERIC else None,
            autostart=self.autostart, start=self.start_now or self.needs_start)
