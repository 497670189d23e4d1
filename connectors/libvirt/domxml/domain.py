"""``Domain``: a whole domain document, read, changed and written back.

What libvirt's XML holds and this model does not name is kept where it was: the view
classes only read and write the parts they know (see nodes.py). Units are normalised on
reading (memory in KiB whatever unit the XML uses) and written as KiB only where a value
is changed, so an untouched document writes back as it came.
"""
from __future__ import annotations

import builtins
import copy
from typing import Iterator, Sequence, TypeVar

from connectors.libvirt.domxml import xmltree
from connectors.libvirt.domxml.devices import (DEVICE_ORDER, Channel, Console, Controller,
                                               Device, Disk, Filesystem, Hostdev, Input,
                                               Interface, Memballoon, OpaqueDevice,
                                               Panic, Parallel, Redirdev, Rng, Serial, Sound,
                                               Tpm, Video, Watchdog)
from connectors.libvirt.domxml.graphics import Graphics
from connectors.libvirt.domxml.guest import Clock, Cpu, Features, Os
from connectors.libvirt.domxml.nodes import Attr, IntAttr, Node, Text
from connectors.libvirt.domxml.organize import ORGANIZE_NS, Organization, from_element
from connectors.libvirt.domxml.xmltree import DomainXMLError, Element, Prefixes

D = TypeVar("D", bound=Device)

DEVICE_CLASSES: dict[str, type[Device]] = {cls.TAG: cls for cls in (
    Disk, Interface, Graphics, Video, Tpm, Rng, Serial, Parallel, Console, Channel,
    Controller, Input, Sound, Hostdev, Memballoon, Filesystem, Watchdog, Redirdev, Panic)}
BOOTABLE = ("disk", "interface", "hostdev", "redirdev")
LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"


def device(element: Element) -> Device:
    """The typed view of a device element (OpaqueDevice for a kind not modelled)."""
    return DEVICE_CLASSES.get(str(element.tag), OpaqueDevice)(element)


class Domain(Node):
    __slots__ = ("_prefixes", "_root_namespaces", "_source")
    ORDER = ("name", "uuid", "genid", "title", "description", "metadata", "maxMemory",
             "memory", "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu",
             "vcpus", "iothreads", "iothreadids", "cputune", "numatune", "resource",
             "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features", "cpu",
             "clock", "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf",
             "devices", "seclabel", "keywrap", "launchSecurity")
    type = Attr("type")                      # kvm, qemu, xen, test, ...
    id = IntAttr("id")                       # running domains only
    name = Text("name")
    uuid = Text("uuid")
    title = Text("title")
    description = Text("description")
    on_poweroff = Text("on_poweroff")
    on_reboot = Text("on_reboot")
    on_crash = Text("on_crash")
    vcpu_placement = Attr("placement", "vcpu")
    max_memory_slots = IntAttr("slots", "maxMemory")
    emulator = Text("devices/emulator")

    def __init__(self, element: Element, prefixes: Prefixes | None = None,
                 root_namespaces: list[tuple[str, str]] | None = None, *,
                 source: str | None = None) -> None:
        """``prefixes`` and ``root_namespaces`` as the document declared them, or
        ``source``, the document's text, to find them in when a write needs them (reading
        thousands of documents for the inventory never does)."""
        if element.tag != "domain":
            raise DomainXMLError(f"Not a domain's XML: its root is <{element.tag}>.")
        super().__init__(element)
        self._prefixes = prefixes
        self._root_namespaces = root_namespaces
        self._source = source if prefixes is None or root_namespaces is None else None

    @property
    def prefixes(self) -> Prefixes:
        """Namespace URI -> the prefix the document used for it."""
        if self._prefixes is None:
            self._prefixes = xmltree.prefixes_of(self._source or "")
        return self._prefixes

    @property
    def root_namespaces(self) -> list[tuple[str, str]]:
        """(prefix, URI) declared on ``<domain>`` itself (libvirt's driver namespaces)."""
        if self._root_namespaces is None:
            self._root_namespaces = xmltree.root_declarations(self._source or "")
        return self._root_namespaces

    def to_xml(self) -> str:
        """The document, ending in a newline as libvirt's XMLDesc does (an untouched
        document from libvirt writes back byte for byte)."""
        return xmltree.write(self.element, self.prefixes, self.root_namespaces) + "\n"

    def copy(self) -> Domain:
        """An independent copy (for an editor to change while the original stays)."""
        return Domain(copy.deepcopy(self.element), dict(self.prefixes),
                      list(self.root_namespaces))

    # -- metadata -----------------------------------------------------------------------
    @property
    def metadata(self) -> Element | None:
        """``<metadata>`` as it is: applications' own elements, each in its namespace."""
        return self.element.find("metadata")

    def metadata_entry(self, namespace: str) -> Element | None:
        found = self.metadata
        if found is None:
            return None
        return next((e for e in found if str(e.tag).startswith("{" + namespace + "}")), None)

    def set_metadata_entry(self, entry: Element, prefix: str) -> None:
        """Put an application's element (tag ``{namespace}name``) into ``<metadata>``,
        in place of the one of the same namespace."""
        tag = str(entry.tag)
        if not tag.startswith("{"):
            raise ValueError("a metadata entry needs a namespace of its own")
        namespace = tag[1:].split("}", 1)[0]
        self.prefixes.setdefault(namespace, prefix)
        holder = self.ensure("metadata")
        old = self.metadata_entry(namespace)
        if old is None:
            xmltree.insert_child(holder, entry)
        else:
            xmltree.swap(holder, old, entry)

    def remove_metadata_entry(self, namespace: str) -> None:
        old = self.metadata_entry(namespace)
        holder = self.metadata
        if old is not None and holder is not None:
            xmltree.remove_child(holder, old)
            if not len(holder):
                self.drop("metadata")

    @property
    def organization(self) -> Organization:
        """HVConsole's tags, folder and custom fields of the VM (see organize.py)."""
        return from_element(self.metadata_entry(ORGANIZE_NS))

    @property
    def os_id(self) -> str | None:
        """The libosinfo id of the guest's OS (``http://debian.org/debian/12``), as
        virt-install and virt-manager record it in ``<metadata>``."""
        entry = self.metadata_entry(LIBOSINFO_NS)
        found = entry.find(f"{{{LIBOSINFO_NS}}}os") if entry is not None else None
        return found.get("id") if found is not None else None

    def set_os_id(self, os_id: str | None) -> None:
        entry = self.metadata_entry(LIBOSINFO_NS)
        if os_id is None:
            if entry is not None:
                self.remove_metadata_entry(LIBOSINFO_NS)
            return
        found = entry.find(f"{{{LIBOSINFO_NS}}}os") if entry is not None else None
        if found is not None:
            found.set("id", os_id)
            return
        self.set_metadata_entry(xmltree.new(f"{{{LIBOSINFO_NS}}}libosinfo", children=[
            xmltree.new(f"{{{LIBOSINFO_NS}}}os", {"id": os_id})]), "libosinfo")

    # -- memory and vCPUs -----------------------------------------------------------------
    @property
    def memory_kib(self) -> int | None:
        """``<memory>``: the memory the VM boots with, the most it can balloon to."""
        return xmltree.kib(self.element.find("memory"))

    @property
    def current_memory_kib(self) -> int | None:
        """``<currentMemory>``, else ``memory`` (libvirt's default)."""
        return xmltree.kib(self.element.find("currentMemory")) or self.memory_kib

    @property
    def max_memory_kib(self) -> int | None:
        """``<maxMemory>``: the ceiling for memory hot-plug (None: none)."""
        return xmltree.kib(self.element.find("maxMemory"))

    def set_memory(self, kib: int, current_kib: int | None = None) -> None:
        """The memory in KiB, and the current (ballooned) part of it (default: all)."""
        if kib <= 0 or (current_kib is not None and not 0 < current_kib <= kib):
            raise ValueError("memory must be positive and the current part no more than it")
        self._set_kib("memory", kib)
        self._set_kib("currentMemory", current_kib if current_kib is not None else kib)

    def set_max_memory(self, kib: int | None, slots: int | None = None) -> None:
        if kib is None:
            self.drop("maxMemory")
            return
        self._set_kib("maxMemory", kib)
        self.max_memory_slots = slots

    def _set_kib(self, tag: str, kib: int) -> None:
        found = self.ensure(tag)
        found.set("unit", "KiB")
        found.text = str(int(kib))

    @property
    def max_vcpus(self) -> int:
        found = self.element.find("vcpu")
        return xmltree.to_int(found.text if found is not None else None) or 1

    @property
    def vcpus(self) -> int:
        """The vCPUs online now (``current``), at most max_vcpus."""
        found = self.element.find("vcpu")
        current = xmltree.to_int(found.get("current")) if found is not None else None
        return current or self.max_vcpus

    def set_vcpus(self, current: int, maximum: int | None = None) -> None:
        """``current`` vCPUs online of ``maximum`` (default: the present maximum, raised
        to ``current`` if lower). A changed maximum drops ``<vcpus>``, the per-vCPU
        list written for the old count."""
        maximum = maximum if maximum is not None else max(self.max_vcpus, current)
        if not 0 < current <= maximum:
            raise ValueError("vCPUs must be at least 1 and no more than the maximum")
        found = self.ensure("vcpu")
        if maximum != self.max_vcpus:
            self.drop("vcpus")
        found.text = str(maximum)
        if current == maximum:
            found.attrib.pop("current", None)
        else:
            found.set("current", str(current))

    # -- machine ------------------------------------------------------------------------
    @property
    def os(self) -> Os:
        """``<os>`` (every domain has one; made when missing)."""
        return Os(self.ensure("os"))

    @property
    def os_if_any(self) -> Os | None:
        """``<os>`` without making one (for reading a document that may lack it)."""
        found = self.element.find("os")
        return Os(found) if found is not None else None

    @property
    def cpu(self) -> Cpu | None:
        found = self.element.find("cpu")
        return Cpu(found) if found is not None else None

    def ensure_cpu(self) -> Cpu:
        return Cpu(self.ensure("cpu"))

    @property
    def features(self) -> Features | None:
        found = self.element.find("features")
        return Features(found) if found is not None else None

    def ensure_features(self) -> Features:
        return Features(self.ensure("features"))

    @property
    def clock(self) -> Clock | None:
        found = self.element.find("clock")
        return Clock(found) if found is not None else None

    def ensure_clock(self) -> Clock:
        return Clock(self.ensure("clock"))

    def set_firmware(self, kind: str | None, *, secure_boot: bool | None = None,
                     loader: str | None = None, nvram_template: str | None = None) -> None:
        """Os.set_firmware, plus SMM, which Secure Boot needs (q35 machines)."""
        self.os.set_firmware(kind, secure_boot=secure_boot, loader=loader,
                             nvram_template=nvram_template)
        if kind == "efi" and secure_boot:
            self.ensure_features().enable("smm", state="on")

    # -- devices ------------------------------------------------------------------------
    def _devices_element(self) -> Element:
        return self.ensure("devices")

    @property
    def devices(self) -> list[Device]:
        """Every device in document order (``<emulator>`` is ``Domain.emulator``)."""
        holder = self.element.find("devices")
        if holder is None:
            return []
        return [device(e) for e in holder if isinstance(e.tag, str) and e.tag != "emulator"]

    def devices_of(self, kind: builtins.type[D]) -> list[D]:
        holder = self.element.find("devices")
        return [kind(e) for e in holder.findall(kind.TAG)] if holder is not None else []

    @property
    def disks(self) -> list[Disk]:
        return self.devices_of(Disk)

    @property
    def interfaces(self) -> list[Interface]:
        return self.devices_of(Interface)

    @property
    def graphics(self) -> list[Graphics]:
        return self.devices_of(Graphics)

    @property
    def videos(self) -> list[Video]:
        return self.devices_of(Video)

    @property
    def hostdevs(self) -> list[Hostdev]:
        return self.devices_of(Hostdev)

    def add_device(self, dev: D) -> D:
        """Add a device after the last of its kind (or where libvirt writes its kind)."""
        holder = self._devices_element()
        xmltree.insert_child(holder, dev.element, DEVICE_ORDER)
        return dev

    def remove_device(self, dev: Device) -> None:
        holder = self.element.find("devices")
        if holder is None or not any(e is dev.element for e in holder):
            raise ValueError(f"{dev!r} is not a device of {self.name}")
        xmltree.remove_child(holder, dev.element)

    def replace_device(self, old: Device, new: D) -> D:
        """Put ``new`` where ``old`` was."""
        holder = self.element.find("devices")
        if holder is None or not any(e is old.element for e in holder):
            raise ValueError(f"{old!r} is not a device of {self.name}")
        xmltree.swap(holder, old.element, new.element)
        return new

    def disk(self, target_dev: str) -> Disk | None:
        return next((d for d in self.disks if d.target_dev == target_dev), None)

    def interface(self, mac: str) -> Interface | None:
        mac = mac.lower()
        return next((i for i in self.interfaces if (i.mac or "").lower() == mac), None)

    # -- boot order ---------------------------------------------------------------------
    def boot_order(self) -> list[Device]:
        """The devices with a ``<boot order>``, first to last."""
        ordered = [(d.boot_order, i, d) for i, d in enumerate(self._bootable())
                   if d.boot_order is not None]
        return [d for _order, _i, d in sorted(ordered, key=lambda t: (t[0] or 0, t[1]))]

    def set_boot_order(self, devices: Sequence[Device]) -> None:
        """Boot from ``devices`` in this order (per-device ``<boot order>``); the
        ``<os><boot dev>`` list goes, since libvirt takes only one of the two."""
        wanted = {id(d.element): i for i, d in enumerate(devices, start=1)}
        mine = {id(d.element) for d in self._bootable()}
        if any(key not in mine for key in wanted):
            raise ValueError("only this domain's disks, interfaces and host devices boot")
        self.os.boot_devices = []
        for dev in self._bootable():
            dev.boot_order = wanted.get(id(dev.element))

    def set_boot_devices(self, kinds: Sequence[str]) -> None:
        """Boot by kind (hd, cdrom, network, fd) in ``<os>``; per-device orders go."""
        for dev in self._bootable():
            dev.boot_order = None
        self.os.boot_devices = list(kinds)

    def _bootable(self) -> Iterator[Device]:
        return (d for d in self.devices if d.kind in BOOTABLE)


def parse(text: str) -> Domain:
    """A domain document (as XMLDesc returns it, with or without the secure and inactive
    flags, or as a user wrote it). Raises DomainXMLError for anything else."""
    return Domain(xmltree.parse_element(text), xmltree.prefixes_of(text),
                  xmltree.root_declarations(text))


def parse_many(documents: Sequence[str | None]) -> list[Domain | None]:
    """Many domain documents at once, for reading them (comments inside are left out);
    None stays None. Raises DomainXMLError as ``parse`` does."""
    roots = xmltree.parse_elements(documents)
    return [Domain(root, source=doc) if root is not None and doc is not None else None
            for root, doc in zip(roots, documents, strict=True)]


def device_from_xml(text: str) -> Device:
    """A single device's XML (as attachDevice takes it) as its typed view."""
    root = xmltree.parse_element(text)
    return device(root)

