"""A host's live picture: its VMs, networks and pools, kept current by re-reading what
events name.

An event (or a poll that saw a change, polling.py) marks its object dirty; one
short-delayed refresh re-reads every dirty object in the host's worker pool, so a storm
of events costs one pass and one ``InventoryChanged``, and the events themselves reach
the listener after the records they describe. Nothing is announced while the host is
not connected (``link`` None): what piles up meanwhile is read once it is.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Sequence

import libvirt

from connectors.libvirt import readers
from connectors.libvirt.link import Link
from connectors.libvirt.model import (Change, ConnectError, HostEvent, HypervisorEvent,
                                      InventoryChanged, NetworkInfo, ObjectKind, PoolInfo,
                                      VMInfo)
from connectors.libvirt.polling import Poller

log = logging.getLogger(__name__)

REFRESH_DELAY_S = 0.03      # gathers a burst of events into one refresh
CHUNK = 25                  # objects one worker reads per job when a pass is split

ObjectRef = tuple[ObjectKind, str]


def read_objects(conn: libvirt.virConnect, driver: str, uri: str,
                 items: Sequence[ObjectRef]) -> list[Change]:
    """Re-reads objects by key (blocking); a vanished one becomes a Change with obj=None."""
    changes = []
    for kind, key in items:
        obj: VMInfo | NetworkInfo | PoolInfo | None
        try:
            if kind is ObjectKind.VM:
                obj = readers.read_vm(conn.lookupByUUIDString(key), driver)
            elif kind is ObjectKind.NETWORK:
                obj = readers.read_network(conn.networkLookupByUUIDString(key))
            else:
                obj = readers.read_pool(conn.storagePoolLookupByUUIDString(key))
        except libvirt.libvirtError as err:
            if not readers.is_missing(err):
                log.warning("could not re-read %s %s on %s: %s", kind.value, key, uri,
                            readers.error_text(err))
                continue
            obj = None
        changes.append(Change(kind, key, obj))
    return changes


class LiveInventory:
    """The records of one host and the refreshes that keep them current.

    ``emit`` is the host's way to its listener; ``workers`` how many threads a refresh
    may use at once."""

    def __init__(self, uri: str, driver: str, emit: Callable[[HostEvent], None],
                 workers: Callable[[], int]) -> None:
        self.uri = uri
        self.driver = driver
        self._emit = emit
        self._workers = workers
        self.vms: dict[str, VMInfo] = {}
        self.networks: dict[str, NetworkInfo] = {}
        self.pools: dict[str, PoolInfo] = {}
        self._link: Link | None = None
        # The loop the host connected on. libvirt's events may be dispatched while Qt
        # processes events outside a running asyncio loop (a dialog, a test's
        # processEvents): tasks are created on this loop, not on "the running one".
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dirty: dict[ObjectRef, None] = {}
        self._pending_events: list[HypervisorEvent] = []
        self._refresh_task: asyncio.Task[None] | None = None
        self._poll_task: asyncio.Task[None] | None = None

    # ---- the picture ----

    def replace(self, vms: list[VMInfo], networks: list[NetworkInfo],
                pools: list[PoolInfo]) -> list[Change]:
        """A whole new snapshot (after a (re)connection); its changes, every object."""
        self.vms = {v.key: v for v in vms}
        self.networks = {n.key: n for n in networks}
        self.pools = {p.key: p for p in pools}
        return ([Change(ObjectKind.VM, v.key, v) for v in vms]
                + [Change(ObjectKind.NETWORK, n.key, n) for n in networks]
                + [Change(ObjectKind.POOL, p.key, p) for p in pools])

    def clear(self) -> None:
        self.vms.clear()
        self.networks.clear()
        self.pools.clear()
        self.forget_pending()

    def forget_pending(self) -> None:
        """Drop what events marked: a snapshot about to be read supersedes it."""
        self._dirty.clear()
        self._pending_events.clear()

    def _apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            obj, key = change.obj, change.key
            if obj is None:
                if change.kind is ObjectKind.VM:
                    self.vms.pop(key, None)
                elif change.kind is ObjectKind.NETWORK:
                    self.networks.pop(key, None)
                else:
                    self.pools.pop(key, None)
            elif isinstance(obj, VMInfo):
                self.vms[key] = obj
            elif isinstance(obj, NetworkInfo):
                self.networks[key] = obj
            elif isinstance(obj, PoolInfo):
                self.pools[key] = obj

    # ---- announcing (while connected) ----

    def attach(self, link: Link, poller: Poller | None = None,
               poll_interval_s: float = 0.0) -> None:
        """The host is connected through ``link`` and has announced its snapshot: refresh
        what piled up meanwhile, and look every ``poll_interval_s`` at what ``poller``
        watches."""
        self._link = link
        self._loop = loop = asyncio.get_running_loop()
        if poller is not None and poller.kinds:
            self._poll_task = loop.create_task(self._poll(link, poller, poll_interval_s))
        if self._dirty:
            self._schedule_refresh()

    def detach(self) -> None:
        """Disconnected or lost: no more refreshes and no more polling on the old link."""
        self._link = None
        for task in (self._refresh_task, self._poll_task):
            if task is not None and not task.done():
                task.cancel()
        self._refresh_task = self._poll_task = None

    def queue_change(self, event: HypervisorEvent) -> None:
        """An event about an object: re-read the object soon, and tell the event after
        the re-read record has been announced."""
        self._dirty[(event.kind, event.key)] = None
        self._pending_events.append(event)
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        link, loop = self._link, self._loop
        if link is None or loop is None:
            return  # attach() refreshes what piled up once the host has announced itself
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = loop.create_task(self._refresh_dirty(link))

    async def _refresh_dirty(self, link: Link) -> None:
        await asyncio.sleep(REFRESH_DELAY_S)
        while self._dirty and link is self._link:
            items = list(self._dirty)
            self._dirty.clear()
            events, self._pending_events = self._pending_events, []
            try:
                changes = await self._read_changes(link, items)
            except (libvirt.libvirtError, asyncio.TimeoutError, ConnectError) as err:
                log.warning("refreshing %d objects on %s failed: %s", len(items), self.uri,
                            err)
                changes = []
            if link is not self._link:
                return
            if changes:
                self._emit(InventoryChanged(tuple(changes)))
            for event in events:
                self._emit(event)

    async def refresh_now(self, link: Link, items: Iterable[ObjectRef]) -> None:
        """Re-read these objects at once and announce them (after an action of ours)."""
        try:
            changes = await self._read_changes(link, list(items))
        except (libvirt.libvirtError, asyncio.TimeoutError, ConnectError) as err:
            log.warning("refresh after an action on %s failed: %s", self.uri, err)
            return
        if changes and link is self._link:
            self._emit(InventoryChanged(tuple(changes)))

    async def _read_changes(self, link: Link, items: Sequence[ObjectRef]) -> list[Change]:
        conn = link.conn
        if conn is None or not items or link is not self._link:
            return []
        if len(items) <= CHUNK:
            parts = [items]
        else:
            count = max(1, min(self._workers(), math.ceil(len(items) / CHUNK)))
            size = math.ceil(len(items) / count)
            parts = [items[i:i + size] for i in range(0, len(items), size)]
        # Split across the worker pool when there are many.
        results = await asyncio.gather(*(link.call(read_objects, conn, self.driver, self.uri,
                                                   part) for part in parts))
        if conn is not link.conn:
            return []
        changes = [change for part in results for change in part]
        self._apply(changes)
        return changes

    # ---- a host without events ----

    async def _poll(self, link: Link, poller: Poller, interval_s: float) -> None:
        """Every ``interval_s``: one look in the worker pool; what changed is refreshed
        like an event's object (without an event: there was none to tell)."""
        while link is self._link:
            await asyncio.sleep(interval_s)
            conn = link.conn
            if conn is None or link is not self._link:
                return
            try:
                changed = await link.call(poller.changed, conn)
            except (asyncio.TimeoutError, RuntimeError) as err:
                log.warning("looking at %s for changes failed: %r", self.uri, err)
                continue
            if changed and link is self._link:
                self._dirty.update(dict.fromkeys(changed))
                self._schedule_refresh()
