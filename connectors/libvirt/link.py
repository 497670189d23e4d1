"""One connection of a host to libvirt and the worker threads that serve it.

Every blocking libvirt call of a host runs in the host's own small pool and is bounded
by the call timeout: a dead host costs a stuck worker thread, never the UI. Each
(re)connection gets a new Link; a lost one is abandoned with whatever threads are stuck
on the dead host, and a part of the host that started a call on a Link knows the answer
is stale when the host has moved on to another (``link is not host's current link``).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple, Unpack

import libvirt

from connectors.libvirt.subscription import EventIds, close_quietly

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Link:
    """``conn`` is None until opened and after it was let go; ``generation`` is the host's
    count of connections when this one was made."""

    def __init__(self, name: str, workers: int, generation: int,
                 timeout_s: Callable[[], float]) -> None:
        self.name = name
        self.generation = generation
        self.conn: libvirt.virConnect | None = None
        self.event_ids: EventIds = ()
        self.executor = ThreadPoolExecutor(max_workers=max(1, workers),
                                           thread_name_prefix=f"libvirt-{name}")
        self._timeout_s = timeout_s    # read per call: the user may change it meanwhile
        self._holds = 0
        self._deferred: tuple[libvirt.virConnect, EventIds] | None = None
        self._lock = threading.Lock()

    def hold(self) -> libvirt.virConnect:
        """The open connection, kept open until ``release()`` even when the host lets it
        go meanwhile: a migration's thread uses it for minutes outside the pool, and
        closing a connection under a running call crashes libvirt's client."""
        with self._lock:
            if self.conn is None:
                raise libvirt.libvirtError(f"the connection to {self.name} is closed")
            self._holds += 1
            return self.conn

    def release(self) -> None:
        with self._lock:
            self._holds -= 1
            deferred = self._deferred if self._holds == 0 else None
            if deferred is not None:
                self._deferred = None
        if deferred is not None:
            threading.Thread(target=close_quietly, args=deferred, daemon=True,
                             name=f"libvirt-close-{self.name}").start()

    def _defer_close(self, conn: libvirt.virConnect, ids: EventIds) -> bool:
        """True when someone holds the connection: it is closed at the last release."""
        with self._lock:
            if self._holds:
                self._deferred = (conn, ids)
                return True
            return False

    async def call(self, fn: Callable[[Unpack[Ts]], T], *args: Unpack[Ts]) -> T:
        """fn(*args) in this link's worker pool; asyncio.TimeoutError after the call
        timeout (the thread is left to finish or to hang)."""
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self.executor, fn, *args),
                                      self._timeout_s())

    def let_go(self) -> None:
        """Forget the connection and close it in the pool, without waiting."""
        conn, ids = self.conn, self.event_ids
        self.conn, self.event_ids = None, ()
        if conn is not None and not self._defer_close(conn, ids):
            self.executor.submit(close_quietly, conn, ids)

    def abandon(self) -> None:
        """The host is gone or going: close what can be closed and give up the pool, whose
        threads may be stuck on a dead socket."""
        self.let_go()
        self.executor.shutdown(wait=False)

    async def close(self) -> None:
        """Close the connection and wait for it, up to the call timeout (the user's
        disconnect); then give up the pool."""
        conn, ids = self.conn, self.event_ids
        self.conn, self.event_ids = None, ()
        if conn is not None and not self._defer_close(conn, ids):
            try:
                await self.call(close_quietly, conn, ids)
            except (asyncio.TimeoutError, RuntimeError):
                log.warning("closing %s did not finish; the connection is abandoned",
                            self.name)
        self.executor.shutdown(wait=False)
