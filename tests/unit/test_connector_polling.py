"""A host whose driver sends no lifecycle events still shows what happens on it.

Every driver this machine has (QEMU under libvirtd, libvirt's test driver) delivers
lifecycle events, so no real host here refuses them. The refusal is therefore simulated
at the libvirt boundary: virConnect's event registrations raise libvirtError, as
virConnectDomainEventRegisterAny does on a driver without events. Everything else is
real: the test driver's host, its changes made through a second connection, and the
bulk reads the host polls with (counted where libvirt answers them).
"""
from __future__ import annotations

import asyncio
import threading
import uuid

import libvirt
import pytest

from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import (ConnectionSettings, ConnState, HypervisorEvent,
                                      InventoryChanged, ObjectKind, VMState)
from tests.conftest import wait_until
from tests.unit.test_connector_host import DEFAULT_URI, Recorder, by_name, off

INTERVAL = 0.2


@pytest.fixture
def run(aloop):
    return aloop.run_until_complete


@pytest.fixture
def other_conn(aloop):
    conn = libvirt.open(DEFAULT_URI)
    yield conn
    conn.close()


@pytest.fixture
def looks(monkeypatch):
    """How often libvirt was asked for every domain's state (the host's VM look)."""
    count = {"n": 0}
    real = libvirt.virConnect.getAllDomainStats
    lock = threading.Lock()

    def counted(self, stats=0, flags=0):
        with lock:
            count["n"] += 1
        return real(self, stats, flags)

    monkeypatch.setattr(libvirt.virConnect, "getAllDomainStats", counted)
    return lambda: count["n"]


@pytest.fixture
def no_events(monkeypatch):
    def refuse(self, *args):
        raise libvirt.libvirtError("this function is not supported by the connection "
                                   "driver: virConnectDomainEventRegisterAny")

    for name in ("domainEventRegisterAny", "networkEventRegisterAny",
                 "storagePoolEventRegisterAny"):
        monkeypatch.setattr(libvirt.virConnect, name, refuse)


def warnings_of(rec: Recorder) -> list[HypervisorEvent]:
    return [e for e in rec.of(HypervisorEvent) if e.severity == "warning"]


def test_a_host_without_events_is_refreshed_and_says_so_once(no_events, looks, other_conn,
                                                             run):
    rec = Recorder()
    host = LibvirtHost(DEFAULT_URI, rec, settings=ConnectionSettings(poll_interval_s=INTERVAL))
    run(host.connect())
    (told,) = warnings_of(rec)
    assert told.message == ("This host sends no events about its virtual machines, "
                            "networks and storage pools; HVConsole refreshes them every "
                            "0.2 s.")
    assert told.name in told.message   # the Events log then shows it without a prefix

    key = by_name(host, "test").key
    dom = other_conn.lookupByName("test")
    net = other_conn.networkLookupByName("default")
    name = f"hvc-polled-{uuid.uuid4().hex[:6]}"
    xml = (f"<domain type='test'><name>{name}</name><memory>65536</memory>"
           "<os><type>hvm</type></os></domain>")

    async def scenario():
        if not await off(dom.isActive):
            await off(dom.create)
            await wait_until(lambda: host.vm(key).state is VMState.RUNNING, 10)
        await off(dom.suspend)
        await wait_until(lambda: host.vm(key).state is VMState.PAUSED, 10)
        await off(dom.resume)
        await wait_until(lambda: host.vm(key).state is VMState.RUNNING, 10)

        added = await off(other_conn.defineXML, xml)
        new_key = added.UUIDString()
        await wait_until(lambda: host.vm(new_key) is not None, 10)
        await off(added.undefine)
        await wait_until(lambda: host.vm(new_key) is None, 10)

        await off(net.destroy)
        await wait_until(lambda: not next(n for n in host.networks()
                                          if n.key == net.UUIDString()).active, 10)
        await off(net.create)
        await wait_until(lambda: next(n for n in host.networks()
                                      if n.key == net.UUIDString()).active, 10)

        # Nothing changes now: the looks go on, and nothing more is announced.
        batches, seen = len(rec.of(InventoryChanged)), looks()
        await wait_until(lambda: looks() >= seen + 4, 10)
        assert len(rec.of(InventoryChanged)) == batches

        # Reconnecting does not repeat the note.
        await host.disconnect()
        await host.connect()
        assert len(warnings_of(rec)) == 1

        # Disconnected, the host stops looking.
        await host.disconnect()
        stopped = looks()
        await asyncio.sleep(INTERVAL * 5)
        assert looks() == stopped

    try:
        run(scenario())
    finally:
        if not net.isActive():
            net.create()
        if host.state is not ConnState.DISCONNECTED:
            run(host.disconnect())
    changed = [c for batch in rec.of(InventoryChanged) if not batch.full
               for c in batch.changes]
    assert {c.kind for c in changed} == {ObjectKind.VM, ObjectKind.NETWORK}
    assert any(c.obj is None for c in changed), "the undefined VM is removed"
    assert rec.threads == {threading.get_ident()}


def test_a_host_with_events_is_not_polled(looks, run):
    rec = Recorder()
    host = LibvirtHost(DEFAULT_URI, rec, settings=ConnectionSettings(poll_interval_s=INTERVAL))
    run(host.connect())
    after_connect = looks()

    async def idle():
        await asyncio.sleep(INTERVAL * 5)

    run(idle())
    run(host.disconnect())
    assert looks() == after_connect
    assert warnings_of(rec) == []
