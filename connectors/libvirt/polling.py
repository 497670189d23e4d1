"""Keeping a host current whose driver sends no lifecycle events: a light periodic look.

Most drivers report every start, stop, define and undefine as an event, and the host's
picture is fed by those alone. A driver that refuses a family's lifecycle events (see
subscription.py) would leave the tree silently stale; for those families the host looks
every ``ConnectionSettings.poll_interval_s`` instead, as virt-manager does for every
host. A look is cheap: one listing per family (for VMs one getAllDomainStats of the state
group, one RPC for the whole host), reduced to a small signature per object (name, state,
running id; name and active flag for networks and pools) and compared with the previous
look's. Only what differs is re-read, through the same coalesced refresh that events
feed, and only changes reach the listener.

A change a look cannot see (a VM's definition edited elsewhere while its state stays
the same) waits for the next thing that changes its state; that is the price of not
reading every VM's XML on every look.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import cast

import libvirt

from connectors.libvirt import readers
from connectors.libvirt.model import ObjectKind

log = logging.getLogger(__name__)

Signature = tuple[object, ...]
Signatures = dict[str, Signature]           # object key (UUID) -> what a look compares

_UNSUPPORTED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG,
                libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)

WORDS = {ObjectKind.VM: "virtual machines", ObjectKind.NETWORK: "networks",
         ObjectKind.POOL: "storage pools"}


def describe(kinds: Iterable[ObjectKind]) -> str:
    """"virtual machines and networks": the polled kinds in a sentence."""
    words = [WORDS[kind] for kind in ObjectKind if kind in set(kinds)]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _domain_id(dom: libvirt.virDomain) -> int:
    """The running instance's id, -1 when off (a field of the handle, no RPC)."""
    try:
        return dom.ID()
    except libvirt.libvirtError:
        return -1


def vm_signatures(conn: libvirt.virConnect) -> Signatures:
    """Name, state, state reason and running id of every domain: one bulk call where the
    driver has bulk statistics, one state() per domain where it has not."""
    try:
        records = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
    except libvirt.libvirtError as err:
        if err.get_error_code() not in _UNSUPPORTED:
            raise
        records = None
    out: Signatures = {}
    if records is not None:
        for dom, stats in records:
            out[dom.UUIDString()] = (dom.name(), stats.get("state.state"),
                                     stats.get("state.reason"), _domain_id(dom))
        return out
    for dom in conn.listAllDomains(0):
        try:
            # libvirt-python annotates state() as str; it returns [state, reason].
            state, reason = cast("list[int]", dom.state(0))[:2]
        except libvirt.libvirtError as err:
            if readers.is_missing(err):
                continue
            raise
        out[dom.UUIDString()] = (dom.name(), state, reason, _domain_id(dom))
    return out


def network_signatures(conn: libvirt.virConnect) -> Signatures:
    active = {net.UUIDString()
              for net in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)}
    return {net.UUIDString(): (net.name(), net.UUIDString() in active)
            for net in conn.listAllNetworks(0)}


def pool_signatures(conn: libvirt.virConnect) -> Signatures:
    active = {pool.UUIDString() for pool in conn.listAllStoragePools(
        libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)}
    return {pool.UUIDString(): (pool.name(), pool.UUIDString() in active)
            for pool in conn.listAllStoragePools(0)}


_LOOKS: dict[ObjectKind, Callable[[libvirt.virConnect], Signatures]] = {
    ObjectKind.VM: vm_signatures, ObjectKind.NETWORK: network_signatures,
    ObjectKind.POOL: pool_signatures,
}


class Poller:
    """Looks at the kinds of objects a host gets no events for and says which changed.

    Blocking: ``start`` and ``changed`` run in the host's worker pool, one at a time."""

    def __init__(self, kinds: Iterable[ObjectKind], uri: str) -> None:
        self.kinds = frozenset(kinds)
        self.uri = uri
        self._last: dict[ObjectKind, Signatures] = {}

    def start(self, conn: libvirt.virConnect) -> None:
        """The first look, taken before the host's snapshot is read (so a change between
        the two shows up in the next look). A kind the driver cannot list at all (no
        network driver on some Xen hosts) is not polled: it has nothing to show."""
        for kind in sorted(self.kinds, key=lambda k: k.value):
            try:
                self._last[kind] = _LOOKS[kind](conn)
            except libvirt.libvirtError as err:
                log.info("%s cannot list its %s: not polled (%s)", self.uri, WORDS[kind],
                         readers.error_text(err))
        self.kinds = frozenset(self._last)

    def changed(self, conn: libvirt.virConnect) -> list[tuple[ObjectKind, str]]:
        """The objects added, removed or changed since the previous look. A look that
        fails is skipped whole (the next one compares with the last good one)."""
        out: list[tuple[ObjectKind, str]] = []
        for kind, before in self._last.items():
            try:
                now = _LOOKS[kind](conn)
            except libvirt.libvirtError as err:
                log.warning("looking at the %s of %s failed: %s", WORDS[kind], self.uri,
                            readers.error_text(err))
                continue
            out += [(kind, key) for key in now.keys() | before.keys()
                    if now.get(key) != before.get(key)]
            self._last[kind] = now
        return out
