"""The host's USB devices, from libvirt's node device list (what Properties offers to
pass through to a VM). Blocking: run in the host's worker pool.

Asked of the host's daemon, not of this computer: the devices are plugged into the host.
A node device's XML is small and read here directly (it is not a domain's XML).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt


@dataclass(frozen=True)
class UsbDevice:
    name: str                 # libvirt's node device name: usb_1_2
    vendor_id: int
    product_id: int
    vendor: str = ""          # as the host's USB ID database names them
    product: str = ""
    bus: int | None = None
    device: int | None = None

    @property
    def ids(self) -> str:
        return f"{self.vendor_id:04x}:{self.product_id:04x}"

    @property
    def label(self) -> str:
        words = " ".join(w for w in (self.vendor, self.product) if w) or "USB device"
        where = f" (bus {self.bus}, device {self.device})" if self.bus is not None else ""
        return f"{words} [{self.ids}]{where}"


def parse_usb_device(xml: str) -> UsbDevice | None:
    root = ET.fromstring(xml)
    cap = root.find("capability[@type='usb_device']")
    if cap is None:
        return None
    vendor, product = cap.find("vendor"), cap.find("product")
    if vendor is None or product is None:
        return None
    return UsbDevice(
        name=root.findtext("name", ""),
        vendor_id=int(vendor.get("id", "0"), 0), product_id=int(product.get("id", "0"), 0),
        vendor=(vendor.text or "").strip(), product=(product.text or "").strip(),
        bus=_int(cap.findtext("bus")), device=_int(cap.findtext("device")))


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def usb_devices(conn: libvirt.virConnect) -> list[UsbDevice]:
    """USB devices plugged into the host (hubs and root hubs left out: they cannot be
    given to a guest)."""
    found = []
    for dev in conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV):
        try:
            usb = parse_usb_device(dev.XMLDesc(0))
        except (libvirt.libvirtError, ET.ParseError):
            continue
        if usb is not None and not _is_hub(usb):
            found.append(usb)
    return sorted(found, key=lambda u: (u.bus or 0, u.device or 0, u.name))


def _is_hub(usb: UsbDevice) -> bool:
    """Root hubs (the Linux Foundation's ids) and named hubs: nothing to give a guest."""
    return usb.vendor_id == 0x1d6b or "hub" in usb.product.lower()
