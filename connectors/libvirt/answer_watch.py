"""Is the host still answering? HVConsole's keepalive for a remote libvirt connection,
made of calls rather than libvirt's own keepalive messages.

Why not libvirt's keepalive (virConnectSetKeepAlive), measured here with a qemu+ssh host
behind a link that silently drops every packet (benchmarks/bad_networks.py, libvirt 9.0):
- when libvirt's keepalive closes the connection while other threads are inside calls
  on it, the process crashes now and then (a segfault in whichever call was under way:
  lookupByUUIDString, getAllDomainStats), with libvirtaio as with our event loop; with
  libvirt's default event loop it did not, but an application on asyncio cannot use that
  one. Without a client keepalive, the same calls wait and then fail or complete: no crash
  in any run;
- in the main window, with the statistics sampler calling every 2 s, its keepalive did
  not fire during a whole 30 s blackhole; in a smaller reproduction it closed the socket
  but the close callback never came, the host staying "connected".

So the connection's calls are noted (``begin``/``end``: every call of the host's worker
pool), and every second the host's watch asks: has libvirt closed the socket
(virConnectIsAlive: a local check, no RPC)? Has nothing answered for a keepalive interval?
Then the cheapest call that needs the daemon (virConnectGetLibVersion) goes out as a
probe, on a thread of its own. Have calls (the probe among them) waited for
interval × count seconds without any answer? Then the host is lost — at most
interval × (count + 1) seconds after its last answer, as libvirt's keepalive promises.
A live host answers the probe even while one long call (a managed save) is under way.
A stuck call costs a thread, never the connection under it (link.GatedExecutor). No Qt.
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
CLOSED = 0     # libvirt's close reason VIR_CONNECT_CLOSE_REASON_ERROR


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

    def quiet_s(self) -> float:
        """Seconds since any call last answered."""
        with self._lock:
            return max(0.0, self._clock() - self._last_answer)

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


async def watch_answers(link: WatchedLink, interval_s: float, count: int,
                        on_lost: Callable[[str], None]) -> None:
    """Until the link is let go: a probe after ``interval_s`` without an answer;
    ``on_lost`` (once, with the reason) when libvirt closed the socket, or when calls
    have waited ``interval_s × count`` seconds without any answer."""
    probing: threading.Thread | None = None
    while link.alive():
        await asyncio.sleep(CHECK_EVERY_S)
        if await asyncio.to_thread(link.socket_closed):
            log.info("libvirt closed the connection: the host is lost")
            on_lost(wording.close_reason(CLOSED))
            return
        if link.answers.silent_s() >= interval_s * count:
            quiet = link.answers.quiet_s()
            log.info("no answer for %.1f s: the host is lost", quiet)
            on_lost(wording.silent_host(quiet))
            return
        if link.answers.quiet_s() >= interval_s and (probing is None
                                                     or not probing.is_alive()):
            probing = threading.Thread(target=link.probe, daemon=True,
                                       name="libvirt-answer-probe")
            probing.start()
