"""What a host asks libvirt to tell it: keepalive, the close callback and object events.

libvirt calls the event callbacks on its event loop, which is ours (eventloop.py), with
the ``generation`` the subscription was made with as its opaque value: a callback of an
older connection is then recognised and ignored. Each event becomes a HypervisorEvent,
worded for the Events log, handed to ``on_event`` with that generation; what libvirt
says about a lost connection goes to ``on_close`` (from whichever thread noticed it).

A driver may refuse a family's lifecycle events (``Subscription.silent``): the host then
refreshes that family by polling (polling.py) instead of going stale without a word.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import libvirt

from connectors.libvirt import readers, wording
from connectors.libvirt.domxml.organize import ORGANIZE_NS
from connectors.libvirt.model import HypervisorEvent, ObjectKind

log = logging.getLogger(__name__)

EventHandler = Callable[[int, HypervisorEvent], None]   # (generation, event)
CloseHandler = Callable[[int, int], None]               # (virConnectCloseReason, generation)
EventIds = tuple[tuple[str, int], ...]                  # (family, libvirt's callback id)

_FAMILY_KINDS = {"domain": ObjectKind.VM, "network": ObjectKind.NETWORK,
                 "pool": ObjectKind.POOL}


@dataclass(frozen=True, slots=True)
class Subscription:
    ids: EventIds                    # what close_quietly deregisters
    silent: frozenset[ObjectKind]    # kinds whose lifecycle events the driver refused


class _Callbacks:
    """libvirt's callback signatures in, HypervisorEvents out."""

    def __init__(self, on_event: EventHandler, on_close: CloseHandler) -> None:
        self._on_event = on_event
        self._on_close = on_close

    def _vm(self, generation: int, dom: libvirt.virDomain, message: str,
            severity: str = "info") -> None:
        self._on_event(generation, HypervisorEvent(ObjectKind.VM, dom.UUIDString(),
                                                   dom.name(), message, severity))

    def domain_lifecycle(self, _conn: libvirt.virConnect, dom: libvirt.virDomain,
                         event: int, detail: int, generation: int) -> None:
        message, severity = wording.domain_lifecycle(event, detail)
        self._vm(generation, dom, message, severity)

    def domain_reboot(self, _conn: libvirt.virConnect, dom: libvirt.virDomain,
                      generation: int) -> None:
        self._vm(generation, dom, "Rebooted")

    def device_added(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, alias: str,
                     generation: int) -> None:
        self._vm(generation, dom, f"Device {alias} added")

    def device_removed(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, alias: str,
                       generation: int) -> None:
        self._vm(generation, dom, f"Device {alias} removed")

    def metadata(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, mtype: int,
                 nsuri: str | None, generation: int) -> None:
        # The VM is re-read on any of these: that is how tags set elsewhere (another
        # console, virsh metadata --set) reach the tree.
        if mtype == libvirt.VIR_DOMAIN_METADATA_ELEMENT and nsuri == ORGANIZE_NS:
            what = "Tags, folder or fields"
        else:
            what = {0: "Description", 1: "Title"}.get(mtype, "Metadata")
        self._vm(generation, dom, f"{what} changed")

    def network_lifecycle(self, _conn: libvirt.virConnect, net: libvirt.virNetwork,
                          event: int, _detail: int, generation: int) -> None:
        name = net.name()
        self._on_event(generation, HypervisorEvent(
            ObjectKind.NETWORK, net.UUIDString(), name,
            wording.network_lifecycle(name, event)))

    def pool_lifecycle(self, _conn: libvirt.virConnect, pool: libvirt.virStoragePool,
                       event: int, _detail: int, generation: int) -> None:
        name = pool.name()
        self._on_event(generation, HypervisorEvent(ObjectKind.POOL, pool.UUIDString(), name,
                                                   wording.pool_lifecycle(name, event)))

    def pool_refresh(self, _conn: libvirt.virConnect, pool: libvirt.virStoragePool,
                     generation: int) -> None:
        name = pool.name()
        self._on_event(generation, HypervisorEvent(ObjectKind.POOL, pool.UUIDString(), name,
                                                   f"Storage pool {name} refreshed"))

    def closed(self, _conn: libvirt.virConnect, reason: int, generation: int) -> None:
        self._on_close(reason, generation)


def subscribe(conn: libvirt.virConnect, generation: int, on_event: EventHandler,
              on_close: CloseHandler, *, uri: str,
              keepalive: tuple[int, int] | None) -> Subscription:
    """Keepalive (interval, count; None for none), the close callback and the event
    callbacks (blocking; in a worker). What the driver refuses is logged and left out."""
    if keepalive is not None:
        try:
            conn.setKeepAlive(*keepalive)
        except libvirt.libvirtError as err:
            log.info("no keepalive on %s: %s", uri, readers.error_text(err))
    callbacks = _Callbacks(on_event, on_close)
    try:
        conn.registerCloseCallback(callbacks.closed, generation)
    except libvirt.libvirtError as err:
        log.info("no close callback on %s: %s", uri, readers.error_text(err))
    register: dict[str, Callable[..., int]] = {
        "domain": conn.domainEventRegisterAny,
        "network": conn.networkEventRegisterAny,
        "pool": conn.storagePoolEventRegisterAny}
    # (family, event, callback, whether the family goes unseen without it)
    wanted: tuple[tuple[str, int, Callable[..., None], bool], ...] = (
        ("domain", libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callbacks.domain_lifecycle, True),
        ("domain", libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, callbacks.domain_reboot, False),
        ("domain", libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, callbacks.device_added, False),
        ("domain", libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, callbacks.device_removed,
         False),
        ("domain", libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, callbacks.metadata, False),
        ("network", libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, callbacks.network_lifecycle,
         True),
        ("pool", libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, callbacks.pool_lifecycle, True),
        ("pool", libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, callbacks.pool_refresh, False),
    )
    ids: list[tuple[str, int]] = []
    silent: set[ObjectKind] = set()
    for family, event_id, callback, lifecycle in wanted:
        try:
            ids.append((family, register[family](None, event_id, callback, generation)))
        except libvirt.libvirtError as err:
            log.info("%s cannot report %s event %d: %s", uri, family, event_id,
                     readers.error_text(err))
            if lifecycle:
                silent.add(_FAMILY_KINDS[family])
    return Subscription(tuple(ids), frozenset(silent))


def close_quietly(conn: libvirt.virConnect, ids: EventIds) -> None:
    """Deregisters the callbacks and closes the connection, ignoring every failure: the
    connection may already be dead (blocking; in a worker or a thread of its own)."""
    deregister = {"domain": conn.domainEventDeregisterAny,
                  "network": conn.networkEventDeregisterAny,
                  "pool": conn.storagePoolEventDeregisterAny}
    for family, callback_id in ids:
        try:
            deregister[family](callback_id)
        except libvirt.libvirtError:
            pass
    try:
        conn.unregisterCloseCallback()
    except libvirt.libvirtError:
        pass
    try:
        conn.close()
    except libvirt.libvirtError:
        pass
