"""libvirt's event loop on asyncio (under qasync, as in the app).

libvirt's public virEventAddHandle/virEventAddTimeout go through whichever implementation
is registered, so calling them from a worker thread exercises exactly the path libvirt
takes when a worker opens a connection: hooks called off the loop thread.
"""
from __future__ import annotations

import asyncio
import gc
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import libvirt
import pytest
from PySide6 import QtCore

from connectors.libvirt import eventloop
from tests.conftest import wait_until


@pytest.fixture
def loop(aloop):
    eventloop.register(aloop)
    eventloop.register(aloop)  # a second registration is harmless
    assert eventloop.current().loop is aloop
    return aloop


@pytest.fixture
def qt_messages():
    """Every message Qt prints while the test runs."""
    messages: list[str] = []

    def handler(_mode, _context, message):
        messages.append(message)

    previous = QtCore.qInstallMessageHandler(handler)
    yield messages
    QtCore.qInstallMessageHandler(previous)


def in_thread(fn, *args):
    """Run fn in a fresh worker thread and return its result (the hooks' other thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result(10)


def test_a_handle_added_from_a_worker_fires_on_the_loop_thread(loop, qt_messages):
    main = threading.get_ident()
    reader, writer = socket.socketpair()
    calls = []

    def on_ready(watch, fd, events, opaque):
        calls.append((threading.get_ident(), fd, events, opaque))
        reader.recv(100)

    async def scenario():
        watch = in_thread(libvirt.virEventAddHandle, reader.fileno(),
                          libvirt.VIR_EVENT_HANDLE_READABLE, on_ready, "payload")
        writer.send(b"x")
        await wait_until(lambda: calls)
        in_thread(libvirt.virEventRemoveHandle, watch)
        return watch

    try:
        watch = loop.run_until_complete(scenario())
    finally:
        reader.close()
        writer.close()
    thread, fd, events, opaque = calls[0]
    assert thread == main
    assert fd == reader.fileno() or fd >= 0
    assert events & libvirt.VIR_EVENT_HANDLE_READABLE
    assert opaque == "payload"
    assert watch > 0
    assert not [m for m in qt_messages if "QSocketNotifier" in m], qt_messages


def test_update_disables_and_reenables_a_handle(loop):
    reader, writer = socket.socketpair()
    calls = []

    def on_ready(watch, fd, events, opaque):
        calls.append(events)
        reader.recv(100)

    async def scenario():
        watch = libvirt.virEventAddHandle(reader.fileno(), 0, on_ready, None)
        writer.send(b"x")
        await asyncio.sleep(0.1)  # disabled: nothing may arrive, however long we wait
        assert calls == []
        in_thread(libvirt.virEventUpdateHandle, watch, libvirt.VIR_EVENT_HANDLE_READABLE)
        await wait_until(lambda: calls)
        libvirt.virEventRemoveHandle(watch)

    try:
        loop.run_until_complete(scenario())
    finally:
        reader.close()
        writer.close()


def test_a_peer_hangup_is_reported(loop):
    reader, writer = socket.socketpair()
    seen = []

    def on_ready(watch, fd, events, opaque):
        seen.append(events)
        libvirt.virEventUpdateHandle(watch, 0)  # as libvirt does after an error

    async def scenario():
        watch = libvirt.virEventAddHandle(reader.fileno(), libvirt.VIR_EVENT_HANDLE_READABLE,
                                          on_ready, None)
        writer.close()
        await wait_until(lambda: seen)
        libvirt.virEventRemoveHandle(watch)

    try:
        loop.run_until_complete(scenario())
    finally:
        reader.close()
    assert seen[0] & libvirt.VIR_EVENT_HANDLE_HANGUP


def test_timers_fire_on_the_loop_thread_and_stop_when_disabled(loop):
    main = threading.get_ident()
    ticks = []

    def on_tick(timer, opaque):
        ticks.append((threading.get_ident(), opaque))

    async def scenario():
        timer = in_thread(libvirt.virEventAddTimeout, 10, on_tick, "t")
        await wait_until(lambda: len(ticks) >= 3)
        in_thread(libvirt.virEventUpdateTimeout, timer, -1)
        await asyncio.sleep(0.05)
        stopped_at = len(ticks)
        await asyncio.sleep(0.1)
        assert len(ticks) == stopped_at, "a disabled timer kept firing"
        in_thread(libvirt.virEventUpdateTimeout, timer, 0)  # every loop iteration
        await wait_until(lambda: len(ticks) >= stopped_at + 5)
        in_thread(libvirt.virEventRemoveTimeout, timer)
        await asyncio.sleep(0.05)
        removed_at = len(ticks)
        await asyncio.sleep(0.05)
        assert len(ticks) == removed_at, "a removed timer kept firing"

    loop.run_until_complete(scenario())
    assert {thread for thread, _ in ticks} == {main}
    assert {opaque for _, opaque in ticks} == {"t"}


def test_removing_runs_libvirts_free_callback_on_the_loop_thread(loop, monkeypatch):
    """libvirt hands each handle/timer a free function; it must run once per removal, on
    the loop thread (never inside libvirt's remove hook). A spy records the calls and
    then runs libvirt's real free function."""
    real_free = libvirt.virEventInvokeFreeCallback
    freed = []

    def spy(opaque):
        freed.append((threading.get_ident(), opaque))
        real_free(opaque)

    monkeypatch.setattr(libvirt, "virEventInvokeFreeCallback", spy)
    main = threading.get_ident()
    reader, writer = socket.socketpair()

    async def scenario():
        impl = eventloop.current()
        opaques = {}
        watch = in_thread(libvirt.virEventAddHandle, reader.fileno(),
                          libvirt.VIR_EVENT_HANDLE_READABLE, lambda *a: None, None)
        timer = in_thread(libvirt.virEventAddTimeout, -1, lambda *a: None, None)
        with impl._lock:
            opaques["handle"] = impl._watches[watch].opaque
            opaques["timer"] = impl._timers[timer].opaque
        assert in_thread(libvirt.virEventRemoveHandle, watch) == 0
        assert in_thread(libvirt.virEventRemoveTimeout, timer) == 0
        await wait_until(lambda: len(freed) >= 2)
        await asyncio.sleep(0.05)
        return opaques

    try:
        opaques = loop.run_until_complete(scenario())
    finally:
        reader.close()
        writer.close()
    assert len(freed) == 2, "each removal frees exactly once"
    assert {thread for thread, _ in freed} == {main}
    assert [o for _, o in freed] == [opaques["handle"], opaques["timer"]]


def test_closing_a_connection_frees_what_libvirt_registered(loop, monkeypatch, tmp_path):
    """A private test driver (a node file of its own): test:///default is shared by the
    whole process, so a connection another test has not closed yet keeps its event
    timer registered and nothing would be freed here."""
    node = tmp_path / "node.xml"
    node.write_text("<node><domain type='test'><name>one</name><memory>65536</memory>"
                    "<os><type>hvm</type></os></domain></node>")
    real_free = libvirt.virEventInvokeFreeCallback
    freed = []

    def spy(opaque):
        freed.append(opaque)
        real_free(opaque)

    monkeypatch.setattr(libvirt, "virEventInvokeFreeCallback", spy)

    async def scenario():
        conn = await loop.run_in_executor(None, libvirt.open, f"test://{node}")
        callback = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda *a: None, None)
        conn.domainEventDeregisterAny(callback)
        await loop.run_in_executor(None, conn.close)
        del conn
        gc.collect()
        await wait_until(lambda: freed)

    loop.run_until_complete(scenario())


def test_removing_an_unknown_id_fails_like_libvirt_expects(loop):
    impl = eventloop.current()
    assert impl.remove_handle(10_000_000) == -1
    assert impl.remove_timeout(10_000_000) == -1


def test_a_libvirt_connection_opened_in_a_worker_delivers_events(loop, qt_messages):
    """The real thing: libvirt registers its own handles/timers from the worker."""
    got = []

    def on_lifecycle(conn, dom, event, detail, opaque):
        got.append((threading.get_ident(), dom.name(), event))

    async def scenario():
        conn = await loop.run_in_executor(None, libvirt.open, "test:///default")
        callback = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)
        other = libvirt.open("test:///default")
        try:
            dom = other.lookupByName("test")
            if dom.isActive():
                await loop.run_in_executor(None, dom.destroy)
            await loop.run_in_executor(None, dom.create)
            await wait_until(lambda: any(e == libvirt.VIR_DOMAIN_EVENT_STARTED
                                         for _, _, e in got))
        finally:
            conn.domainEventDeregisterAny(callback)
            conn.close()
            other.close()

    loop.run_until_complete(scenario())
    assert {thread for thread, _, _ in got} == {threading.get_ident()}
    assert not [m for m in qt_messages if "QSocketNotifier" in m], qt_messages


def test_control_qt_does_warn_when_a_notifier_is_made_off_the_loop_thread(loop, qt_messages):
    """Shows the warning the tests above look for is real and would be caught: touching
    qasync's add_reader from a worker thread makes Qt complain."""
    reader, writer = socket.socketpair()

    async def scenario():
        in_thread(loop.add_reader, reader.fileno(), lambda: None)
        await asyncio.sleep(0.05)
        loop.remove_reader(reader.fileno())

    try:
        loop.run_until_complete(scenario())
    finally:
        reader.close()
        writer.close()
    # The control: if Qt stopped warning, the tests that show our event loop gives no
    # warning would prove nothing, so this fails instead of skipping.
    assert any("QSocketNotifier" in m or "another thread" in m for m in qt_messages), \
        "Qt no longer warns about cross-thread socket notifiers: the no-warning tests " \
        "of the libvirt event loop have lost their control"
