"""libvirt's event loop, implemented on the asyncio loop (and so on Qt's, under qasync).

libvirt calls the add/update/remove hooks from whatever thread is inside libvirt at the
time, typically a worker thread opening a connection or waiting for an RPC reply. Under
qasync, calling ``loop.add_reader`` from such a thread creates or toggles a
QSocketNotifier off the Qt thread, which Qt refuses ("Socket notifiers cannot be enabled
or disabled from another thread") and libvirt then never hears from its socket.

So the hooks only record what libvirt wants, under a lock, and answer at once (ids are
allocated synchronously). The loop thread is then asked, with ``call_soon_threadsafe``,
to bring its real registrations in line with the record. The record is the truth and
every sync is idempotent, so a burst of changes from several threads, in any order of
arrival, ends in the right state. Free callbacks are always deferred to the loop: libvirt
forbids calling them from inside its own remove hook.

Everything libvirt calls back (domain events, keepalive, the close callback) therefore
runs on the loop thread.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVarTuple, Unpack

import libvirt

Ts = TypeVarTuple("Ts")
log = logging.getLogger(__name__)

READABLE = libvirt.VIR_EVENT_HANDLE_READABLE
WRITABLE = libvirt.VIR_EVENT_HANDLE_WRITABLE
ERROR = libvirt.VIR_EVENT_HANDLE_ERROR
HANGUP = libvirt.VIR_EVENT_HANDLE_HANGUP


@dataclass
class _Watch:
    watch: int
    fd: int
    events: int
    cb: Any        # libvirt's dispatcher: cb(watch, fd, events, opaque)
    opaque: Any


@dataclass
class _Timer:
    timer: int
    interval_ms: int
    cb: Any        # libvirt's dispatcher: cb(timer, opaque)
    opaque: Any
    handle: asyncio.Handle | asyncio.TimerHandle | None = None


class AsyncioEventImpl:
    """The six hooks libvirt.virEventRegisterImpl wants, bound to one asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._watches: dict[int, _Watch] = {}
        self._timers: dict[int, _Timer] = {}
        # Loop-thread state: what the loop currently watches for each fd.
        self._registered: dict[int, tuple[bool, bool]] = {}

    # ---- hooks (any thread) ----

    def add_handle(self, fd: int, events: int, cb: Any, opaque: Any) -> int:
        with self._lock:
            watch = next(self._ids)
            self._watches[watch] = _Watch(watch, fd, events, cb, opaque)
        self._to_loop(self._sync_fd, fd)
        return watch

    def update_handle(self, watch: int, events: int) -> None:
        with self._lock:
            record = self._watches.get(watch)
            if record is None:
                return
            record.events = events
            fd = record.fd
        self._to_loop(self._sync_fd, fd)

    def remove_handle(self, watch: int) -> int:
        with self._lock:
            record = self._watches.pop(watch, None)
        if record is None:
            return -1
        self._to_loop(self._sync_fd, record.fd)
        self._to_loop(libvirt.virEventInvokeFreeCallback, record.opaque)
        return 0

    def add_timeout(self, interval_ms: int, cb: Any, opaque: Any) -> int:
        with self._lock:
            timer = next(self._ids)
            self._timers[timer] = _Timer(timer, interval_ms, cb, opaque)
        self._to_loop(self._sync_timer, timer)
        return timer

    def update_timeout(self, timer: int, interval_ms: int) -> None:
        with self._lock:
            record = self._timers.get(timer)
            if record is None:
                return
            record.interval_ms = interval_ms
        self._to_loop(self._sync_timer, timer)

    def remove_timeout(self, timer: int) -> int:
        with self._lock:
            record = self._timers.pop(timer, None)
        if record is None:
            return -1
        self._to_loop(self._cancel_timer, record)
        self._to_loop(libvirt.virEventInvokeFreeCallback, record.opaque)
        return 0

    def _to_loop(self, fn: Callable[[Unpack[Ts]], object], *args: Unpack[Ts]) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nothing will run on it any more
            log.debug("libvirt event hook after the loop closed: %s", fn)

    # ---- loop thread ----

    def _sync_fd(self, fd: int) -> None:
        """Make the loop watch ``fd`` for the union of what libvirt's watches want now."""
        with self._lock:
            wanted = 0
            for record in self._watches.values():
                if record.fd == fd:
                    wanted |= record.events
        want_read = bool(wanted & (READABLE | ERROR | HANGUP))
        want_write = bool(wanted & WRITABLE)
        have_read, have_write = self._registered.get(fd, (False, False))
        try:
            if want_read != have_read:
                if want_read:
                    self.loop.add_reader(fd, self._dispatch, fd)
                else:
                    self.loop.remove_reader(fd)
            if want_write != have_write:
                if want_write:
                    self.loop.add_writer(fd, self._dispatch, fd)
                else:
                    self.loop.remove_writer(fd)
        except (OSError, ValueError) as err:
            # The fd was closed before the loop got here; libvirt removes it next.
            log.debug("libvirt fd %d cannot be watched: %s", fd, err)
            want_read = want_write = False
        if want_read or want_write:
            self._registered[fd] = (want_read, want_write)
        else:
            self._registered.pop(fd, None)

    def _dispatch(self, fd: int) -> None:
        """The loop saw activity on fd: ask poll() exactly what, and tell each watch."""
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLOUT | select.POLLPRI)
            ready = poller.poll(0)
        except (OSError, ValueError):
            ready = [(fd, select.POLLNVAL)]
        revents = 0
        for _, mask in ready:
            if mask & (select.POLLIN | select.POLLPRI):
                revents |= READABLE
            if mask & select.POLLOUT:
                revents |= WRITABLE
            if mask & (select.POLLERR | select.POLLNVAL):
                revents |= ERROR
            if mask & select.POLLHUP:
                revents |= HANGUP
        if not revents:
            return
        with self._lock:
            targets = [(r.watch, r.events, r.cb, r.opaque) for r in self._watches.values()
                       if r.fd == fd]
        for watch, events, cb, opaque in targets:
            fired = revents & (events | ERROR | HANGUP)
            if not events or not fired:
                continue
            with self._lock:
                if watch not in self._watches:  # removed by an earlier callback
                    continue
            try:
                cb(watch, fd, fired, opaque)
            except Exception:
                log.exception("libvirt handle callback for fd %d failed", fd)

    def _sync_timer(self, timer: int) -> None:
        with self._lock:
            record = self._timers.get(timer)
        if record is None:
            return
        self._cancel_timer(record)
        self._arm(record)

    def _arm(self, record: _Timer) -> None:
        if record.interval_ms < 0:
            return
        if record.interval_ms == 0:
            record.handle = self.loop.call_soon(self._fire, record)
        else:
            record.handle = self.loop.call_later(record.interval_ms / 1000.0, self._fire,
                                                 record)

    @staticmethod
    def _cancel_timer(record: _Timer) -> None:
        if record.handle is not None:
            record.handle.cancel()
            record.handle = None

    def _fire(self, record: _Timer) -> None:
        record.handle = None
        with self._lock:
            if self._timers.get(record.timer) is not record:
                return
        try:
            record.cb(record.timer, record.opaque)
        except Exception:
            log.exception("libvirt timeout callback %d failed", record.timer)
        with self._lock:
            alive = self._timers.get(record.timer) is record
        # Re-arm unless the callback removed the timer or a sync already re-armed it.
        if alive and record.handle is None:
            self._arm(record)

    def rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Move every registration to a new loop (the old one was closed)."""
        self.loop = loop
        self._registered.clear()
        with self._lock:
            fds = {r.fd for r in self._watches.values()}
            timers = list(self._timers)
            for record in self._timers.values():
                record.handle = None
        for fd in fds:
            self._to_loop(self._sync_fd, fd)
        for timer in timers:
            self._to_loop(self._sync_timer, timer)

    def counts(self) -> tuple[int, int]:
        """(handles, timers) libvirt has registered; for tests and diagnostics."""
        with self._lock:
            return len(self._watches), len(self._timers)


_impl: AsyncioEventImpl | None = None
_register_lock = threading.Lock()


def register(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Install the asyncio event implementation for this process (idempotent).

    libvirt accepts one implementation per process, for good; it is bound to ``loop``, or
    to the running (else current) loop. Calling again is harmless; if the bound loop has
    been closed since, the registrations move to the new loop.
    """
    global _impl
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
    with _register_lock:
        if _impl is None:
            _impl = AsyncioEventImpl(loop)
            libvirt.virEventRegisterImpl(
                _impl.add_handle, _impl.update_handle, _impl.remove_handle,
                _impl.add_timeout, _impl.update_timeout, _impl.remove_timeout)
        elif _impl.loop is not loop and _impl.loop.is_closed():
            _impl.rebind(loop)


def current() -> AsyncioEventImpl | None:
    """The registered implementation, or None before ``register``."""
    return _impl


__all__ = ["AsyncioEventImpl", "register", "current"]
