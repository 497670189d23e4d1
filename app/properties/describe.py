"""Devices and their differences in words, for the change summary and the pages' lists."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from copy import deepcopy as copy_element

from connectors.libvirt.domxml import (Console, Device, Disk, Graphics, Hostdev, Interface,
                                       Memballoon, Rng, Serial, Tpm, Video, xmltree)

from app.properties.words import on_off

HOTPLUG_DISK_BUSES = ("virtio", "scsi", "usb")


def device_label(dev: Device) -> str:
    if isinstance(dev, Disk):
        if dev.device == "cdrom":
            return f"CD/DVD drive {dev.target_dev}"
        return f"disk {dev.target_dev}"
    if isinstance(dev, Interface):
        where = f" on {dev.type} {dev.source}" if dev.source else ""
        return f"network interface {dev.mac or '(new)'}{where}"
    if isinstance(dev, Graphics):
        return f"{(dev.type or 'graphics').upper()} display"
    if isinstance(dev, Video):
        return f"{dev.model or 'default'} video"
    if isinstance(dev, Tpm):
        return f"TPM {dev.version or ''} ({dev.backend_type or 'emulator'}, {dev.model})"
    if isinstance(dev, Rng):
        return f"random number generator ({dev.source or dev.backend_model})"
    if isinstance(dev, (Serial, Console)):
        return f"{dev.kind} port {dev.target_port or 0} ({dev.type})"
    if isinstance(dev, Hostdev):
        if dev.type == "usb" and dev.usb_ids:
            vendor, product = dev.usb_ids
            return f"USB device {vendor:04x}:{product:04x}"
        return f"host {dev.type} device"
    if isinstance(dev, Memballoon):
        return f"memory balloon ({dev.model})"
    return f"{dev.kind} device"


def upper_first(text: str) -> str:
    """"cD/DVD drive" stays "CD/DVD drive" (str.capitalize lowers the rest)."""
    return text[:1].upper() + text[1:]


def hot_pluggable(dev: Device) -> bool:
    """Whether libvirt adds and removes this kind of device on a running VM."""
    if isinstance(dev, Disk):
        return dev.device == "disk" and (dev.bus or "") in HOTPLUG_DISK_BUSES
    if isinstance(dev, Interface):
        return True
    if isinstance(dev, Hostdev):
        return dev.type in ("usb", "pci")
    if isinstance(dev, Rng):
        return (dev.model or "virtio") == "virtio"
    return False


def canonical(element: ET.Element) -> str:
    """The element without the whitespace between elements: two views differ only if
    this does (a setter's new indentation is no change)."""
    return ET.canonicalize(xmltree.write(element), strip_text=True)


def differences(old: Device, new: Device) -> dict[str, tuple[str, str]]:
    """Field -> (old, new) in words, for the fields the pages change; "settings" when
    something else differs."""
    found: dict[str, tuple[str, str]] = {}

    def field(name: str, before: object, after: object) -> None:
        if before != after:
            found[name] = (_word(before), _word(after))

    if isinstance(old, Disk) and isinstance(new, Disk):
        field("bus", old.bus, new.bus)
        field("target", old.target_dev, new.target_dev)
        field("cache", old.cache or "default", new.cache or "default")
        field("read-only", on_off(old.readonly), on_off(new.readonly))
        field("shareable", on_off(old.shareable), on_off(new.shareable))
        if old.device != "cdrom":
            field("source", old.source_path, new.source_path)
    elif isinstance(old, Interface) and isinstance(new, Interface):
        field("connection", f"{old.type} {old.source}", f"{new.type} {new.source}")
        field("model", old.model, new.model)
        field("MAC", old.mac, new.mac)
        field("link", "up" if old.link_up else "down", "up" if new.link_up else "down")
    elif isinstance(old, Graphics) and isinstance(new, Graphics):
        field("type", old.type, new.type)
        field("listen address", old.listen_address or "host default",
              new.listen_address or "host default")
        if old.passwd != new.passwd:
            found["password"] = ("set" if old.passwd else "none",
                                 "changed" if old.passwd and new.passwd
                                 else "set" if new.passwd else "none")
    elif isinstance(old, Video) and isinstance(new, Video):
        field("model", old.model, new.model)
    elif isinstance(old, Tpm) and isinstance(new, Tpm):
        field("model", old.model, new.model)
        field("version", old.version, new.version)
    elif isinstance(old, Memballoon) and isinstance(new, Memballoon):
        field("model", old.model, new.model)
    if not found and _rest(old) != _rest(new):
        found["settings"] = ("", "")
    return found


def _rest(dev: Device) -> str:
    """The device's canonical XML without what other changes describe: its place in the
    boot order (the Boot page's) and a CD/DVD drive's disc (the CD/DVD page's)."""
    copy = Disk(copy_element(dev.element))
    copy.drop("boot")
    if isinstance(dev, Disk) and dev.is_removable:
        copy.drop("source")
        copy.drop("backingStore")
        copy.element.attrib.pop("type", None)
    return canonical(copy.element)


def _word(value: object) -> str:
    if value is None or value == "":
        return "none"
    return str(value)


def described(name: str, before: str, after: str) -> str:
    if name == "settings":
        return "other settings changed"
    if name == "password":
        return f"password {after}" if after != "none" else "password removed"
    return f"{name} {before} → {after}"


