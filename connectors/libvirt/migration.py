"""Moving a VM to another host: how HVConsole asks libvirt, and what libvirt says meanwhile.

``Migration`` is one VM's move, in blocking calls for worker threads: ``prepare()`` makes
the destination's volumes for the disks to copy and the destination's definition that
points at them; ``perform()`` is the long call (migrate3, or migrateToURI3 when the
source's daemon talks to the destination itself); ``progress()`` reads the job's
statistics while it runs, ``abort()`` cancels it (abortJob: QEMU stops sending and the
source keeps running the VM, untouched), ``start_post_copy()`` lets a VM that dirties
memory faster than the link carries it finish on the destination; ``discard()`` removes
what ``prepare()`` made when the move did not happen. migration_run.py drives these.

Why these choices:
- Direct migration (migrate3 with both connections of this computer) is the default: it
  needs nothing more than HVConsole already has, whatever the URIs are. Peer-to-peer is
  used only for a tunnelled migration (libvirt tunnels only between daemons): then the
  source's daemon opens ``peer_uri`` itself, with its own credentials.
- Storage is copied into volumes HVConsole creates in the destination pool the user
  chose, and the destination's definition (live and persistent: DEST_XML and
  PERSIST_XML) points at them. libvirt's own pre-creation only finds a pool by the
  disk's folder, and a copy onto the same path of storage both hosts see would read and
  write one file.
- A shut-off VM moves as libvirt's offline migration (its definition only); its disks,
  when copied, go first through the connection's streams (transfer.copy_volume),
  sparse, since libvirt copies no storage offline.
- Statistics are libvirt's (virDomainGetJobStats): data left, dirty rate, the expected
  downtime, the memory pass; nothing is invented between two readings.
"""
from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from typing import Any, cast
from xml.sax.saxutils import escape

import libvirt

from connectors.libvirt import domxml
from connectors.libvirt.transfer import TransferJob, copy_volume

MIB = 1 << 20

# Pools whose volumes live in a block device rather than a file.
BLOCK_POOL_TYPES = frozenset({"logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath",
                              "zfs", "rbd", "sheepdog", "gluster", "vstorage"})
# Pools whose volumes can only be raw images (a qcow2 header in an LV is not a qcow2 disk).
RAW_ONLY_POOL_TYPES = frozenset({"logical", "disk", "iscsi", "iscsi-direct", "scsi",
                                 "mpath", "zfs", "rbd"})


@dataclass(frozen=True)
class MigrationOptions:
    """What the user chose in the Migrate dialog (or maintenance mode chose for them).

    ``copy_storage`` maps each disk to copy (its target, "vda") to the destination pool
    it goes to; disks not named stay where they are (shared storage). ``dest_address`` is
    the destination's address for QEMU's own stream (tcp://ADDR, and the address it
    listens on) when the destination's host name would not reach it; "" lets the
    destination choose. ``peer_uri`` is the URI the source's daemon opens for a
    peer-to-peer (tunnelled) migration. ``stall_timeout_s``: no data moved for this long
    means the link or the destination is gone, and the job is aborted.
    """

    live: bool = True
    copy_storage: tuple[tuple[str, str], ...] = ()
    keep_source_definition: bool = False
    remove_source_disks: bool = False      # after the copy, when the definition moved
    persistent: bool = True
    bandwidth_mib_s: int = 0
    auto_converge: bool = False
    post_copy: bool = False
    tunnelled: bool = False
    tls: bool = False
    peer_uri: str = ""
    dest_address: str = ""
    stall_timeout_s: float = 60.0

    @property
    def peer_to_peer(self) -> bool:
        return self.tunnelled

    @property
    def copied_disks(self) -> tuple[str, ...]:
        return tuple(target for target, _pool in self.copy_storage)


def migration_flags(options: MigrationOptions) -> int:
    """libvirt's VIR_MIGRATE_* flags for these options."""
    flags = 0
    if options.live:
        flags |= libvirt.VIR_MIGRATE_LIVE
        if options.copy_storage:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
        if options.auto_converge:
            flags |= libvirt.VIR_MIGRATE_AUTO_CONVERGE
        if options.post_copy:
            flags |= libvirt.VIR_MIGRATE_POSTCOPY
        if options.tls:
            flags |= libvirt.VIR_MIGRATE_TLS
    else:
        flags |= libvirt.VIR_MIGRATE_OFFLINE
    if options.persistent or not options.live:       # offline moves only a definition
        flags |= libvirt.VIR_MIGRATE_PERSIST_DEST
        if not options.keep_source_definition:
            flags |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    if options.peer_to_peer:
        flags |= libvirt.VIR_MIGRATE_PEER2PEER
        if options.tunnelled:
            flags |= libvirt.VIR_MIGRATE_TUNNELLED
    return flags


def address_uri(address: str) -> str:
    """tcp://ADDR for QEMU's stream; an IPv6 address in brackets."""
    host = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return f"tcp://{host}"


def migration_params(options: MigrationOptions, dest_xml: str | None = None,
                     persist_xml: str | None = None) -> dict[str, Any]:
    """libvirt's typed parameters for migrate3/migrateToURI3."""
    params: dict[str, Any] = {}
    if dest_xml is not None:
        params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = dest_xml
    if persist_xml is not None:
        params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] = persist_xml
    if not options.live:
        return params
    if options.copy_storage:
        params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = list(options.copied_disks)
    if options.bandwidth_mib_s > 0:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(options.bandwidth_mib_s)
    if options.dest_address and not options.tunnelled:
        params[libvirt.VIR_MIGRATE_PARAM_URI] = address_uri(options.dest_address)
        params[libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS] = options.dest_address
    return params


# ---- progress ----------------------------------------------------------------------------

@dataclass(frozen=True)
class JobProgress:
    """One reading of the job's statistics (bytes, bytes per second, milliseconds)."""

    active: bool
    elapsed_ms: int = 0
    data_total: int = 0
    data_processed: int = 0
    data_remaining: int = 0
    memory_total: int = 0
    memory_remaining: int = 0
    memory_bps: int = 0
    dirty_rate_bps: int = 0            # pages dirtied per second times the page size
    iteration: int = 0                 # the memory pass (1 = the first full copy)
    disk_total: int = 0
    disk_remaining: int = 0
    downtime_ms: int | None = None     # expected while running, actual once completed
    throttle_percent: int = 0          # auto-converge's slowdown of the guest's vCPUs
    post_copy: bool = False            # set by the run once it switched

    @property
    def fraction(self) -> float | None:
        """Done of what is known so far (the total grows as the guest dirties memory)."""
        if self.data_total <= 0:
            return None
        done = self.data_total - self.data_remaining
        return max(0.0, min(1.0, done / self.data_total))

    @property
    def copying_storage(self) -> bool:
        return self.disk_remaining > 0 and self.memory_total == 0

    def describe(self) -> str:
        """One line for the status bar and the task list."""
        if not self.active:
            return "Preparing…"
        if self.copying_storage:
            return (f"Copying disks: {size_text(self.disk_total - self.disk_remaining)} of "
                    f"{size_text(self.disk_total)}")
        if self.post_copy:
            return f"Post-copy: {size_text(self.memory_remaining)} of memory left"
        if self.memory_total == 0:
            return "Starting…"
        parts = [f"Memory: {size_text(self.memory_remaining)} left"]
        if self.iteration > 1:
            parts.append(f"pass {self.iteration}")
        if self.iteration > 1 or self.dirty_rate_bps:
            parts.append(f"dirtying {size_text(self.dirty_rate_bps)}/s")
        if self.memory_bps:
            parts.append(f"sending {size_text(self.memory_bps)}/s")
        if self.downtime_ms is not None:
            parts.append(f"downtime ≈ {self.downtime_ms} ms")
        if self.throttle_percent:
            parts.append(f"guest slowed {self.throttle_percent}%")
        return ", ".join(parts)


def size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit in ("B", "KiB") or value >= 100 \
                else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"      # unreachable: GiB returns above


def parse_job_stats(stats: dict[str, Any]) -> JobProgress:
    """virDomainGetJobStats' dictionary as a JobProgress ("type" 0: no job)."""
    kind = int(stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE))

    def num(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    active = kind in (libvirt.VIR_DOMAIN_JOB_BOUNDED, libvirt.VIR_DOMAIN_JOB_UNBOUNDED,
                      libvirt.VIR_DOMAIN_JOB_COMPLETED)
    page = num("memory_page_size") or 4096
    return JobProgress(
        active=active, elapsed_ms=num("time_elapsed"), data_total=num("data_total"),
        data_processed=num("data_processed"), data_remaining=num("data_remaining"),
        memory_total=num("memory_total"), memory_remaining=num("memory_remaining"),
        memory_bps=num("memory_bps"), dirty_rate_bps=num("memory_dirty_rate") * page,
        iteration=num("memory_iteration"), disk_total=num("disk_total"),
        disk_remaining=num("disk_remaining"),
        downtime_ms=int(stats["downtime"]) if "downtime" in stats else None,
        throttle_percent=num("auto_converge_throttle"))


def wont_converge(history: list[JobProgress]) -> bool:
    """True when the memory copy is not getting anywhere: past its third pass, the last
    readings left as much as the ones before them (the guest dirties memory as fast as
    the link carries it). Post-copy then finishes it on the destination."""
    passes = [p for p in history if p.memory_total and not p.copying_storage]
    if len(passes) < 6 or passes[-1].iteration < 3:
        return False
    recent, earlier = passes[-3:], passes[-6:-3]
    return min(p.memory_remaining for p in recent) >= \
        0.9 * min(p.memory_remaining for p in earlier)


# ---- the destination's disks -------------------------------------------------------------

@dataclass(frozen=True)
class DiskCopy:
    """A disk copied to the destination: the volume prepare() made for it."""

    target: str
    source_path: str
    pool: str
    volume: str
    path: str = ""
    block: bool = False
    format: str = "raw"
    capacity: int = 0


def volume_xml(name: str, capacity: int, fmt: str) -> str:
    return (f"<volume><name>{escape(name)}</name><capacity unit='bytes'>{capacity}"
            f"</capacity><target><format type='{escape(fmt)}'/></target></volume>")


def free_volume_name(taken: set[str], wanted: str) -> str:
    """``wanted``, or ``stem-2.ext``, ``stem-3.ext``… when the pool has it already."""
    if wanted not in taken:
        return wanted
    stem, dot, ext = wanted.rpartition(".")
    if not dot or not stem:
        stem, ext = wanted, ""
    n = 2
    while True:
        name = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
        if name not in taken:
            return name
        n += 1


def retarget_disks(dom: domxml.Domain, copies: list[DiskCopy]) -> None:
    """Points each copied disk at its new volume (and its format): the destination's
    definition."""
    for copy in copies:
        disk = dom.disk(copy.target)
        if disk is None:
            continue
        if copy.block:
            disk.set_block(copy.path)
        else:
            disk.set_file(copy.path)
        disk.driver_type = copy.format


def _pool_type(pool: libvirt.virStoragePool) -> str:
    return ET.fromstring(pool.XMLDesc(0)).get("type", "")


# ---- one migration -----------------------------------------------------------------------

@dataclass
class Migration:
    """One VM's move from ``source`` to ``dest`` (open connections). Blocking methods;
    ``progress`` and ``abort`` may be called from another thread while ``perform`` runs."""

    source: libvirt.virConnect
    dest: libvirt.virConnect
    uuid: str
    options: MigrationOptions
    copies: list[DiskCopy] = field(default_factory=list)
    transfer: TransferJob | None = None       # offline storage copy under way
    post_copy: bool = False
    _dom: libvirt.virDomain | None = None
    _dest_xml: str | None = None
    _persist_xml: str | None = None
    _made: list[libvirt.virStorageVol] = field(default_factory=list)
    _aborted: threading.Event = field(default_factory=threading.Event)

    @property
    def domain(self) -> libvirt.virDomain:
        if self._dom is None:
            self._dom = self.source.lookupByUUIDString(self.uuid)
        return self._dom

    def prepare(self) -> None:
        """Destination volumes for the disks to copy, and the definitions that use them.
        Raises libvirtError (nothing is left behind: see discard)."""
        dom = self.domain
        if not self.options.copy_storage:
            return
        secure = libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_MIGRATABLE
        live = domxml.parse(dom.XMLDesc(secure)) if self.options.live else None
        persistent = domxml.parse(dom.XMLDesc(secure | libvirt.VIR_DOMAIN_XML_INACTIVE))
        for target, pool_name in self.options.copy_storage:
            self.copies.append(self._make_volume(dom, persistent, target, pool_name))
        if self.options.live and live is not None:
            retarget_disks(live, self.copies)
            self._dest_xml = live.to_xml()
            if self.options.persistent:
                retarget_disks(persistent, self.copies)
                self._persist_xml = persistent.to_xml()
        else:
            retarget_disks(persistent, self.copies)
            self._dest_xml = persistent.to_xml()

    def _make_volume(self, dom: libvirt.virDomain, definition: domxml.Domain, target: str,
                     pool_name: str) -> DiskCopy:
        disk = definition.disk(target)
        if disk is None or not disk.source_path:
            raise ValueError(f"{target} is not a disk with an image")
        capacity = int(cast("list[int]", dom.blockInfo(target, 0))[0])
        pool = self.dest.storagePoolLookupByName(pool_name)
        pool.refresh(0)
        pool_type = _pool_type(pool)
        fmt = disk.driver_type or "raw"
        if pool_type in RAW_ONLY_POOL_TYPES:
            if not self.options.live and fmt != "raw":
                # Offline, the image's own bytes are streamed: no conversion on the way.
                raise ValueError(f"{target} is a {fmt} image; {pool_name} holds raw "
                                 "volumes only, and a shut-off VM's disk is copied as it is")
            fmt = "raw"
        wanted = disk.source_path.rstrip("/").rsplit("/", 1)[-1] or f"{target}.img"
        if fmt == "raw" and wanted.endswith(".qcow2"):
            wanted = wanted[: -len(".qcow2")] + ".img"
        name = free_volume_name(set(pool.listVolumes()), wanted)
        vol = pool.createXML(volume_xml(name, capacity, fmt), 0)
        self._made.append(vol)
        kind = cast("list[int]", vol.info())[0]
        return DiskCopy(target=target, source_path=disk.source_path, pool=pool_name,
                        volume=name, path=vol.path(),
                        block=kind == libvirt.VIR_STORAGE_VOL_BLOCK, format=fmt,
                        capacity=capacity)

    def copy_offline_storage(self) -> None:
        """A shut-off VM's disks into the new volumes, through the connections' streams."""
        if self.options.live or not self.copies:
            return
        self.transfer = TransferJob()
        for copy in self.copies:
            src_vol = self.source.storageVolLookupByPath(copy.source_path)
            dst_vol = self.dest.storageVolLookupByPath(copy.path)
            copy_volume(self.source, src_vol, self.dest, dst_vol, self.transfer)

    def perform(self) -> None:
        """The migration itself; returns when the VM runs (or is defined) on the
        destination. Raises libvirtError."""
        options = self.options
        # libvirt-python annotates the typed parameters as str; they are a dict.
        params = cast(Any, migration_params(options, self._dest_xml, self._persist_xml))
        flags = migration_flags(options)
        if options.peer_to_peer:
            self.domain.migrateToURI3(options.peer_uri, params, flags)
        else:
            self.domain.migrate3(self.dest, params, flags)

    def progress(self) -> JobProgress:
        if self.transfer is not None and not self.options.live:
            job = self.transfer
            return JobProgress(active=True, data_total=job.total, data_processed=job.done,
                               data_remaining=max(0, job.total - job.done),
                               disk_total=job.total,
                               disk_remaining=max(0, job.total - job.done))
        stats = cast("dict[str, Any]", self.domain.jobStats(0))
        return _with_post_copy(parse_job_stats(stats), self.post_copy)

    def completed(self) -> JobProgress | None:
        """The finished job's statistics as the destination kept them (actual downtime,
        total time); None when it kept none."""
        try:
            dom = self.dest.lookupByUUIDString(self.uuid)
            stats = cast("dict[str, Any]",
                         dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
        except libvirt.libvirtError:
            return None
        found = parse_job_stats(stats)
        return found if found.active else None

    def abort(self) -> None:
        """Cancel: QEMU stops sending; the source keeps the VM running as it was."""
        self._aborted.set()
        if self.transfer is not None:
            self.transfer.cancel()
        if self.options.live:
            try:
                self.domain.abortJob()
            except libvirt.libvirtError as err:
                # No job (yet, or any more): perform() ends on its own.
                if err.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
                    raise

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def start_post_copy(self) -> None:
        self.domain.migrateStartPostCopy(0)
        self.post_copy = True

    def discard(self) -> None:
        """Removes the volumes prepare() made (the move did not happen)."""
        made, self._made = self._made, []
        for vol in made:
            try:
                vol.delete(0)
            except libvirt.libvirtError:
                pass

    def remove_source_disks(self) -> tuple[list[str], list[str]]:
        """After a move with copies (and the definition gone from the source): the source's
        images, as XenCenter's storage motion removes them. Only volumes of a storage pool
        are deleted (libvirt can, and they belong to the pool's owner); (removed, kept
        with the reason)."""
        removed: list[str] = []
        kept: list[str] = []
        if not self.options.remove_source_disks or self.options.keep_source_definition:
            return removed, kept
        for copy in self.copies:
            try:
                self.source.storageVolLookupByPath(copy.source_path).delete(0)
                removed.append(copy.source_path)
            except libvirt.libvirtError as err:
                kept.append(f"{copy.source_path} ({err.get_error_message()})")
        return removed, kept

    def source_state(self) -> int | None:
        """libvirt's state of the VM on the source now; None when the source no longer has
        it."""
        try:
            return int(cast("list[int]", self.domain.state(0))[0])
        except libvirt.libvirtError:
            return None


def _with_post_copy(progress: JobProgress, post_copy: bool) -> JobProgress:
    if not post_copy:
        return progress
    return replace(progress, post_copy=True)
