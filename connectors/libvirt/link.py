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
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, TypeVarTuple, Unpack

import libvirt

from connectors.libvirt.subscription import EventIds, close_quietly

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


# How long closing a connection waits for the calls under way on it: a call stuck on a dead
# host keeps the connection open (abandoned) rather than freed under its feet.
CLOSE_WAIT_S = 10.0


class ConnectionClosed(libvirt.libvirtError):
    """A call that reached the worker pool after its connection was closed."""

    def __init__(self, name: str) -> None:
        Exception.__init__(self, f"the connection to {name} was closed")
        self.err = None    # not libvirt's thread-local last error, which is someone else's


class GatedExecutor(ThreadPoolExecutor):
    """The worker pool of one connection, which counts the calls under way on it.

    libvirt frees a connection when it is closed, even while another thread is inside a
    call on it (a disconnect during an inventory read crashed the process in
    listAllNetworks). Every job submitted here is counted; ``close_when_idle`` refuses new
    ones and waits for the running ones before the connection may be closed.
    """

    def __init__(self, name: str, workers: int) -> None:
        super().__init__(max_workers=max(1, workers), thread_name_prefix=f"libvirt-{name}")
        self._name = name
        self._idle = threading.Condition()
        self._running = 0
        self._closing = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(self.counted, fn, *args, **kwargs)

    def counted(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args) counted as a call under way (for a thread of its own: a transfer)."""
        with self._idle:
            if self._closing:
                raise ConnectionClosed(self._name)
            self._running += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def close_when_idle(self, close: Callable[[], None], wait_s: float) -> bool:
        """Refuse new calls, wait up to ``wait_s`` for the running ones, then ``close()``;
        False (and nothing closed) when a call is still under way."""
        with self._idle:
            self._closing = True
            if not self._idle.wait_for(lambda: self._running == 0, wait_s):
                return False
        close()
        return True

    def submit_close(self, close: Callable[[], None], wait_s: float) -> Future[bool]:
        """``close_when_idle`` in a worker of its own (not counted: it waits for the rest)."""
        return super().submit(self.close_when_idle, close, wait_s)


class Link:
    """``conn`` is None until opened and after it was let go; ``generation`` is the host's
    count of connections when this one was made."""

    def __init__(self, name: str, workers: int, generation: int,
                 timeout_s: Callable[[], float]) -> None:
        self.name = name
        self.generation = generation
        self.conn: libvirt.virConnect | None = None
        self.event_ids: EventIds = ()
        self.executor = GatedExecutor(name, workers)
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

    async def call(self, fn: Callable[[Unpack[Ts]], T], *args: Unpack[Ts],
                   timeout_s: float | None = None) -> T:
        """fn(*args) in this link's worker pool; asyncio.TimeoutError after the call
        timeout, or ``timeout_s`` for a job known to take longer (the thread is left to
        finish or to hang)."""
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self.executor, fn, *args),
                                      timeout_s if timeout_s is not None
                                      else self._timeout_s())

    async def call_unbounded(self, fn: Callable[[Unpack[Ts]], T], *args: Unpack[Ts]) -> T:
        """fn(*args) in the pool with no call timeout: for jobs that take as long as their
        data (uploads, copies), which have their own progress and cancel."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    def let_go(self) -> None:
        """Forget the connection and close it in the pool, without waiting."""
        conn, ids = self.conn, self.event_ids
        self.conn, self.event_ids = None, ()
        if conn is not None and not self._defer_close(conn, ids):
            self.executor.submit_close(lambda: close_quietly(conn, ids), CLOSE_WAIT_S)

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
            closing = self.executor.submit_close(lambda: close_quietly(conn, ids),
                                                 CLOSE_WAIT_S)
            try:
                closed = await asyncio.wait_for(asyncio.wrap_future(closing),
                                                CLOSE_WAIT_S + self._timeout_s())
            except (asyncio.TimeoutError, RuntimeError):
                closed = False
            if not closed:
                log.warning("closing %s did not finish; the connection is abandoned",
                            self.name)
        self.executor.shutdown(wait=False)
