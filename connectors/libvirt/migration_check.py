"""Before a migration starts: what would stop it, in words (XenCenter's pre-checks).

Pure functions over facts already read from both hosts (migration_facts.py reads them):
the VM's definition through the domain XML model, each disk's storage on both sides, the
destination's capabilities, networks, pools, VMs and free memory, and its verdict on the
VM's CPU (compareHypervisorCPU). ``check()`` returns every ``Problem``; a blocking one
disables OK in the Migrate dialog and is why maintenance mode leaves a VM where it is,
a warning is shown beside it. Nothing here calls libvirt, so every rule has a unit test.

What counts as shared storage: a network disk (the source names a server), or an image
in a pool of a type both hosts reach over the network (NFS, Gluster, Ceph, iSCSI…) that
the destination has too. A file on a host's own folder is that host's, even when another
host happens to have a file at the same path: libvirt itself refuses to run a VM from a
local file system on two hosts ("may lead to data corruption"), so such a disk is copied.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.libvirt import domxml
from connectors.libvirt.migration import RAW_ONLY_POOL_TYPES, MigrationOptions, size_text
from connectors.libvirt.model import VMState
from connectors.libvirt.uri import SSH_TRANSPORTS, validate_uri

# Pool types whose volumes another host reaches over the network.
SHARED_POOL_TYPES = frozenset({"netfs", "gluster", "rbd", "iscsi", "iscsi-direct",
                               "sheepdog", "vstorage"})
# Pools a copied disk can go to (the ones HVConsole can make a volume of any size in).
COPY_TARGET_POOL_TYPES = frozenset({"dir", "fs", "netfs", "logical", "gluster", "rbd",
                                    "zfs", "vstorage"})


@dataclass(frozen=True)
class PoolFacts:
    name: str
    type: str
    active: bool
    available: int = 0               # bytes
    path: str = ""


@dataclass(frozen=True)
class DiskFacts:
    """One disk of the VM as both hosts see it."""

    target: str
    device: str = "disk"             # disk, cdrom, floppy, lun
    source_type: str = "file"        # file, block, volume, network, dir
    path: str | None = None          # None: an empty drive
    readonly: bool = False
    format: str = "raw"              # the image's format (qcow2, raw, ...)
    capacity: int = 0
    allocation: int = 0
    source_pool: PoolFacts | None = None   # the source's pool holding it
    dest_pool: PoolFacts | None = None     # the destination's pool holding the same path

    @property
    def empty(self) -> bool:
        return not self.path

    @property
    def shared(self) -> bool:
        if self.source_type == "network":
            return True
        if self.source_pool is None or self.source_pool.type not in SHARED_POOL_TYPES:
            return False
        return self.dest_pool is not None

    @property
    def copyable(self) -> bool:
        """What a storage copy moves: a writable disk with an image (libvirt copies no
        read-only media, and no empty drive)."""
        return not self.empty and not self.readonly and self.device in ("disk", "lun") \
            and self.source_type in ("file", "block", "volume")

    @property
    def label(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"Disk {self.target}{where}"


@dataclass(frozen=True)
class HostFacts:
    """What a host offers a migrating VM."""

    name: str                        # as the user knows it (the tree's label)
    uuid: str
    driver: str                      # getType(): QEMU, Xen
    arch: str
    domain_types: tuple[str, ...] = ()     # hvm guests of the host's arch: kvm, qemu
    available_memory_kib: int | None = None
    networks: frozenset[str] = frozenset()   # active ones
    pools: tuple[PoolFacts, ...] = ()
    domains: tuple[tuple[str, str, bool], ...] = ()   # (name, uuid, active)

    def pool(self, name: str) -> PoolFacts | None:
        return next((p for p in self.pools if p.name == name), None)

    def copy_targets(self) -> list[PoolFacts]:
        """Active pools a disk can be copied into, most free space first."""
        pools = [p for p in self.pools if p.active and p.type in COPY_TARGET_POOL_TYPES]
        return sorted(pools, key=lambda p: -p.available)


@dataclass(frozen=True)
class CpuVerdict:
    """The destination's answer about the VM's CPU. ``compatible`` None: not asked (a
    shut-off VM), or the destination could not say."""

    compatible: bool | None = None
    detail: str = ""                 # libvirt's words on what is missing
    shared_model: str = ""           # a model both hosts run (baseline), when known


@dataclass(frozen=True)
class VMFacts:
    uuid: str
    name: str
    state: VMState
    definition: domxml.Domain
    persistent: bool = True
    managed_save: bool = False
    snapshots: int = 0
    memory_kib: int = 0
    disks: tuple[DiskFacts, ...] = ()
    cpu: CpuVerdict = field(default_factory=CpuVerdict)

    @property
    def live(self) -> bool:
        return self.state in (VMState.RUNNING, VMState.PAUSED)

    def local_disks(self) -> list[DiskFacts]:
        """Disks that only exist on the source's own storage: copied, or the move fails."""
        return [d for d in self.disks if d.copyable and not d.shared]


@dataclass(frozen=True)
class Problem:
    reason: str                      # a sentence for the user
    blocking: bool = True
    disk: str | None = None          # the disk it is about, when it is about one

    def __str__(self) -> str:
        return self.reason


MOVABLE_STATES = frozenset({VMState.RUNNING, VMState.PAUSED, VMState.SHUTOFF})


def check(vm: VMFacts, source: HostFacts, dest: HostFacts,
          options: MigrationOptions) -> list[Problem]:
    """Every reason the migration would fail or lose something, blocking ones first."""
    problems = (_hosts(vm, source, dest) + _state(vm) + _name(vm, dest)
                + _cpu(vm, dest) + _memory(vm, dest) + _devices(vm, dest)
                + _storage(vm, dest, options) + _options(vm, options))
    return sorted(problems, key=lambda p: not p.blocking)


def blocking(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.blocking]


def _hosts(vm: VMFacts, source: HostFacts, dest: HostFacts) -> list[Problem]:
    if source.uuid and source.uuid == dest.uuid:
        return [Problem(f"{source.name} and {dest.name} are the same machine (the same "
                        "host UUID): there is nothing to move.")]
    if source.driver.lower() != dest.driver.lower():
        return [Problem(f"{dest.name} runs {dest.driver}, not {source.driver}: a VM moves "
                        "only between hosts of the same hypervisor.")]
    os = vm.definition.os_if_any
    arch = (os.arch if os is not None else None) or source.arch
    if dest.arch and arch and dest.arch != arch:
        return [Problem(f"{vm.name} is a {arch} VM; {dest.name} runs {dest.arch} guests.")]
    kind = vm.definition.type or ""
    if dest.domain_types and kind and kind not in dest.domain_types:
        offered = " or ".join(dest.domain_types)
        return [Problem(f"{vm.name} runs under {kind.upper()}; {dest.name} offers only "
                        f"{offered.upper()} for {arch} guests.")]
    return []


def _state(vm: VMFacts) -> list[Problem]:
    if vm.state is VMState.SUSPENDED or vm.managed_save:
        return [Problem(f"{vm.name} is suspended (its memory is saved on this host): resume "
                        "it, or shut it down, before moving it.")]
    if vm.state not in MOVABLE_STATES:
        return [Problem(f"{vm.name} is {vm.state.value}: only a running, paused or shut-off "
                        "VM can move.")]
    if not vm.live and not vm.persistent:
        return [Problem(f"{vm.name} has no definition to move (a transient VM exists only "
                        "while it runs).")]
    if vm.snapshots:
        what = "snapshot" if vm.snapshots == 1 else "snapshots"
        return [Problem(f"{vm.name} has {vm.snapshots} {what}; libvirt moves no snapshots: "
                        "delete them (or keep the VM here).")]
    return []


def _name(vm: VMFacts, dest: HostFacts) -> list[Problem]:
    for name, uuid, active in dest.domains:
        if uuid == vm.uuid:
            if active:
                return [Problem(f"{dest.name} already runs {name} (the same VM).")]
            if name != vm.name:
                return [Problem(f"{dest.name} has this VM defined under another name, "
                                f"{name}.")]
            continue      # a copy of its definition, left there: libvirt replaces it
        if name == vm.name:
            return [Problem(f"{dest.name} already has a VM named {name}; rename one of "
                            "them first.")]
    return []


def _cpu(vm: VMFacts, dest: HostFacts) -> list[Problem]:
    if not vm.live or vm.cpu.compatible is not False:
        return []
    reason = f"{dest.name}'s CPU cannot run {vm.name}'s CPU"
    if vm.cpu.detail:
        reason += f": {vm.cpu.detail.rstrip('.')}"
    reason += "."
    if vm.cpu.shared_model:
        reason += (f" Both hosts run the CPU model {vm.cpu.shared_model}: give the VM that "
                   "model (and restart it) to move it live.")
    return [Problem(reason)]


def _memory(vm: VMFacts, dest: HostFacts) -> list[Problem]:
    free = dest.available_memory_kib
    if not vm.live or free is None or vm.memory_kib <= free:
        return []
    return [Problem(f"{vm.name} uses {size_text(vm.memory_kib * 1024)} of memory; "
                    f"{dest.name} has {size_text(free * 1024)} available.")]


def _devices(vm: VMFacts, dest: HostFacts) -> list[Problem]:
    problems = []
    dom = vm.definition
    for hostdev in dom.hostdevs:
        what = {"pci": "PCI", "usb": "USB", "scsi": "SCSI", "mdev": "mediated"}.get(
            hostdev.type or "", hostdev.type or "host")
        problems.append(Problem(f"A {what} device of this host is passed through to "
                                f"{vm.name}; detach it before moving the VM."))
    for fs in dom.devices_of(domxml.Filesystem):
        if vm.live:
            problems.append(Problem(f"{vm.name} shares the host folder {fs.source_dir or '?'}"
                                    " with the guest, which cannot move while it runs."))
    for input_dev in dom.devices_of(domxml.Input):
        if input_dev.type in ("passthrough", "evdev"):
            problems.append(Problem(f"{vm.name} reads an input device of this host "
                                    f"({input_dev.type}); remove it before moving the VM."))
    for dev in dom.devices:
        if dev.kind == "shmem" and vm.live:
            problems.append(Problem(f"{vm.name} shares memory with this host (shmem), "
                                    "which cannot move."))
        if dev.kind == "smartcard" and dev.element.get("mode") == "host":
            problems.append(Problem(f"{vm.name} uses this host's smartcard reader."))
    for nic in dom.interfaces:
        if nic.type == "network" and nic.source_network \
                and nic.source_network not in dest.networks:
            card = f"network card {nic.mac}" if nic.mac else "network card"
            problems.append(Problem(f"{vm.name}'s {card} is on the network "
                                    f"{nic.source_network}, which {dest.name} does not "
                                    "have (or has not started)."))
    return problems


def _storage(vm: VMFacts, dest: HostFacts, options: MigrationOptions) -> list[Problem]:
    problems = []
    chosen = dict(options.copy_storage)
    for disk in vm.local_disks():
        pool_name = chosen.get(disk.target)
        if pool_name is None:
            where = (f"in {disk.source_pool.name}, a {disk.source_pool.type} pool of this "
                     "host" if disk.source_pool is not None else "on this host's own storage")
            problems.append(Problem(
                f"{disk.label} is {where}, not on storage {dest.name} shares: choose to "
                "copy the storage, or move the disk to shared storage first.",
                disk=disk.target))
            continue
        pool = dest.pool(pool_name)
        if pool is None or not pool.active:
            problems.append(Problem(f"{dest.name} has no active storage pool {pool_name} "
                                    f"for {disk.label}.", disk=disk.target))
            continue
        if pool.type not in COPY_TARGET_POOL_TYPES:
            problems.append(Problem(f"HVConsole cannot make a volume for {disk.label} in "
                                    f"{pool_name} (a {pool.type} pool).", disk=disk.target))
            continue
        if not options.live and pool.type in RAW_ONLY_POOL_TYPES and disk.format != "raw":
            problems.append(Problem(f"{disk.label} is a {disk.format} image and {pool_name} "
                                    "holds raw volumes only; a shut-off VM's disks are "
                                    "copied as they are: choose a folder pool.",
                                    disk=disk.target))
    # Room: what each pool must hold for every disk sent to it.
    wanted: dict[str, int] = {}
    for disk in vm.local_disks():
        if disk.target in chosen:
            wanted[chosen[disk.target]] = wanted.get(chosen[disk.target], 0) + \
                (disk.allocation or disk.capacity)
    for pool_name, need in wanted.items():
        pool = dest.pool(pool_name)
        if pool is not None and pool.active and need > pool.available:
            problems.append(Problem(f"{pool_name} on {dest.name} has "
                                    f"{size_text(pool.available)} free; the disks copied "
                                    f"there need {size_text(need)}."))
    for target in chosen:
        named = next((d for d in vm.disks if d.target == target), None)
        if named is None or not named.copyable:
            problems.append(Problem(f"{vm.name} has no disk {target} to copy.", disk=target))
    for disk in vm.disks:
        if disk.copyable or disk.empty or disk.shared or disk.dest_pool is not None:
            continue
        problems.append(Problem(
            f"{disk.label} is not copied ({'read-only' if disk.readonly else disk.device}): "
            f"{dest.name} must have the same file at the same path.", blocking=False,
            disk=disk.target))
    return problems


def _options(vm: VMFacts, options: MigrationOptions) -> list[Problem]:
    problems = []
    if vm.live != options.live:
        kind = "a live" if options.live else "an offline"
        problems.append(Problem(f"{vm.name} is {vm.state.value}: {kind} migration does not "
                                "apply."))
    if options.tunnelled and not options.peer_uri:
        problems.append(Problem("A tunnelled migration needs the address the source's "
                                "libvirtd opens to reach the destination."))
    if options.tunnelled and options.copy_storage and options.live:
        problems.append(Problem("libvirt cannot copy storage through a tunnelled "
                                "migration here: choose one of the two."))
    if options.keep_source_definition and not vm.persistent:
        problems.append(Problem(f"{vm.name} is transient: there is no definition to keep.",
                                blocking=False))
    if vm.local_disks() and options.copy_storage and options.keep_source_definition:
        problems.append(Problem("The copy on this host keeps pointing at the old disks; "
                                "starting both copies would be two different VMs.",
                                blocking=False))
    return problems


def peer_access(source_uri: str, peer_uri: str, source: str, dest: str) -> Problem:
    """Peer-to-peer (tunnelled) migration: the source's libvirtd, not this computer, opens
    ``peer_uri``, with its own credentials. What that needs, as a note; blocking when it
    cannot work at all (a URI without a host names the source's own daemon, unless both
    run on this computer)."""
    try:
        peer = validate_uri(peer_uri)
    except ValueError as err:
        return Problem(f"The address {source} would open to reach {dest} is not a libvirt "
                       f"URI: {err}")
    try:
        here = validate_uri(source_uri).is_local
    except ValueError:
        here = False
    opens = f"{source}'s libvirtd opens {peer.uri} itself"
    if peer.is_local:
        if here:
            return Problem(f"{opens}: both run on this computer, so it reaches {dest}'s "
                           "socket.", blocking=False)
        return Problem(f"{peer.uri} names no host: {source}'s libvirtd would open itself. "
                       f"Give an address of {dest} that {source} can reach (qemu+ssh://… "
                       "or qemu+tls://…).")
    if peer.transport in SSH_TRANSPORTS:
        user = peer.user or "root"
        return Problem(f"{opens}, over SSH as {user}: root on {source} needs an SSH key "
                       f"that {peer.host} accepts, and {peer.host}'s host key in its "
                       "known_hosts (a keyfile= in the URI names a file on "
                       f"{source}, not on this computer).", blocking=False)
    if peer.transport == "tcp":
        return Problem(f"{opens}, over plain TCP: {dest}'s libvirtd must listen on TCP "
                       f"(listen_tcp) and let {source} in (SASL or no authentication).",
                       blocking=False)
    return Problem(f"{opens}, over TLS: {source} needs a client certificate (in "
                   f"/etc/pki/libvirt) signed by a CA that {dest} trusts.", blocking=False)
