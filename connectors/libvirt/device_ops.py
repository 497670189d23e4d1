"""Devices added to, changed on and removed from a VM, now (live) and in its definition
(config). Blocking: run in the host's worker pool (LibvirtHost.run).

Removing a device from a running guest is a request, not an order: QEMU asks the guest
to let go (ACPI or PCIe hot-unplug) and only the guest's answer removes it. libvirt's
detach call waits a few seconds and then returns success whether or not the guest has
answered, so success says nothing. What does say it is libvirt's DEVICE_REMOVED event
(or DEVICE_REMOVAL_FAILED when the guest refuses), and failing that the device's alias
gone from the live definition. ``detach_live`` waits for that and reports one of three
outcomes instead of pretending.
"""
from __future__ import annotations

import enum
import threading

import libvirt

from connectors.libvirt import domxml

LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG
REMOVAL_WAIT_S = 20.0


def scope(live: bool, config: bool) -> int:
    if not (live or config):
        raise ValueError("a device change applies now, to the definition, or both")
    return (LIVE if live else 0) | (CONFIG if config else 0)


def attach(dom: libvirt.virDomain, device_xml: str, *, live: bool, config: bool) -> None:
    dom.attachDeviceFlags(device_xml, scope(live, config))


def update(dom: libvirt.virDomain, device_xml: str, *, live: bool, config: bool,
           force: bool = False) -> None:
    """Change a device in place (CD media, a NIC's link or network, a display's
    password). ``force``: eject media even though the guest locked the tray."""
    flags = scope(live, config)
    if force:
        flags |= libvirt.VIR_DOMAIN_DEVICE_MODIFY_FORCE
    dom.updateDeviceFlags(device_xml, flags)


def change_media(dom: libvirt.virDomain, device_xml: str) -> bool:
    """Put another disc into a running VM's drive (or none). A guest using the disc
    has locked the tray and QEMU waits for it to open, which it never does by itself:
    then the disc is taken out anyway (force). True when it had to be forced."""
    try:
        update(dom, device_xml, live=True, config=False)
        return False
    except libvirt.libvirtError as err:
        if not _tray_locked(err):
            raise
    update(dom, device_xml, live=True, config=False, force=True)
    return True


def _tray_locked(err: libvirt.libvirtError) -> bool:
    message = (err.get_error_message() or "").lower()
    return "tray" in message or "locked" in message


class Removal(enum.Enum):
    REMOVED = "removed"       # the guest let go: the device is gone
    REFUSED = "refused"       # the guest said no (DEVICE_REMOVAL_FAILED)
    PENDING = "pending"       # no answer yet: it goes when the guest lets go


def detach_live(conn: libvirt.virConnect, dom: libvirt.virDomain, device: domxml.Device,
                wait_s: float = REMOVAL_WAIT_S) -> Removal:
    """Ask the running guest to let go of ``device`` (a device of its live definition,
    whose alias libvirt's events name) and wait up to ``wait_s`` for its answer.
    libvirt must dispatch its events meanwhile (connectors.libvirt.eventloop does, on
    the asyncio loop, while this runs in a worker)."""
    alias = device.alias
    answered = threading.Event()
    outcome: list[Removal] = []

    def removed(_conn: libvirt.virConnect, _dom: libvirt.virDomain, dev_alias: str,
                _opaque: object) -> None:
        if dev_alias == alias:
            outcome.append(Removal.REMOVED)
            answered.set()

    def failed(_conn: libvirt.virConnect, _dom: libvirt.virDomain, dev_alias: str,
               _opaque: object) -> None:
        if dev_alias == alias:
            outcome.append(Removal.REFUSED)
            answered.set()

    ids = [conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                       removed, None),
           conn.domainEventRegisterAny(dom,
                                       libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                                       failed, None)]
    try:
        dom.detachDeviceFlags(device.to_xml(), LIVE)
        if alias is None:
            return Removal.REMOVED if not _still_there(dom, device) else Removal.PENDING
        if answered.wait(wait_s):
            return outcome[0]
        return Removal.PENDING if _still_there(dom, device) else Removal.REMOVED
    finally:
        for callback_id in ids:
            try:
                conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError:
                pass


def _still_there(dom: libvirt.virDomain, device: domxml.Device) -> bool:
    if not dom.isActive():
        return False
    live = domxml.parse(dom.XMLDesc(0))
    if device.alias is not None:
        return any(d.alias == device.alias for d in live.devices)
    return any(d.to_xml() == device.to_xml() for d in live.devices)
