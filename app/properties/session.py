"""One Properties dialog's edits: the definition as it was and as the user changes it.

The pages change ``edited`` through the domain XML model (connectors.libvirt.domxml),
never by writing XML, so whatever they do not touch stays byte for byte; what is not in
the XML (start with the host, a disk's size, a new volume to make, a volume to delete
with its disk, the disc in a running VM's drive) is kept beside it. ``changes.plan``
compares the two and says what the edits amount to.

Devices are matched between the two definitions by identity: ``edited`` is a deep copy
whose every element is paired with the original one it came from (``origin``), so a
device the user changed is "changed", not "removed and added", even when its target or
MAC is what changed.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from connectors.libvirt import domxml
from connectors.libvirt.domain_ops import DiskSize
from connectors.libvirt.domxml import Device, Disk
from connectors.libvirt.domxml.domain import D

from app.properties.data import PropertiesData

CACHE_MODES = ("default", "none", "writeback", "writethrough", "directsync", "unsafe")


@dataclass(frozen=True)
class NewVolume:
    """A volume to make in a pool when the change list is applied."""

    pool: str
    name: str
    capacity: int
    fmt: str = "qcow2"


@dataclass(frozen=True)
class DiskChoice:
    """The Add Disk dialog's answer: a new volume (with its pool's path) or an existing
    one, on a bus, with a cache mode."""

    bus: str
    cache: str
    new_volume: NewVolume | None = None
    pool_path: str | None = None
    existing_path: str | None = None
    existing_format: str | None = None


class EditSession(QObject):
    changed = Signal()

    def __init__(self, data: PropertiesData, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data = data
        self.original = domxml.parse(data.facts.config_xml)
        self.edited = self.original.copy()
        self.live = domxml.parse(data.facts.live_xml) if data.facts.live_xml else None
        # Every edited element, kept alive so that its id() stays its own.
        self._edited_elements = list(self.edited.element.iter())
        self._origin = {id(e): o for e, o in zip(self._edited_elements,
                                                 self.original.element.iter(), strict=True)}
        self.autostart = data.facts.autostart
        self.resizes: dict[str, int] = {}               # target -> new size in bytes
        self.shrink_confirmed: set[str] = set()
        self.new_volumes: dict[int, NewVolume] = {}      # id(edited disk) -> to make
        self.delete_volumes: dict[str, str] = {}        # removed disk's target -> path
        self.media: dict[str, str | None] = {}          # CD target -> wanted disc
        self.xml_text: str | None = None                # the XML page's own text

    # ---- what the pages read ----

    @property
    def vm_name(self) -> str:
        return self.original.name or self.data.vm.name

    @property
    def running(self) -> bool:
        return self.live is not None

    def origin(self, dev: Device) -> Device | None:
        """The original device an edited one came from; None for a device added here."""
        found = self._origin.get(id(dev.element))
        return domxml.device(found) if found is not None else None

    def disk_size(self, target: str) -> DiskSize | None:
        return self.data.facts.disk_sizes.get(target)

    def media_now(self, target: str) -> str | None:
        """The disc in drive ``target`` now: the running VM's, else the definition's."""
        if self.live is not None:
            live = self.live.disk(target)
            if live is not None:
                return live.source_path if live.has_media else None
        original = self.original.disk(target)
        return original.source_path if original is not None and original.has_media else None

    def wanted_media(self, cd: Disk) -> str | None:
        """The disc the user wants in a drive (what is in it now, unless changed)."""
        target = cd.target_dev or ""
        if target in self.media:
            return self.media[target]
        return self.media_now(target) if self.original.disk(target) is not None else (
            cd.source_path if cd.has_media else None)

    # ---- edits ----

    def touch(self) -> None:
        """A page changed ``edited``: marks and the Apply button follow."""
        self.changed.emit()

    def add_device(self, dev: D) -> D:
        self.edited.add_device(dev)
        self.touch()
        return dev

    def remove_device(self, dev: Device, *, delete_volume: str | None = None) -> None:
        """``delete_volume``: the path of the removed disk's volume, deleted with it."""
        self.edited.remove_device(dev)
        self.new_volumes.pop(id(dev.element), None)
        if isinstance(dev, Disk) and dev.target_dev:
            self.resizes.pop(dev.target_dev, None)
            if delete_volume and self.origin(dev) is not None:
                self.delete_volumes[dev.target_dev] = delete_volume
        self.touch()

    def add_new_disk(self, volume: NewVolume, pool_path: str | None, *, bus: str,
                     cache: str | None) -> Disk:
        """A disk on a volume made when the changes are applied; its path is the
        pool's guess until then (``apply`` writes the real one)."""
        target = domxml.next_target(self.edited, bus)
        path = f"{pool_path.rstrip('/')}/{volume.name}" if pool_path else volume.name
        disk = domxml.new_disk(target, bus=bus, file=path, driver_type=volume.fmt,
                               cache=None if cache in (None, "default") else cache)
        self.new_volumes[id(disk.element)] = volume
        return self.add_device(disk)

    def add_existing_disk(self, path: str, *, bus: str, cache: str | None,
                          fmt: str | None) -> Disk:
        target = domxml.next_target(self.edited, bus)
        disk = domxml.new_disk(target, bus=bus, file=path, driver_type=fmt,
                               cache=None if cache in (None, "default") else cache)
        return self.add_device(disk)

    def new_volume(self, disk: Disk) -> NewVolume | None:
        return self.new_volumes.get(id(disk.element))

    def resize(self, target: str, new_bytes: int, *, shrink_confirmed: bool = False) -> None:
        size = self.disk_size(target)
        if size is not None and new_bytes == size.capacity:
            self.resizes.pop(target, None)
        else:
            self.resizes[target] = new_bytes
        if shrink_confirmed:
            self.shrink_confirmed.add(target)
        self.touch()

    def set_media(self, cd: Disk, path: str | None) -> None:
        """Insert an image (None: eject) into a CD/DVD drive, now and for the next
        start; the definition's drive follows."""
        if path is None:
            if cd.has_media:
                cd.eject()
        elif cd.source_path != path:
            cd.insert_media(path)
        if cd.target_dev:
            if path == self.media_now(cd.target_dev):
                self.media.pop(cd.target_dev, None)
            else:
                self.media[cd.target_dev] = path
        self.touch()

    def set_xml_text(self, text: str | None) -> None:
        """The XML page's text; None (or the edited definition's own text) drops it."""
        self.xml_text = None if text is None or text == self.edited.to_xml() else text
        self.touch()
