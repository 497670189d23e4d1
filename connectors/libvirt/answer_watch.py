"""Is the host still answering? A watch over the calls of one connection, beside libvirt's
keepalive, which does not always see a dead link.

Seen here (benchmarks/bad_networks.py, a qemu+ssh host behind a link that silently drops
every packet): libvirt's keepalive closes an idle connection, or one with a single call
waiting, after interval × (count + 1) seconds as documented — but while new calls keep
entering the connection from other threads (the statistics sampler's tick every 2 s,
the user's clicks), it may not fire at all: in the main window, the host stayed
"connected" for the whole of a 30 s blackhole and 28 s after it, every call timing out
one by one.

Worse, with calls waiting on several threads, libvirt's keepalive does close the socket
(the calls fail with "connection closed due to keepalive timeout") but the close callback
never comes (libvirt 9.0): the host stayed "connected", each later call failing with
"client socket is closed". So every second the host also asks libvirt whether the
connection is still open (virConnectIsAlive: a local check, no RPC).

Each call made in the connection's pool is noted (``begin``/``end``), and the host
asks ``silent_s()`` every second: how long calls have waited with no call answering. A
live host answers something all the time (the sampler's tick); when calls have waited
for a keepalive interval without any answer, ``probe`` sends the cheapest call there is
(virConnectGetLibVersion, an RPC to the daemon) on a thread of its own, so a host that
is merely busy with one long call (a managed save) still proves it is alive; after the
whole keepalive window without an answer, the host is lost, as keepalive would have
said. No Qt here.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from connectors.libvirt import wording

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
# libvirt's close reason for a socket its keepalive closed (VIR_CONNECT_CLOSE_REASON_KEEPALIVE):
# what the unannounced closes seen here were.
CLOSED_UNANNOUNCED = 2


class AnswerWatch:
    """The calls under way on one connection and the moment any call last returned.

    Thread-safe: calls begin and end in worker threads; ``silent_s`` is read on the loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._waiting: dict[int, float] = {}
        self._last_answer = clock()

    def begin(self) -> int:
        with self._lock:
            token = next(self._ids)
            self._waiting[token] = self._clock()
            return token

    def end(self, token: int) -> None:
        """The call returned (a result or libvirt's error: both are answers)."""
        with self._lock:
            self._waiting.pop(token, None)
            self._last_answer = self._clock()

    def silent_s(self) -> float:
        """How long the oldest waiting call has gone without any call answering; 0 when
        nothing waits (an idle connection is libvirt's keepalive's business)."""
        with self._lock:
            if not self._waiting:
                return 0.0
            since = max(self._last_answer, min(self._waiting.values()))
            return max(0.0, self._clock() - since)


class WatchedLink(Protocol):
    """What the watch needs of a host's link (connectors.libvirt.link.Link)."""

    @property
    def answers(self) -> AnswerWatch: ...

    def alive(self) -> bool: ...

    def probe(self) -> None: ...

    def socket_closed(self) -> bool: ...


async def watch_answers(link: WatchedLink, interval_s: float, window_s: float,
                        on_lost: Callable[[str], None]) -> None:
    """Until the link is let go: ``on_lost`` (once, with the reason) when libvirt closed
    the connection's socket or after ``window_s`` without an answer; a probe after
    ``interval_s`` of silence."""
    probing: threading.Thread | None = None
    while link.alive():
        await asyncio.sleep(CHECK_EVERY_S)
        if await asyncio.to_thread(link.socket_closed):
            log.info("libvirt closed the connection without calling back: the host is lost")
            on_lost(wording.close_reason(CLOSED_UNANNOUNCED))
            return
        silent = link.answers.silent_s()
        if silent >= window_s:
            log.info("no answer for %.1f s: the host is lost", silent)
            on_lost(wording.silent_host(silent))
            return
        if silent >= interval_s and (probing is None or not probing.is_alive()):
            probing = threading.Thread(target=link.probe, daemon=True,
                                       name="libvirt-answer-probe")
            probing.start()
