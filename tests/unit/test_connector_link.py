"""A connection is closed only once no call is under way on it.

libvirt frees a connection on close even while another thread is inside a call on it; a
disconnect during an inventory read once crashed the whole process in listAllNetworks.
These tests use libvirt's in-process test driver (real libvirt, no daemon needed).
"""
from __future__ import annotations

import asyncio
import threading

import libvirt
import pytest

from connectors.libvirt.link import ConnectionClosed, GatedExecutor, Link


def test_closing_waits_for_the_call_under_way():
    pool = GatedExecutor("host", 2)
    release = threading.Event()
    started = threading.Event()
    closed = []

    def slow_call():
        started.set()
        release.wait(5)
        return "answer"

    call = pool.submit(slow_call)
    assert started.wait(5)
    closing = pool.submit_close(lambda: closed.append(True), wait_s=5)
    assert not closing.done() and closed == [], "closed while a call was running"
    release.set()
    assert call.result(5) == "answer"
    assert closing.result(5) is True and closed == [True]
    pool.shutdown()


def test_a_call_after_closing_is_refused_in_words():
    pool = GatedExecutor("host.example", 1)
    assert pool.submit_close(lambda: None, wait_s=1).result(5) is True
    with pytest.raises(ConnectionClosed) as refused:
        pool.submit(lambda: "too late").result(5)
    assert isinstance(refused.value, libvirt.libvirtError)
    assert "connection to host.example was closed" in str(refused.value)
    assert refused.value.get_error_message() is None   # not another call's error
    pool.shutdown()


def test_a_stuck_call_leaves_the_connection_unclosed():
    pool = GatedExecutor("host", 2)
    release = threading.Event()
    pool.submit(release.wait, 5)
    closed = []
    assert pool.submit_close(lambda: closed.append(True), wait_s=0.2).result(5) is False
    assert closed == [], "a connection in use by a stuck call must not be freed"
    release.set()
    pool.shutdown()


def test_a_thread_of_its_own_counts_too():
    pool = GatedExecutor("host", 1)
    release = threading.Event()
    worker = threading.Thread(target=pool.counted, args=(release.wait, 5))
    worker.start()
    closed = []
    closing = pool.submit_close(lambda: closed.append(True), wait_s=5)
    assert not closing.done()
    release.set()
    assert closing.result(5) is True and closed == [True]
    worker.join(5)
    pool.shutdown()


def test_reads_racing_a_disconnect_never_touch_a_freed_connection():
    """Many inventory-like reads in flight while the user disconnects: each one answers
    or is refused, and the process survives (the race that once crashed it is timing
    dependent: the tests above pin the rule itself)."""
    async def scenario():
        link = Link("test", workers=4, generation=1, timeout_s=lambda: 10.0)
        link.conn = libvirt.open("test:///default")
        conn = link.conn

        def read():
            return (len(conn.listAllDomains(0)), len(conn.listAllNetworks(0)),
                    len(conn.listAllStoragePools(0)))
        calls = [asyncio.ensure_future(link.call(read)) for _ in range(200)]
        await asyncio.sleep(0)
        await link.close()
        results = await asyncio.gather(*calls, return_exceptions=True)
        answered = [r for r in results if isinstance(r, tuple)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, (ConnectionClosed, RuntimeError)) for r in refused), refused
        assert answered and all(r[0] > 0 for r in answered)
    asyncio.run(scenario())
