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

from connectors.libvirt.answer_watch import AnswerWatch
from connectors.libvirt.subscription import EventIds, close_quietly

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class ConnectionClosed(libvirt.libvirtError):
    """A call that reached the connection after it was closed."""

    def __init__(self, name: str) -> None:
        Exception.__init__(self, f"the connection to {name} was closed")
        self.err = None    # not libvirt's thread-local last error, which is someone else's


class GatedExecutor(ThreadPoolExecutor):
    """The worker pool of one connection, which counts the calls under way on it.

    libvirt frees a connection when it is closed, even while another thread is inside a
    call on it (a disconnect during an inventory read crashed the process in
    listAllNetworks). Every job submitted here is counted, and so is work done on the
    connection outside the pool (a transfer's thread, a migration that holds it for
    minutes: ``enter``/``leave``). ``close_when_idle`` refuses new calls and closes at
    once when none is under way, else the last call out has it closed: a call stuck on a
    dead host keeps the connection (abandoned), never frees it under it.
    """

    def __init__(self, name: str, workers: int) -> None:
        super().__init__(max_workers=max(1, workers), thread_name_prefix=f"libvirt-{name}")
        self._name = name
        self._lock = threading.Lock()
        self._running = 0
        self._closing = False
        self._close: Callable[[], None] | None = None    # waiting for the last call out
        self.answers = AnswerWatch()   # is the host still answering? (answer_watch.py)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(self.counted, fn, *args, **kwargs)

    def counted(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args) counted as a call under way (for a thread of its own: a transfer)."""
        self.enter()
        token = self.answers.begin()
        try:
            return fn(*args, **kwargs)
        finally:
            self.answers.end(token)
            self.leave()

    def enter(self) -> None:
        """A call begins; ConnectionClosed once the connection is closing."""
        with self._lock:
            if self._closing:
                raise ConnectionClosed(self._name)
            self._running += 1

    def leave(self) -> None:
        """A call ended: the last one out runs a close that was waiting for it."""
        with self._lock:
            self._running -= 1
            close = self._close if self._running == 0 else None
            if close is not None:
                self._close = None
        if close is not None:
            # A thread of its own: the last call out may be the event loop's (a migration
            # releasing its hold), and closing blocks on a dead host.
            threading.Thread(target=close, daemon=True,
                             name=f"libvirt-close-{self._name}").start()

    def close_when_idle(self, close: Callable[[], None]) -> bool:
        """Refuse new calls; ``close()`` now when none is under way (True), else leave it
        to the last call out (False)."""
        with self._lock:
            self._closing = True
            if self._running:
                self._close = close
                return False
        close()
        return True

    def submit_close(self, close: Callable[[], None]) -> Future[bool]:
        """``close_when_idle`` in a worker (not counted itself)."""
        return super().submit(self.close_when_idle, close)


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

    @property
    def answers(self) -> AnswerWatch:
        return self.executor.answers

    def alive(self) -> bool:
        """Not let go yet."""
        return self.conn is not None

    def probe(self) -> None:
        """The cheapest call that needs the daemon's answer (blocking: a thread of its
        own). Its failure needs no handling: an answer is what it is for."""
        conn = self.conn
        if conn is None:
            return
        try:
            self.executor.counted(conn.getLibVersion)
        except libvirt.libvirtError:
            pass

    def socket_closed(self) -> bool:
        """libvirt closed the connection (virConnectIsAlive, no RPC; blocking on its
        lock only)."""
        conn = self.conn
        if conn is None:
            return False
        try:
            self.executor.enter()
        except ConnectionClosed:
            return False
        try:
            return conn.isAlive() == 0
        except libvirt.libvirtError:
            return True
        finally:
            self.executor.leave()

    def hold(self) -> libvirt.virConnect:
        """The open connection, kept open until ``release()`` even when the host lets it
        go meanwhile (a migration's thread uses it for minutes outside the pool)."""
        conn = self.conn
        if conn is None:
            raise ConnectionClosed(self.name)
        self.executor.enter()
        return conn

    def release(self) -> None:
        self.executor.leave()

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
        if conn is not None:
            self.executor.submit_close(lambda: close_quietly(conn, ids))

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
        if conn is not None:
            closing = self.executor.submit_close(lambda: close_quietly(conn, ids))
            try:
                closed = await asyncio.wait_for(asyncio.wrap_future(closing),
                                                self._timeout_s())
            except (asyncio.TimeoutError, RuntimeError):
                closed = False
            if not closed:
                log.info("%s: calls still under way; the last one out closes the "
                         "connection", self.name)
        self.executor.shutdown(wait=False)
