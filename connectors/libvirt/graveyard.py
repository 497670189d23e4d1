"""Connections let go are closed by a thread of their own once nothing else holds them.

libvirt disposes of a connection when its last reference goes, and disposing of a remote
one sends a close RPC and waits for the answer. Every libvirt object made on it (a
virDomain, a virNetwork) holds such a reference, and Python frees them wherever the last
reference to them goes: the cycle collector, for one, runs on the Qt thread
(app/gc_policy.py). After a flapping link, the window froze for good there: the collector
freed a virDomain of an abandoned connection, whose close RPC went to a host that was no
longer answering (gdb: virDomainFree → virNetClientSendWithReply, poll without timeout).

So a connection let go is buried here rather than closed: the graveyard keeps it (so no
virDomain freed elsewhere is ever its last reference) and an undertaker thread looks
every ``LOOK_EVERY_S``: once nothing but the graveyard refers to the Python connection
(every virDomain and friend holds it as ``_conn``), it is closed on a thread of its own,
which a dead host may keep forever without anyone waiting for it. Something that keeps a
reference for good leaves its connection buried: a leak, never a frozen window. No Qt.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

import libvirt

log = logging.getLogger(__name__)

LOOK_EVERY_S = 1.0
# sys.getrefcount(entry[0]) when only the graveyard holds the connection: the entry
# tuple's reference and getrefcount's own argument.
ONLY_US = 2


class Graveyard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buried: list[tuple[libvirt.virConnect, Callable[[libvirt.virConnect], None]]] = []
        self._undertaker: threading.Thread | None = None

    def bury(self, conn: libvirt.virConnect,
             close: Callable[[libvirt.virConnect], None]) -> None:
        """Keep ``conn`` until nothing else refers to it, then ``close(conn)`` on a thread
        of its own."""
        with self._lock:
            self._buried.append((conn, close))
            if self._undertaker is None or not self._undertaker.is_alive():
                self._undertaker = threading.Thread(target=self._run, daemon=True,
                                                    name="libvirt-undertaker")
                self._undertaker.start()

    def count(self) -> int:
        with self._lock:
            return len(self._buried)

    def _run(self) -> None:
        while True:
            time.sleep(LOOK_EVERY_S)
            with self._lock:
                due = []
                for entry in self._buried:
                    if sys.getrefcount(entry[0]) <= ONLY_US:
                        due.append(entry)
                for entry in due:
                    self._buried.remove(entry)
                if not self._buried and not due:
                    self._undertaker = None
                    return
            for conn, close in due:
                threading.Thread(target=close, args=(conn,), daemon=True,
                                 name="libvirt-close").start()
            del due


GRAVEYARD = Graveyard()
