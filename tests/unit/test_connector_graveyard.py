"""A connection let go is closed on a thread of its own once nothing else holds it: never
by a virDomain that the cycle collector frees on the Qt thread, which after a flapping
link froze the window in the close RPC to a dead host. Real libvirt (the in-process test
driver); a remote host's close RPC is what the thread's name stands for."""
from __future__ import annotations

import threading
import time

import libvirt

from connectors.libvirt import graveyard
from connectors.libvirt.graveyard import Graveyard


def _wait(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_buried_connection_waits_for_its_last_domain_then_closes_off_this_thread(
        monkeypatch):
    monkeypatch.setattr(graveyard, "LOOK_EVERY_S", 0.05)
    yard = Graveyard()
    closed_on: list[str] = []

    def close(conn: libvirt.virConnect) -> None:
        closed_on.append(threading.current_thread().name)
        conn.close()

    conn = libvirt.open("test:///default")
    domain = conn.listAllDomains()[0]          # holds the connection, as any call's do
    yard.bury(conn, close)
    del conn
    time.sleep(0.3)
    assert closed_on == [] and yard.count() == 1, "a domain still refers to it"
    assert domain.name(), "and the domain still works"
    del domain                                 # here: the thread that drops the last one
    assert _wait(lambda: closed_on != []), "closed once nothing else held it"
    assert closed_on == ["libvirt-close"], "on a thread of its own"
    assert _wait(lambda: yard.count() == 0)
