"""Typed views of the devices in ``<devices>``.

Each class knows the attributes New VM and Properties read or change; anything else in the
element (``<alias>``, ``<address>``, ``<iotune>``, a driver option libvirt added last
month) is left as it was. A device kind no class knows is an ``OpaqueDevice``: kept, in
its place, verbatim. Graphics devices are in graphics.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connectors.libvirt.domxml import xmltree
from connectors.libvirt.domxml.nodes import (Attr, Flag, IntAttr, Node, Switch, Text,
                                             attrs)
from connectors.libvirt.domxml.xmltree import Element

# The order of device kinds in libvirt's own output: a new device goes after the last of
# its kind, or where its kind would be.
DEVICE_ORDER = ("emulator", "disk", "controller", "lease", "filesystem", "interface",
                "smartcard", "serial", "parallel", "console", "channel", "input", "tpm",
                "graphics", "sound", "audio", "video", "hostdev", "redirdev", "redirfilter",
                "hub", "watchdog", "memballoon", "rng", "panic", "shmem", "memory",
                "iommu", "vsock", "crypto")


class Device(Node):
    """Any device; ``boot_order`` applies to the kinds libvirt boots from (disk,
    interface, hostdev, redirdev)."""

    __slots__ = ()
    TAG: ClassVar[str] = ""
    alias = Attr("name", "alias")
    boot_order = IntAttr("order", "boot")

    @property
    def kind(self) -> str:
        return str(self.element.tag)

    @property
    def address(self) -> dict[str, str] | None:
        """The guest address libvirt gave the device (kept as it is; read only)."""
        found = self.element.find("address")
        return dict(found.attrib) if found is not None else None


class OpaqueDevice(Device):
    """A device this model does not know: kept verbatim."""

    __slots__ = ()


@dataclass(frozen=True)
class SourceHost:
    """A server of a network disk (``<source protocol=...><host .../>``)."""

    name: str | None = None
    port: int | None = None
    transport: str | None = None
    socket: str | None = None


class Disk(Device):
    """``<disk>``: a hard disk, CD/DVD drive, floppy or LUN, backed by a file, a block
    device, a pool's volume or a network source."""

    __slots__ = ()
    TAG = "disk"
    ORDER = ("driver", "auth", "source", "backingStore", "mirror", "target", "blockio",
             "geometry", "iotune", "readonly", "shareable", "transient", "serial", "wwn",
             "vendor", "product", "encryption", "boot", "alias", "address")
    type = Attr("type")                      # file, block, volume, network, dir
    device_attr = Attr("device")             # disk (when absent), cdrom, floppy, lun
    driver_name = Attr("name", "driver")
    driver_type = Attr("type", "driver")     # raw, qcow2, ...
    cache = Attr("cache", "driver")
    discard = Attr("discard", "driver")
    io = Attr("io", "driver")
    target_dev = Attr("dev", "target")
    bus = Attr("bus", "target")
    tray = Attr("tray", "target")            # open / closed (CD/DVD, live XML)
    readonly = Flag("readonly")
    shareable = Flag("shareable")
    serial = Text("serial")
    source_file = Attr("file", "source")
    source_dev = Attr("dev", "source")
    source_dir = Attr("dir", "source")
    source_pool = Attr("pool", "source")
    source_volume = Attr("volume", "source")
    source_protocol = Attr("protocol", "source")
    source_name = Attr("name", "source")
    startup_policy = Attr("startupPolicy", "source")

    @property
    def device(self) -> str:
        return self.device_attr or "disk"

    @property
    def is_removable(self) -> bool:
        """A drive whose media come and go (CD/DVD, floppy)."""
        return self.device in ("cdrom", "floppy")

    @property
    def has_media(self) -> bool:
        """A running VM's empty drive still has a ``<source index=…/>`` (libvirt's
        numbering of the drive's images): only a source naming something is media."""
        source = self.element.find("source")
        return source is not None and any(k not in ("index", "startupPolicy")
                                          for k in source.attrib)

    @property
    def source_hosts(self) -> list[SourceHost]:
        return [SourceHost(h.get("name"), xmltree.to_int(h.get("port")), h.get("transport"),
                           h.get("socket")) for h in self.element.findall("source/host")]

    @property
    def source_path(self) -> str | None:
        """What the disk shows: a path, a block device, "pool/volume" or a network
        name; None for an empty drive."""
        source = self.element.find("source")
        if source is None:
            return None
        if source.get("pool") and source.get("volume"):
            return f"{source.get('pool')}/{source.get('volume')}"
        return (source.get("file") or source.get("dev") or source.get("dir")
                or source.get("name") or source.get("volume"))

    def set_file(self, path: str) -> None:
        self._set_source("file", attrs(file=path))

    def set_block(self, dev: str) -> None:
        self._set_source("block", attrs(dev=dev))

    def set_volume(self, pool: str, volume: str) -> None:
        self._set_source("volume", attrs(pool=pool, volume=volume))

    def set_network(self, protocol: str, name: str,
                    hosts: tuple[SourceHost, ...] = ()) -> None:
        source = self._set_source("network", attrs(protocol=protocol, name=name))
        for host in hosts:
            source.append(xmltree.new("host", attrs(name=host.name, port=host.port,
                                                    transport=host.transport,
                                                    socket=host.socket)))

    def insert_media(self, path: str) -> None:
        """Put an image file into this CD/DVD or floppy drive."""
        self._require_removable()
        self.set_file(path)

    def insert_volume(self, pool: str, volume: str) -> None:
        self._require_removable()
        self.set_volume(pool, volume)

    def eject(self) -> None:
        """Empty the drive (the drive stays)."""
        self._require_removable()
        self.drop("source")
        self.drop("backingStore")

    def _require_removable(self) -> None:
        if not self.is_removable:
            raise ValueError(f"{self.target_dev or 'this disk'} is a {self.device}: only a "
                             "CD/DVD or floppy drive takes media")

    def _set_source(self, kind: str, values: dict[str, str]) -> Element:
        """A new ``<source>`` of ``kind`` in place of the old one (and its backing chain,
        which belonged to the old image)."""
        self.type = kind
        old = self.element.find("source")
        new = xmltree.new("source", values)
        if old is not None:
            xmltree.swap(self.element, old, new)
        else:
            xmltree.insert_child(self.element, new, self.ORDER)
        self.drop("backingStore")
        return new


class Interface(Device):
    """``<interface>``: a network card on a virtual network, a host bridge, a host
    device (macvtap "direct") or user-mode networking."""

    __slots__ = ()
    TAG = "interface"
    ORDER = ("mac", "source", "vlan", "virtualport", "ip", "route", "script", "target",
             "guest", "model", "driver", "backend", "filterref", "tune", "teaming", "link",
             "mtu", "coalesce", "boot", "rom", "acpi", "alias", "address")
    type = Attr("type")
    mac = Attr("address", "mac")
    model = Attr("type", "model")
    link_state = Attr("state", "link")       # up (when absent) or down
    target_dev = Attr("dev", "target")
    source_network = Attr("network", "source")
    source_portgroup = Attr("portgroup", "source")
    source_bridge = Attr("bridge", "source")
    source_dev = Attr("dev", "source")
    source_mode = Attr("mode", "source")

    @property
    def source(self) -> str | None:
        found = self.element.find("source")
        if found is None:
            return None
        return (found.get("network") or found.get("bridge") or found.get("dev")
                or found.get("path"))

    @property
    def link_up(self) -> bool:
        return self.link_state != "down"

    @link_up.setter
    def link_up(self, up: bool) -> None:
        self.link_state = None if up else "down"

    def set_network(self, network: str, portgroup: str | None = None) -> None:
        self._set_source("network", attrs(network=network, portgroup=portgroup))

    def set_bridge(self, bridge: str) -> None:
        self._set_source("bridge", attrs(bridge=bridge))

    def set_direct(self, dev: str, mode: str = "vepa") -> None:
        self._set_source("direct", attrs(dev=dev, mode=mode))

    def set_user(self) -> None:
        self._set_source("user", None)

    def _set_source(self, kind: str, values: dict[str, str] | None) -> None:
        changed = self.type != kind
        self.type = kind
        self.drop("source")
        if changed:
            self.drop("virtualport")     # belongs to the old kind of connection
        if values is not None:
            xmltree.insert_child(self.element, xmltree.new("source", values), self.ORDER)


class Video(Device):
    __slots__ = ()
    TAG = "video"
    ORDER = ("driver", "model", "alias", "address")
    model = Attr("type", "model")            # virtio, qxl, vga, bochs, cirrus, ramfb, none
    vram = IntAttr("vram", "model")
    ram = IntAttr("ram", "model")
    vgamem = IntAttr("vgamem", "model")
    heads = IntAttr("heads", "model")
    primary = Switch("primary", "model")
    accel3d = Switch("accel3d", "model/acceleration")

    def set_model(self, model: str, *, heads: int | None = 1, vram: int | None = None) -> None:
        """Another model: the memory sizes of the old one do not carry over."""
        element = self.ensure("model")
        primary = element.get("primary")
        keep = [c for c in element]
        element.attrib.clear()
        element.attrib.update(attrs(type=model, vram=vram, heads=heads, primary=primary))
        if model != "virtio":
            keep = [c for c in keep if c.tag != "acceleration"]
        element[:] = keep


class Tpm(Device):
    __slots__ = ()
    TAG = "tpm"
    ORDER = ("backend", "alias", "address")
    model = Attr("model")                    # tpm-crb, tpm-tis, tpm-spapr
    backend_type = Attr("type", "backend")   # emulator, passthrough
    version = Attr("version", "backend")     # 1.2, 2.0
    device_path = Attr("path", "backend/device")


class Rng(Device):
    __slots__ = ()
    TAG = "rng"
    ORDER = ("rate", "backend", "alias", "address")
    model = Attr("model")
    backend_model = Attr("model", "backend")  # random, egd, builtin
    source = Text("backend")                  # /dev/urandom for model random
    rate_bytes = IntAttr("bytes", "rate")
    rate_period = IntAttr("period", "rate")


class CharDevice(Device):
    """``<serial>``, ``<parallel>``, ``<console>`` and ``<channel>``."""

    __slots__ = ()
    ORDER = ("source", "protocol", "log", "target", "alias", "address")
    type = Attr("type")                      # pty, file, unix, tcp, spicevmc, ...
    source_path = Attr("path", "source")
    source_mode = Attr("mode", "source")
    source_host = Attr("host", "source")
    source_service = Attr("service", "source")
    target_type = Attr("type", "target")     # isa-serial, serial, virtio, ...
    target_port = IntAttr("port", "target")
    target_name = Attr("name", "target")     # a channel's: org.qemu.guest_agent.0
    target_model = Attr("name", "target/model")
    log_file = Attr("file", "log")

    @property
    def tty(self) -> str | None:
        """The pty a running guest's device is on (live XML)."""
        return self.element.get("tty") or self.source_path


class Serial(CharDevice):
    __slots__ = ()
    TAG = "serial"


class Parallel(CharDevice):
    __slots__ = ()
    TAG = "parallel"


class Console(CharDevice):
    __slots__ = ()
    TAG = "console"


class Channel(CharDevice):
    __slots__ = ()
    TAG = "channel"


class Controller(Device):
    __slots__ = ()
    TAG = "controller"
    ORDER = ("model", "driver", "target", "alias", "address")
    type = Attr("type")                      # usb, pci, virtio-serial, scsi, sata, ide
    index = IntAttr("index")
    model = Attr("model")
    ports = IntAttr("ports")


class Input(Device):
    __slots__ = ()
    TAG = "input"
    ORDER = ("source", "driver", "alias", "address")
    type = Attr("type")                      # tablet, mouse, keyboard, evdev, passthrough
    bus = Attr("bus")                        # usb, ps2, virtio, xen


class Sound(Device):
    __slots__ = ()
    TAG = "sound"
    ORDER = ("codec", "audio", "alias", "address")
    model = Attr("model")


class Hostdev(Device):
    """``<hostdev>``: a USB or PCI device of the host given to the guest."""

    __slots__ = ()
    TAG = "hostdev"
    ORDER = ("source", "driver", "rom", "boot", "alias", "address")
    mode = Attr("mode")
    type = Attr("type")                      # usb, pci, scsi, mdev
    managed = Switch("managed")
    usb_vendor = Attr("id", "source/vendor")
    usb_product = Attr("id", "source/product")

    @property
    def source_address(self) -> dict[str, str] | None:
        found = self.element.find("source/address")
        return dict(found.attrib) if found is not None else None

    @property
    def pci_address(self) -> tuple[int, int, int, int] | None:
        """(domain, bus, slot, function) of a PCI device of the host."""
        found = self.source_address
        if self.type != "pci" or found is None:
            return None
        parts = [xmltree.to_int(found.get(k, "0")) for k in ("domain", "bus", "slot",
                                                               "function")]
        if any(p is None for p in parts):
            return None
        return (parts[0] or 0, parts[1] or 0, parts[2] or 0, parts[3] or 0)

    @property
    def usb_ids(self) -> tuple[int, int] | None:
        vendor, product = xmltree.to_int(self.usb_vendor), xmltree.to_int(self.usb_product)
        return (vendor, product) if vendor is not None and product is not None else None


class Memballoon(Device):
    __slots__ = ()
    TAG = "memballoon"
    ORDER = ("stats", "driver", "alias", "address")
    model = Attr("model")                    # virtio, xen, none
    autodeflate = Switch("autodeflate", words=("on", "off"))
    stats_period = IntAttr("period", "stats")


class Filesystem(Device):
    __slots__ = ()
    TAG = "filesystem"
    ORDER = ("driver", "binary", "source", "target", "readonly", "alias", "address")
    type = Attr("type")
    accessmode = Attr("accessmode")
    driver_type = Attr("type", "driver")     # virtiofs, path
    source_dir = Attr("dir", "source")
    target_dir = Attr("dir", "target")
    readonly = Flag("readonly")


class Watchdog(Device):
    __slots__ = ()
    TAG = "watchdog"
    model = Attr("model")
    action = Attr("action")


class Redirdev(Device):
    __slots__ = ()
    TAG = "redirdev"
    ORDER = ("source", "boot", "alias", "address")
    bus = Attr("bus")
    type = Attr("type")


class Panic(Device):
    __slots__ = ()
    TAG = "panic"
    model = Attr("model")
