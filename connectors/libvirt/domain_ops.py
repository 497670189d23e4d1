"""A VM's definition and settings read and changed for its Properties. Blocking: each
function takes the host's connection first so that ``LibvirtHost.run`` can run it in the
host's worker pool (``host.run(lambda c: domain_ops.rename(c, key, "web-02"), ...)``).

The definition is read with VIR_DOMAIN_XML_SECURE: without it libvirt leaves out the
display's password, and defining the document back would silently remove it.
Definitions are written with VIR_DOMAIN_DEFINE_VALIDATE, so libvirt checks them against
its schema and refuses a wrong one whole instead of dropping what it does not know.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import libvirt

from connectors.libvirt import domxml
from connectors.libvirt.capabilities import YES, Offer
from connectors.libvirt.readers import error_text

SECURE_INACTIVE = libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE


@dataclass(frozen=True)
class DiskSize:
    """A disk's size in bytes and, when it is a volume of a storage pool, which one
    (only those can be grown while the VM is off, or deleted with it)."""

    capacity: int
    allocation: int = 0
    pool: str | None = None
    volume: str | None = None


@dataclass(frozen=True)
class DomainFacts:
    """What Properties shows: the definition for the next start (``config_xml``), the
    running one (``live_xml``, None while off) and what is not in the XML."""

    config_xml: str
    live_xml: str | None
    active: bool
    persistent: bool
    autostart: bool
    disk_sizes: dict[str, DiskSize] = field(default_factory=dict)


def _lookup(conn: libvirt.virConnect, key: str) -> libvirt.virDomain:
    return conn.lookupByUUIDString(key)


def read_facts(conn: libvirt.virConnect, key: str) -> DomainFacts:
    dom = _lookup(conn, key)
    active = bool(dom.isActive())
    persistent = bool(dom.isPersistent())
    config_xml = dom.XMLDesc(SECURE_INACTIVE if persistent else libvirt.VIR_DOMAIN_XML_SECURE)
    live_xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE) if active else None
    sizes: dict[str, DiskSize] = {}
    for disk in domxml.parse(live_xml or config_xml).disks:
        if disk.device != "disk" or not disk.target_dev:
            continue
        size = _disk_size(conn, dom, disk, active)
        if size is not None:
            sizes[disk.target_dev] = size
    return DomainFacts(config_xml, live_xml, active, persistent, bool(dom.autostart()),
                       sizes)


def _disk_size(conn: libvirt.virConnect, dom: libvirt.virDomain, disk: domxml.Disk,
               active: bool) -> DiskSize | None:
    vol = volume_of(conn, disk)
    pool = name = None
    capacity = allocation = 0
    if vol is not None:
        # libvirt-python annotates info() as str; it is [type, capacity, allocation].
        _kind, capacity, allocation = cast("list[int]", vol.info())
        pool, name = vol.storagePoolLookupByVolume().name(), vol.name()
    if active and disk.target_dev:
        try:
            capacity, allocation, _physical = cast("list[int]",
                                                   dom.blockInfo(disk.target_dev, 0))
        except libvirt.libvirtError:
            pass
    if vol is None and not capacity:
        return None
    return DiskSize(capacity, allocation, pool, name)


def volume_of(conn: libvirt.virConnect, disk: domxml.Disk) -> libvirt.virStorageVol | None:
    """The storage volume behind a disk, if it is one of a pool's (by pool/volume or
    by its path)."""
    try:
        if disk.source_pool and disk.source_volume:
            return conn.storagePoolLookupByName(disk.source_pool).storageVolLookupByName(
                disk.source_volume)
        path = disk.source_file or disk.source_dev
        if path:
            return conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        return None
    return None


# ---- the definition ----------------------------------------------------------------

def define(conn: libvirt.virConnect, xml: str) -> None:
    """Define the VM from ``xml``, validated by libvirt against its schema first."""
    conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)


def config_xml(conn: libvirt.virConnect, key: str) -> str:
    return _lookup(conn, key).XMLDesc(SECURE_INACTIVE)


def rename(conn: libvirt.virConnect, key: str, name: str) -> None:
    """libvirt renames only a shut-off VM."""
    _lookup(conn, key).rename(name, 0)


def set_autostart(conn: libvirt.virConnect, key: str, on: bool) -> None:
    _lookup(conn, key).setAutostart(1 if on else 0)


def set_title_live(conn: libvirt.virConnect, key: str, title: str | None) -> None:
    _set_metadata_live(conn, key, libvirt.VIR_DOMAIN_METADATA_TITLE, title)


def set_description_live(conn: libvirt.virConnect, key: str,
                         description: str | None) -> None:
    _set_metadata_live(conn, key, libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, description)


def _set_metadata_live(conn: libvirt.virConnect, key: str, kind: int,
                       text: str | None) -> None:
    # libvirt-python annotates the text, key and URI as str; None is what removes the
    # title or description (and what the title and description kinds take as key, URI).
    nothing = cast(str, None)
    _lookup(conn, key).setMetadata(kind, cast(str, text or None), nothing, nothing,
                                   libvirt.VIR_DOMAIN_AFFECT_LIVE)


def set_vcpus_live(conn: libvirt.virConnect, key: str, count: int) -> None:
    _lookup(conn, key).setVcpusFlags(count, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def set_memory_live(conn: libvirt.virConnect, key: str, kib: int) -> None:
    """The balloon's target: the guest gives memory back or takes it (up to the
    memory it booted with)."""
    _lookup(conn, key).setMemoryFlags(kib, libvirt.VIR_DOMAIN_AFFECT_LIVE)


# ---- disks and volumes ---------------------------------------------------------------

def resize_disk(conn: libvirt.virConnect, key: str, target: str, new_bytes: int, *,
                shrink: bool = False) -> None:
    """A running VM's disk through QEMU (blockResize: the guest sees the new size at
    once); a shut-off VM's through its pool's volume. Smaller only with ``shrink``: the
    end of the disk, and whatever the guest kept there, is cut off."""
    dom = _lookup(conn, key)
    active = bool(dom.isActive())
    disk = domxml.parse(dom.XMLDesc(0) if active else dom.XMLDesc(SECURE_INACTIVE)).disk(
        target)
    if disk is None:
        raise ValueError(f"{dom.name()} has no disk {target}")
    current = _disk_size(conn, dom, disk, active)
    if current is not None and new_bytes < current.capacity and not shrink:
        raise ValueError(f"{target} would shrink; refused without the user's consent")
    if active:
        dom.blockResize(target, new_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
        return
    vol = volume_of(conn, disk)
    if vol is None:
        raise ValueError(f"{target} is not a volume of a storage pool: HVConsole cannot "
                         "grow it while the VM is shut off")
    vol.resize(new_bytes, libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK if shrink else 0)


def create_volume(conn: libvirt.virConnect, pool: str, name: str, capacity: int,
                  fmt: str = "qcow2") -> str:
    """A new, sparse volume in ``pool``; its path."""
    xml = (f"<volume><name>{_escape(name)}</name><capacity unit='bytes'>{int(capacity)}"
           f"</capacity><allocation>0</allocation><target><format type='{_escape(fmt)}'/>"
           "</target></volume>")
    handle = conn.storagePoolLookupByName(pool)
    return handle.createXML(xml, 0).path()


def delete_volume(conn: libvirt.virConnect, path: str) -> None:
    conn.storageVolLookupByPath(path).delete(0)


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;"))


@dataclass(frozen=True)
class PoolVolume:
    pool: str
    name: str
    path: str
    capacity: int

    @property
    def is_iso(self) -> bool:
        return self.name.lower().endswith(".iso")


def pool_volumes(conn: libvirt.virConnect) -> list[PoolVolume]:
    """The volumes of the host's active storage pools: existing disks to attach and ISO
    images for a CD/DVD drive, on a remote host too (no file browsing there needed)."""
    found: list[PoolVolume] = []
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        try:
            pool.refresh(0)
        except libvirt.libvirtError:
            pass                          # a pool busy elsewhere: list what it had
        try:
            volumes = pool.listAllVolumes(0)
        except libvirt.libvirtError:
            continue
        for vol in volumes:
            try:
                capacity = cast("list[int]", vol.info())[1]
                found.append(PoolVolume(pool.name(), vol.name(), vol.path(), capacity))
            except libvirt.libvirtError:
                continue                  # deleted meanwhile
    return sorted(found, key=lambda v: (v.pool, v.name.lower()))


# ---- the guest agent -----------------------------------------------------------------

def guest_agent(conn: libvirt.virConnect, key: str) -> Offer:
    """Whether the guest agent answers now (it freezes the guest's filesystems for a
    consistent, *quiesced* snapshot)."""
    dom = _lookup(conn, key)
    if not dom.isActive():
        return Offer(False, "The VM is not running.")
    try:
        dom.getTime(0)
    except libvirt.libvirtError as err:
        return Offer(False, f"The guest agent does not answer: {error_text(err)}")
    return YES
