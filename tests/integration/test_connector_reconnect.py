"""Losing the host and getting it back, without touching the shared libvirtd.

The host connects through a small UNIX-socket relay to libvirtd's real socket
(qemu:///system?socket=...). Cutting the relay's connections is, for the client, exactly
what libvirtd going away looks like (EOF on its socket); refusing new connections for a
while makes the first retries fail; listening again lets the backoff loop succeed.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile

import libvirt
import pytest

from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import (ActionError, ConnectionSettings, ConnState,
                                      HostStateChanged, HypervisorEvent, InventoryChanged)
from tests.conftest import wait_until
from tests.integration.conftest import unavailable
from tests.integration.relays import LIBVIRT_SOCKET, SocketRelay

pytestmark = pytest.mark.integration

@pytest.fixture
def relay(libvirt_uri):
    if not os.access(LIBVIRT_SOCKET, os.R_OK | os.W_OK):
        unavailable(f"{LIBVIRT_SOCKET} is not usable here")
    directory = tempfile.mkdtemp(prefix="hvconsole-relay-")
    relay = SocketRelay(os.path.join(directory, "libvirt-sock"))
    relay.listen()
    yield relay
    relay.stop_listening()
    relay.cut()
    os.rmdir(directory)


def test_a_lost_connection_reconnects_with_backoff_and_a_fresh_snapshot(relay, aloop):
    events = []
    settings = ConnectionSettings(reconnect_initial_s=0.2, reconnect_max_s=0.8,
                                  call_timeout_s=10.0)
    host = LibvirtHost(f"qemu:///system?socket={relay.path}", events.append,
                       settings=settings)

    def states():
        return [e for e in events if isinstance(e, HostStateChanged)]

    async def scenario():
        await host.connect()
        assert host.state is ConnState.CONNECTED
        connected_at = len(events)

        relay.stop_listening()
        relay.cut()                      # what libvirtd dying looks like to the client
        await wait_until(lambda: host.state is ConnState.RECONNECTING, 10)
        assert "Lost the connection" in host.reason
        # With nobody listening, retries fail and say so, the host keeps trying.
        await wait_until(lambda: "Retrying" in host.reason, 10)
        assert host.state is ConnState.RECONNECTING

        relay.listen()
        await wait_until(lambda: host.state is ConnState.CONNECTED, 15)
        after = events[connected_at:]
        fulls = [e for e in after if isinstance(e, InventoryChanged) and e.full]
        assert fulls, "a reconnect starts with a complete snapshot"
        last_full = after.index(fulls[-1])
        assert isinstance(after[last_full + 1], HostStateChanged)
        assert after[last_full + 1].state is ConnState.CONNECTED
        assert after[last_full + 1].host is not None

        # The new connection still works, and disconnecting stops for good.
        for vm in host.vms()[:1]:
            assert "<domain" in await host.domain_xml(vm.key)
        await host.disconnect()
        count = len(events)
        relay.cut()
        await asyncio.sleep(0.5)
        assert len(events) == count, "no reconnecting after the user disconnected"

    aloop.run_until_complete(scenario())
    flow = [e.state for e in states()]
    assert flow[:2] == [ConnState.CONNECTING, ConnState.CONNECTED]
    assert ConnState.RECONNECTING in flow
    assert flow[-2:] == [ConnState.CONNECTED, ConnState.DISCONNECTED]
    assert ConnState.CONNECTING not in flow[2:], "reconnecting is not a new connect"


def test_a_hung_host_fails_calls_in_time_and_keepalive_declares_it_lost(relay, aloop):
    """The host stops answering without closing anything (a hung machine, a cable
    pulled): calls time out as ActionError, the loop keeps ticking, and libvirt's
    keepalive gives up on the connection, which starts the reconnect loop."""
    events = []
    settings = ConnectionSettings(keepalive_interval_s=1, keepalive_count=1,
                                  reconnect_initial_s=0.2, reconnect_max_s=0.5)
    host = LibvirtHost(f"qemu:///system?socket={relay.path}", events.append,
                       settings=settings)
    gaps = []

    async def ticker(stop):
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.02)
            gaps.append(loop.time() - last)
            last = loop.time()

    async def scenario():
        await host.connect()
        # Short calls only once connected: a loaded machine may take longer than 1.5 s
        # to read the whole inventory, and that is not what this test is about.
        host.settings = dataclasses.replace(settings, call_timeout_s=1.5)
        stop = asyncio.Event()
        tick = asyncio.ensure_future(ticker(stop))
        try:
            relay.frozen = True
            with pytest.raises(ActionError, match="did not answer within 1.5 s"):
                await host.domain_xml("00000000-0000-0000-0000-000000000000")
            await wait_until(lambda: host.state is ConnState.RECONNECTING, 15)
            assert "keepalive" in host.reason or "Lost" in host.reason, host.reason
            relay.frozen = False
            relay.cut()
            await wait_until(lambda: host.state is ConnState.CONNECTED, 15)
        finally:
            stop.set()
            await tick
            await host.disconnect()

    from PySide6 import QtCore

    qt_messages = []
    previous = QtCore.qInstallMessageHandler(lambda _m, _c, text: qt_messages.append(text))
    try:
        aloop.run_until_complete(scenario())
    finally:
        QtCore.qInstallMessageHandler(previous)
    assert max(gaps) < 1.0, f"the loop stalled for {max(gaps):.2f} s"
    # libvirt reports the loss from the worker stuck in the RPC; the host must hop to the
    # loop thread rather than touch qasync's timers from there.
    assert not [m for m in qt_messages if "another thread" in m], qt_messages
    # The host says what happened to it through its state; what libvirtd reports about
    # its objects meanwhile (another test's guest going away, a pool refreshed) may come
    # too, but nothing may report a failure.
    others = [e for e in events if not isinstance(e, (HostStateChanged, InventoryChanged))]
    assert all(isinstance(e, HypervisorEvent) and e.severity != "error" for e in others), \
        others


def test_a_host_without_events_stops_looking_while_lost_and_looks_again_once_back(
        relay, aloop, monkeypatch):
    """A driver that refuses lifecycle events is polled instead. No driver here refuses
    them, so the refusal is simulated where libvirt answers (the registrations raise
    libvirtError, as on such a driver); the looks themselves are libvirtd's real bulk
    reads, counted at the libvirt boundary."""
    def refuse(self, *args):
        raise libvirt.libvirtError("this function is not supported by the connection "
                                   "driver: virConnectDomainEventRegisterAny")

    for name in ("domainEventRegisterAny", "networkEventRegisterAny",
                 "storagePoolEventRegisterAny"):
        monkeypatch.setattr(libvirt.virConnect, name, refuse)
    looks = {"n": 0}
    real = libvirt.virConnect.getAllDomainStats

    def counted(self, stats=0, flags=0):
        looks["n"] += 1
        return real(self, stats, flags)

    monkeypatch.setattr(libvirt.virConnect, "getAllDomainStats", counted)
    events = []
    settings = ConnectionSettings(poll_interval_s=0.2, reconnect_initial_s=0.2,
                                  reconnect_max_s=0.4, call_timeout_s=10.0)
    host = LibvirtHost(f"qemu:///system?socket={relay.path}", events.append,
                       settings=settings)

    def told():
        return [e for e in events if isinstance(e, HypervisorEvent)
                and e.severity == "warning"]

    async def scenario():
        await host.connect()
        assert len(told()) == 1 and "refreshes them every 0.2 s" in told()[0].message
        seen = looks["n"]
        await wait_until(lambda: looks["n"] >= seen + 3, 10)

        relay.stop_listening()
        relay.cut()
        await wait_until(lambda: host.state is ConnState.RECONNECTING, 10)
        lost_at = looks["n"]
        await asyncio.sleep(1.0)
        assert looks["n"] == lost_at, "no looks while the host is lost"

        relay.listen()
        await wait_until(lambda: host.state is ConnState.CONNECTED, 15)
        back = looks["n"]
        await wait_until(lambda: looks["n"] >= back + 3, 10)
        assert len(told()) == 1, "the note is not repeated after a reconnect"
        await host.disconnect()

    aloop.run_until_complete(scenario())
