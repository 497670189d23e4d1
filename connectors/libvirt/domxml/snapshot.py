"""``<domainsnapshot>``: a snapshot's own XML (name, description, state, parent, when,
memory and disks), with the domain's definition as it was inside it.

Snapshots go through the same kind of view as domains: editing a snapshot's description
means redefining it (VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE) with its whole XML, and what
this model does not name — the saved ``<domain>``, libvirt's ``<cookie>`` — must come
back exactly as libvirt wrote it.

A snapshot is *internal* when its data is inside the disk images (qcow2) and the memory
in them; *external* when each disk got an overlay file and the memory, if saved, went to
a file of its own. libvirt keeps the two apart on one VM for good reason: reverting or
deleting across a mix of them has lost users data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from connectors.libvirt.domxml import xmltree
from connectors.libvirt.domxml.domain import Domain
from connectors.libvirt.domxml.nodes import Attr, IntText, Node, Text, attrs
from connectors.libvirt.domxml.xmltree import DomainXMLError, Element, Prefixes

# The domain states a snapshot records; those with the guest's memory saved revert to a
# running (or paused) guest.
RUNNING_STATES = ("running", "paused", "blocked", "pmsuspended")


class SnapshotDisk(Node):
    """One ``<disk>`` of ``<disks>``: how that disk was (or is to be) snapshotted."""

    __slots__ = ()
    ORDER = ("driver", "source")
    name = Attr("name")                      # the target (vda) or source path
    snapshot = Attr("snapshot")              # internal, external, manual, no
    type = Attr("type")
    driver_type = Attr("type", "driver")
    source_file = Attr("file", "source")


class Snapshot(Node):
    __slots__ = ("_domain_namespaces", "_prefixes")
    ORDER = ("name", "description", "state", "parent", "creationTime", "memory", "disks",
             "active", "domain", "inactiveDomain", "cookie")
    name = Text("name")
    description = Text("description")
    state = Text("state")                    # the domain's state when taken; disk-snapshot
    parent = Text("parent/name")
    creation_time = IntText("creationTime")  # seconds since the epoch
    memory_mode = Attr("snapshot", "memory")  # no, internal, external
    memory_file = Attr("file", "memory")

    def __init__(self, element: Element, prefixes: Prefixes | None = None,
                 domain_namespaces: list[tuple[str, str]] | None = None) -> None:
        """``domain_namespaces``: what the saved ``<domain>`` itself declares (libvirt
        writes the driver namespaces there), to write them back in their place."""
        if element.tag != "domainsnapshot":
            raise DomainXMLError(f"Not a snapshot's XML: its root is <{element.tag}>.")
        super().__init__(element)
        self._prefixes = prefixes or {}
        self._domain_namespaces = domain_namespaces or []

    @property
    def disks(self) -> list[SnapshotDisk]:
        return [SnapshotDisk(e) for e in self.element.findall("disks/disk")]

    @property
    def domain(self) -> Domain | None:
        """The VM's definition when the snapshot was taken (libvirt reverts to it)."""
        found = self.element.find("domain")
        return Domain(found, self._prefixes, self._domain_namespaces) \
            if found is not None else None

    @property
    def has_memory(self) -> bool:
        """The guest's memory was saved: reverting brings the guest back running."""
        if self.memory_mode is not None:
            return self.memory_mode != "no" and self.state in RUNNING_STATES
        return self.state in RUNNING_STATES

    @property
    def is_external(self) -> bool:
        return self.memory_mode == "external" or any(
            d.snapshot == "external" for d in self.disks)

    @property
    def is_internal(self) -> bool:
        return not self.is_external

    def to_xml(self) -> str:
        found = self.element.find("domain")
        at = {id(found): self._domain_namespaces} if found is not None else {}
        return xmltree.write(self.element, self._prefixes, declare_at=at) + "\n"


def parse_snapshot(text: str) -> Snapshot:
    """A snapshot's XML as virDomainSnapshotGetXMLDesc returns it. Raises DomainXMLError."""
    inner = text.find("<domain ")
    declared = xmltree.root_declarations(text[inner:]) if inner >= 0 else []
    return Snapshot(xmltree.parse_element(text), xmltree.prefixes_of(text), declared)


@dataclass(frozen=True)
class SnapshotDiskPlan:
    """What to do with one disk when taking a snapshot: ``mode`` internal, external or
    no; an external one's overlay in ``file`` (None: libvirt names it beside the image)."""

    target: str
    mode: str
    file: str | None = None


def new_snapshot(name: str, description: str | None = None, *, memory: str = "no",
                 memory_file: str | None = None,
                 disks: Sequence[SnapshotDiskPlan] = ()) -> Snapshot:
    """The XML virDomainSnapshotCreateXML takes: ``memory`` "no", "internal" or
    "external" (with ``memory_file``)."""
    if memory not in ("no", "internal", "external"):
        raise ValueError(f"memory must be no, internal or external, not {memory!r}")
    if memory == "external" and not memory_file:
        raise ValueError("an external memory snapshot needs a file")
    root = xmltree.new("domainsnapshot")
    snap = Snapshot(root)
    snap.name = name
    if description:
        snap.description = description
    root.append(xmltree.new("memory", attrs(snapshot=memory,
                                            file=memory_file if memory == "external"
                                            else None)))
    if disks:
        holder = xmltree.new("disks")
        for plan in disks:
            disk = xmltree.new("disk", attrs(name=plan.target, snapshot=plan.mode))
            if plan.mode == "external" and plan.file:
                disk.set("type", "file")
                disk.append(xmltree.new("source", {"file": plan.file}))
            holder.append(disk)
        root.append(holder)
    return snap
