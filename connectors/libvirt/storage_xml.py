"""Small typed builders and readers for libvirt's storage pool and volume XML.

These documents are not domain XML (connectors.libvirt.domxml is for that): a pool or a
volume has a handful of fields the New Pool wizard and the volume dialogs set, and a few
the pool page shows. A spec checks itself before anything is sent to the host, so bad
input is a sentence and nothing changes: ``PoolSpec.problems()``, ``VolumeSpec.problems()``.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

# The pool types the wizard knows, in the order it offers them, with their words.
POOL_TYPES: dict[str, str] = {
    "dir": "Directory on the host",
    "fs": "Filesystem on a block device",
    "netfs": "NFS share",
    "logical": "LVM volume group",
    "iscsi": "iSCSI target (host initiator)",
    "iscsi-direct": "iSCSI target (libvirt's own initiator)",
}
VOLUME_FORMATS = ("qcow2", "raw")
PREALLOCATIONS = ("none", "metadata", "full")
# Pool types whose volumes are files with a format (qcow2 or raw); the others hold raw
# block devices (logical volumes, LUNs).
FILE_POOLS = frozenset({"dir", "fs", "netfs"})
# Pool types where HVConsole can create volumes at all (iSCSI LUNs are made on the target).
VOLUME_POOLS = FILE_POOLS | {"logical"}

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_IQN = re.compile(r"^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]+)$")


def name_problem(name: str, what: str) -> str:
    if not name:
        return f"The {what} needs a name."
    if not _NAME.match(name) or len(name) > 200:
        return (f"The {what} name {name!r} may only hold letters, digits and . _ + - "
                "(and may not start with . + or -).")
    return ""


@dataclass(frozen=True)
class PoolSpec:
    """What the New Pool wizard asks; ``pool_xml()`` writes it as libvirt wants it."""

    name: str
    type: str
    target_path: str = ""       # dir, fs, netfs: where the volumes appear on the host
    source_device: str = ""     # fs: the block device; logical: a physical volume (build)
    source_format: str = ""     # fs: ext4, xfs, auto...; netfs: nfs, auto
    source_host: str = ""       # netfs, iscsi, iscsi-direct
    source_port: int = 0        # iscsi, iscsi-direct: 0 for 3260
    source_dir: str = ""        # netfs: the export
    source_name: str = ""       # logical: the volume group
    target_iqn: str = ""        # iscsi, iscsi-direct: the target's IQN
    initiator_iqn: str = ""     # iscsi-direct: who we are

    def problems(self) -> list[str]:
        """Every reason the host would refuse this, as sentences; empty when fine."""
        found = []
        if self.type not in POOL_TYPES:
            return [f"HVConsole does not know the pool type {self.type!r}."]
        if problem := name_problem(self.name, "pool"):
            found.append(problem)
        if self.type in ("dir", "fs", "netfs") and not self.target_path.startswith("/"):
            found.append("The target directory must be an absolute path on the host "
                         "(it starts with /).")
        if self.type == "fs" and not self.source_device.startswith("/dev/"):
            found.append("Name the block device that holds the filesystem, e.g. /dev/sdb1.")
        if self.type == "logical":
            if problem := name_problem(self.source_name or self.name, "volume group"):
                found.append(problem)
            if self.source_device and not self.source_device.startswith("/dev/"):
                found.append("A physical volume is a block device: /dev/…")
        if self.type in ("netfs", "iscsi", "iscsi-direct") and not self.source_host.strip():
            found.append("Name the server (host name or address).")
        if self.type == "netfs" and not self.source_dir.startswith("/"):
            found.append("Name the exported directory on the server (it starts with /).")
        if self.type in ("iscsi", "iscsi-direct") and not _IQN.match(self.target_iqn):
            found.append("The target's name must be an IQN such as "
                         "iqn.2026-01.com.example:storage.")
        if self.type == "iscsi-direct" and not _IQN.match(self.initiator_iqn):
            found.append("libvirt's own iSCSI initiator needs a name of its own (an IQN).")
        if not 0 <= self.source_port <= 65535:
            found.append("The port is a number from 1 to 65535.")
        return found

    def pool_xml(self) -> str:
        source: list[str] = []
        if self.source_host:
            port = f" port='{self.source_port}'" if self.source_port else ""
            source.append(f"<host name={quoteattr(self.source_host.strip())}{port}/>")
        if self.type == "netfs":
            source.append(f"<dir path={quoteattr(self.source_dir)}/>")
            source.append(f"<format type={quoteattr(self.source_format or 'auto')}/>")
        if self.type == "fs":
            source.append(f"<device path={quoteattr(self.source_device)}/>")
            source.append(f"<format type={quoteattr(self.source_format or 'auto')}/>")
        if self.type == "logical":
            if self.source_device:
                source.append(f"<device path={quoteattr(self.source_device)}/>")
            source.append(f"<name>{escape(self.source_name or self.name)}</name>")
            source.append("<format type='lvm2'/>")
        if self.type in ("iscsi", "iscsi-direct"):
            source.append(f"<device path={quoteattr(self.target_iqn)}/>")
        if self.type == "iscsi-direct":
            source.append(f"<initiator><iqn name={quoteattr(self.initiator_iqn)}/>"
                          "</initiator>")
        target = ""
        if self.type in ("dir", "fs", "netfs"):
            target = f"<target><path>{escape(self.target_path)}</path></target>"
        elif self.type == "logical":
            target = f"<target><path>/dev/{escape(self.source_name or self.name)}</path></target>"
        elif self.type == "iscsi":
            target = "<target><path>/dev/disk/by-path</path></target>"
        body = "".join(source)
        return (f"<pool type={quoteattr(self.type)}><name>{escape(self.name)}</name>"
                f"{f'<source>{body}</source>' if body else ''}{target}</pool>")


@dataclass(frozen=True)
class PoolDetails:
    """What the pool page shows of a pool's definition besides its PoolInfo."""

    type: str
    target_path: str = ""
    source_host: str = ""
    source_dir: str = ""
    source_device: str = ""
    source_name: str = ""
    source_format: str = ""

    @property
    def source_text(self) -> str:
        """Where the storage comes from, in one line ("" for a plain directory)."""
        if self.type == "netfs":
            return f"{self.source_host}:{self.source_dir}"
        if self.type in ("iscsi", "iscsi-direct"):
            return f"{self.source_host} {self.source_device}".strip()
        if self.type == "logical":
            return f"volume group {self.source_name}"
        return self.source_device


def parse_pool(text: str) -> PoolDetails:
    root = ET.fromstring(text)
    host = root.find("source/host")
    fmt = root.find("source/format")
    device = root.find("source/device")
    folder = root.find("source/dir")
    return PoolDetails(
        type=root.get("type", ""), target_path=root.findtext("target/path", ""),
        source_host=host.get("name", "") if host is not None else "",
        source_dir=folder.get("path", "") if folder is not None else "",
        source_device=device.get("path", "") if device is not None else "",
        source_name=root.findtext("source/name", ""),
        source_format=fmt.get("type", "") if fmt is not None else "")


@dataclass(frozen=True)
class PoolSource:
    """One answer of "find" (findStoragePoolSources): an NFS export, a volume group, an
    iSCSI target."""

    host: str = ""
    dir: str = ""
    device: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        if self.dir:
            return f"{self.host}:{self.dir}" if self.host else self.dir
        return self.name or self.device


def source_query_xml(pool_type: str, host: str, port: int = 0,
                     initiator: str = "") -> str | None:
    """findStoragePoolSources' srcSpec: netfs and iscsi ask a server, logical the host;
    libvirt's own iSCSI initiator (iscsi-direct) must be told its name."""
    if pool_type == "logical":
        return None
    port_attr = f" port='{port}'" if port else ""
    who = (f"<initiator><iqn name={quoteattr(initiator)}/></initiator>"
           if pool_type == "iscsi-direct" and initiator else "")
    return f"<source><host name={quoteattr(host.strip())}{port_attr}/>{who}</source>"


def parse_sources(text: str) -> list[PoolSource]:
    found = []
    for source in ET.fromstring(text).findall("source"):
        host = source.find("host")
        folder = source.find("dir")
        device = source.find("device")
        found.append(PoolSource(
            host=host.get("name", "") if host is not None else "",
            dir=folder.get("path", "") if folder is not None else "",
            device=device.get("path", "") if device is not None else "",
            name=source.findtext("name", "")))
    return found


# ---- volumes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class VolumeSpec:
    """A new volume: ``preallocation`` none (sparse), metadata (qcow2: its tables
    written now) or full (every byte reserved now)."""

    name: str
    capacity: int                   # bytes
    format: str = "qcow2"           # qcow2, raw; "" for pools without formats (LVM)
    preallocation: str = "none"
    backing_path: str = ""          # qcow2 only: a base image this one starts from
    backing_format: str = ""

    def problems(self, pool_type: str = "dir", available: int | None = None) -> list[str]:
        found = []
        if problem := name_problem(self.name, "volume"):
            found.append(problem)
        if self.capacity <= 0 and not self.backing_path:
            found.append("A new volume needs a size above zero.")
        if pool_type in FILE_POOLS and self.format not in VOLUME_FORMATS:
            found.append(f"The format must be one of {', '.join(VOLUME_FORMATS)}.")
        if self.preallocation not in PREALLOCATIONS:
            found.append("Preallocation is none, metadata or full.")
        if self.preallocation == "metadata" and self.format != "qcow2":
            found.append("Only qcow2 volumes have metadata to preallocate.")
        if self.backing_path and self.format != "qcow2":
            found.append("Only a qcow2 volume can start from a backing file.")
        if self.backing_path and not self.backing_path.startswith("/"):
            found.append("The backing file is a path on the host (it starts with /).")
        reserved = self.capacity if self.preallocation == "full" else 0
        if available is not None and pool_type in FILE_POOLS | {"logical"}:
            needed = self.capacity if pool_type == "logical" else reserved
            if needed > available:
                found.append(f"The pool has {_size(available)} free; this volume needs "
                             f"{_size(needed)} now.")
        return found

    @property
    def prealloc_flag_needed(self) -> bool:
        """libvirt preallocates a qcow2's metadata (or all of it, with allocation ==
        capacity) only when asked with VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA."""
        return self.format == "qcow2" and self.preallocation in ("metadata", "full")

    def volume_xml(self) -> str:
        allocation = self.capacity if self.preallocation == "full" else 0
        parts = [f"<name>{escape(self.name)}</name>",
                 f"<capacity unit='bytes'>{int(self.capacity)}</capacity>",
                 f"<allocation unit='bytes'>{allocation}</allocation>"]
        if self.format:
            parts.append(f"<target><format type={quoteattr(self.format)}/></target>")
        if self.backing_path:
            fmt = (f"<format type={quoteattr(self.backing_format)}/>"
                   if self.backing_format else "")
            parts.append(f"<backingStore><path>{escape(self.backing_path)}</path>{fmt}"
                         "</backingStore>")
        return f"<volume>{''.join(parts)}</volume>"


@dataclass(frozen=True)
class VolumeInfo:
    """One volume as the pool page lists it; ``users`` are the VMs whose disks name it."""

    name: str
    key: str                        # libvirt's volume key (a path for file volumes)
    path: str
    format: str                     # qcow2, raw, iso, "" when libvirt does not say
    capacity: int
    allocation: int
    backing_path: str = ""
    users: tuple[str, ...] = field(default=())


def parse_volume(text: str, name: str, key: str, path: str, capacity: int,
                 allocation: int) -> VolumeInfo:
    root = ET.fromstring(text)
    fmt = root.find("target/format")
    return VolumeInfo(name=name, key=key, path=path,
                      format=fmt.get("type", "") if fmt is not None else "",
                      capacity=capacity, allocation=allocation,
                      backing_path=root.findtext("backingStore/path", ""))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{n} B"
