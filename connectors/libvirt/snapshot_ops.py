"""A VM's snapshots: listed as a tree, taken, reverted to, deleted and re-described.
Blocking: each function takes the host's connection first, for ``LibvirtHost.run``.

Internal snapshots live inside the qcow2 images (memory too); external ones add an
overlay file per disk (and a memory file). libvirt lets one VM have both, and reverting
or deleting across such a mix has lost users data, so ``kinds_allowed`` offers only the
kind a VM already has. What the host's libvirt can do decides the rest
(capabilities.py): reverting to an external snapshot needs libvirt 9.9.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import libvirt

from connectors.libvirt import domxml
from connectors.libvirt.capabilities import YES, HostCapabilities, Offer
from connectors.libvirt.domxml import SnapshotDiskPlan

SECURE = libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE
INTERNAL_UEFI_FROM = 10_010_000    # libvirt 10.10: internal snapshots with a qcow2 NVRAM
SNAPSHOT_TIMEOUT_S = 600.0         # a memory snapshot writes all of the guest's RAM


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    parent: str | None
    description: str
    created: int                   # seconds since the epoch
    state: str                     # the VM's state when taken: running, shutoff, ...
    has_memory: bool
    external: bool
    current: bool
    files: tuple[str, ...] = ()    # an external snapshot's overlays and memory file

    @property
    def kind(self) -> str:
        return "external" if self.external else "internal"


def _lookup(conn: libvirt.virConnect, key: str) -> libvirt.virDomain:
    return conn.lookupByUUIDString(key)


def _info(snap: libvirt.virDomainSnapshot) -> SnapshotInfo:
    parsed = domxml.parse_snapshot(snap.getXMLDesc(0))
    files = tuple(d.source_file for d in parsed.disks
                  if d.snapshot == "external" and d.source_file)
    if parsed.memory_mode == "external" and parsed.memory_file:
        files += (parsed.memory_file,)
    return SnapshotInfo(
        name=parsed.name or snap.getName(), parent=parsed.parent,
        description=parsed.description or "", created=parsed.creation_time or 0,
        state=parsed.state or "", has_memory=parsed.has_memory,
        external=parsed.is_external, current=bool(snap.isCurrent(0)), files=files)


def list_snapshots(conn: libvirt.virConnect, key: str) -> list[SnapshotInfo]:
    """Parents before their children (libvirt's topological order)."""
    dom = _lookup(conn, key)
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL
    return [_info(s) for s in dom.listAllSnapshots(flags)]


def snapshots_supported(domain_type: str) -> Offer:
    """Whether the VM's libvirt driver keeps snapshots at all (libxl does not)."""
    if domain_type == "xen":
        return Offer(False, "libvirt's Xen driver (libxl) has no snapshots: take them with "
                            "the Xen host's own tools, or use a KVM host.")
    return YES


# ---- what may be taken ---------------------------------------------------------------

@dataclass(frozen=True)
class SnapshotOffers:
    """What the Take Snapshot dialog offers this VM now, each with its reason."""

    internal: Offer
    external: Offer
    memory: Offer                  # with the guest's memory (a running VM)
    quiesce: Offer                 # the guest agent freezes the filesystems
    revert_external: Offer
    existing_kind: str | None      # the kind of snapshot the VM already has


def kinds_allowed(existing: list[SnapshotInfo]) -> tuple[Offer, Offer]:
    """(internal, external) as far as the VM's existing snapshots allow: never both."""
    kinds = {s.kind for s in existing}
    mixed = ("libvirt can lose data when one VM's internal and external snapshots "
             "are mixed (reverting or deleting across them).")
    internal = YES if "external" not in kinds else Offer(
        False, f"This VM has external snapshots; {mixed}")
    external = YES if "internal" not in kinds else Offer(
        False, f"This VM has internal snapshots; {mixed}")
    return internal, external


def internal_possible(dom_xml: domxml.Domain, libvirt_version: int) -> Offer:
    """Internal snapshots live in qcow2 images: every writable disk must be one; a UEFI
    VM's variables (NVRAM) too, which only libvirt 10.10 and later can snapshot."""
    for disk in dom_xml.disks:
        if disk.device != "disk" or disk.readonly or disk.shareable:
            continue
        if disk.driver_type != "qcow2":
            return Offer(False, f"Internal snapshots need every disk in qcow2 format; "
                                f"{disk.target_dev} is {disk.driver_type or 'raw'}. "
                                "Take an external snapshot instead.")
    os_node = dom_xml.os_if_any
    if os_node is not None and os_node.firmware == "efi":
        nvram = os_node.element.find("nvram")
        qcow2_nvram = nvram is not None and nvram.get("format") == "qcow2"
        if libvirt_version < INTERNAL_UEFI_FROM or not qcow2_nvram:
            return Offer(False, "Internal snapshots of a UEFI VM need libvirt 10.10 or "
                                "later on the host and the VM's UEFI variables (NVRAM) "
                                "in qcow2 format. Take an external snapshot instead.")
    return YES


def offers(conn: libvirt.virConnect, key: str, host: HostCapabilities) -> SnapshotOffers:
    dom = _lookup(conn, key)
    existing = list_snapshots(conn, key)
    internal, external = kinds_allowed(existing)
    definition = domxml.parse(dom.XMLDesc(0))
    if internal:
        internal = internal_possible(definition, host.libvirt_version)
    active = bool(dom.isActive())
    memory = YES if active else Offer(False, "The VM is not running: there is no memory "
                                             "to save.")
    quiesce: Offer
    if not active:
        quiesce = Offer(False, "The VM is not running.")
    else:
        try:
            dom.getTime(0)
            quiesce = YES
        except libvirt.libvirtError as err:
            quiesce = Offer(False, "The guest agent does not answer (it freezes the "
                                   "guest's filesystems): "
                                   f"{err.get_error_message() or err}")
    kinds = {s.kind for s in existing}
    return SnapshotOffers(internal, external, memory, quiesce,
                          host.external_snapshot_revert(),
                          next(iter(kinds)) if len(kinds) == 1 else None)


# ---- taking, reverting, deleting, editing --------------------------------------------

@dataclass(frozen=True)
class TakeRequest:
    name: str
    description: str = ""
    external: bool = False
    memory: bool = False           # running VMs only; internal + running always saves it
    quiesce: bool = False          # external disk-only snapshots with an answering agent


def take(conn: libvirt.virConnect, key: str, request: TakeRequest) -> SnapshotInfo:
    dom = _lookup(conn, key)
    definition = domxml.parse(dom.XMLDesc(0))
    active = bool(dom.isActive())
    flags = 0
    disks = []
    for disk in definition.disks:
        if not disk.target_dev:
            continue
        snapshotted = disk.device == "disk" and not disk.readonly and not disk.shareable
        mode = "no" if not snapshotted else ("external" if request.external else "internal")
        disks.append(SnapshotDiskPlan(disk.target_dev, mode))
    memory = "no"
    memory_file = None
    if request.external:
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
        if active and request.memory:
            memory = "external"
            memory_file = _memory_file(definition, request.name)
        else:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
            if request.quiesce:
                flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE
    elif active:
        memory = "internal"        # QEMU's savevm: an internal live snapshot saves RAM
    xml = domxml.new_snapshot(request.name, request.description or None, memory=memory,
                              memory_file=memory_file, disks=disks).to_xml()
    return _info(dom.snapshotCreateXML(xml, flags))


def _memory_file(definition: domxml.Domain, name: str) -> str:
    """Beside the VM's first disk image, named after the VM and the snapshot."""
    folder = "/var/lib/libvirt/qemu/snapshot"
    for disk in definition.disks:
        if disk.device == "disk" and disk.source_file:
            folder = os.path.dirname(disk.source_file)
            break
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return os.path.join(folder, f"{definition.name}-{safe}.mem")


def revert(conn: libvirt.virConnect, key: str, name: str, *, running: bool) -> None:
    """Back to the snapshot; the VM ends running or paused as asked (a snapshot without
    memory starts the VM afresh when ``running``)."""
    dom = _lookup(conn, key)
    snap = dom.snapshotLookupByName(name, 0)
    flags = (libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING if running
             else libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED)
    dom.revertToSnapshot(snap, flags)


def delete(conn: libvirt.virConnect, key: str, name: str, *, children: bool) -> None:
    snap = _lookup(conn, key).snapshotLookupByName(name, 0)
    snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN if children else 0)


def edit(conn: libvirt.virConnect, key: str, name: str, description: str,
         new_name: str | None = None) -> None:
    """A new description (and, for an external snapshot, a new name) by redefining the
    snapshot's metadata. An internal snapshot keeps its name: it is also the snapshot's
    tag inside every qcow2 image, which libvirt does not rename."""
    dom = _lookup(conn, key)
    snap = dom.snapshotLookupByName(name, 0)
    parsed = domxml.parse_snapshot(snap.getXMLDesc(SECURE))
    renaming = new_name is not None and new_name != name
    if renaming and parsed.is_internal:
        raise ValueError("an internal snapshot cannot be renamed")
    parsed.description = description or None
    if renaming:
        parsed.name = new_name
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if snap.isCurrent(0):
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    dom.snapshotCreateXML(parsed.to_xml(), flags)
    if renaming:
        children = snap.listAllChildren(0)
        snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        for child in children:       # their <parent> still names the old one
            _reparent(dom, child, cast(str, new_name))


def _reparent(dom: libvirt.virDomain, child: libvirt.virDomainSnapshot, parent: str) -> None:
    parsed = domxml.parse_snapshot(child.getXMLDesc(SECURE))
    parsed.parent = parent
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if child.isCurrent(0):
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    dom.snapshotCreateXML(parsed.to_xml(), flags)
