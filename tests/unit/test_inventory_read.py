"""The bulk inventory reader against libvirt's real test driver (in-process).

A private copy of the demo lab is given VMs in every combination of the facts the bulk
reader takes from filtered listings and bulk statistics (transient, autostart, managed
save, paused, shut off); each must read exactly as the one-domain reader reads it.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import libvirt
import pytest

from connectors.libvirt import inventory_read, readers
from connectors.libvirt.model import VMState

LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"


def _xml(name: str) -> str:
    return (f"<domain type='test'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>"
            "<memory unit='MiB'>256</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os>"
            "<devices><disk type='file' device='disk'>"
            f"<source file='/var/lib/libvirt/images/{name}.qcow2'/>"
            "<target dev='vda' bus='virtio'/></disk>"
            "<graphics type='vnc' port='5901'/></devices></domain>")


@pytest.fixture
def conn():
    libvirt.registerErrorHandler(lambda *_args: None, None)
    c = libvirt.open(f"test://{LAB}")
    try:
        yield c
    finally:
        c.close()


def _populate(conn: libvirt.virConnect) -> None:
    transient = conn.createXML(_xml("hv-transient"), 0)
    assert not transient.isPersistent()
    conn.defineXML(_xml("hv-autostart")).setAutostart(1)
    conn.defineXML(_xml("hv-off"))
    saved = conn.defineXML(_xml("hv-saved"))
    saved.create()
    saved.managedSave(0)
    paused = conn.defineXML(_xml("hv-paused"))
    paused.create()
    paused.suspend()
    conn.defineXML(_xml("hv-running")).create()


def _one_by_one(conn: libvirt.virConnect) -> dict:
    return {vm.key: vm for vm in (readers.read_vm(d, "test") for d in conn.listAllDomains(0))}


@pytest.mark.parametrize("fetchers", [1, 3])
def test_bulk_read_equals_reading_each_domain(conn, fetchers, monkeypatch):
    _populate(conn)
    monkeypatch.setattr(inventory_read, "PARALLEL_FROM", 2)   # the threaded fetch, too
    bulk = {vm.key: vm for vm in inventory_read.read_all_vms(conn, "test", fetchers)}
    assert bulk == _one_by_one(conn)
    by_name = {vm.name: vm for vm in bulk.values()}
    assert not by_name["hv-transient"].persistent
    assert by_name["hv-autostart"].autostart and not by_name["hv-off"].autostart
    assert by_name["hv-saved"].state is VMState.SUSPENDED and by_name["hv-saved"].managed_save
    assert by_name["hv-paused"].state is VMState.PAUSED
    assert by_name["hv-running"].state is VMState.RUNNING and by_name["hv-running"].dom_id
    assert by_name["hv-off"].state is VMState.SHUTOFF and by_name["hv-off"].dom_id is None
    assert by_name["hv-running"].graphics[0].port == 5901


def test_drivers_without_bulk_calls_are_asked_one_domain_at_a_time(conn, monkeypatch):
    """A driver that refuses getAllDomainStats and the filtered listings (older or
    limited ones) gets the same answer the slow way. Refusals are injected: every driver
    this machine has supports both."""
    _populate(conn)
    unsupported = libvirt.libvirtError("unsupported")
    unsupported.err = (libvirt.VIR_ERR_NO_SUPPORT, 0, "unsupported", 0, "", "", "", 0, 0)

    class Limited:
        def getAllDomainStats(self, *_args):  # noqa: N802 - libvirt's name
            raise unsupported

        def listAllDomains(self, flags=0):  # noqa: N802 - libvirt's name
            if flags:
                raise unsupported
            return conn.listAllDomains(0)

    assert inventory_read._flagged(Limited(), libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT) \
        is None
    slow = {vm.key: vm for vm in inventory_read.read_all_vms(Limited(), "test")}
    assert slow == _one_by_one(conn)


def test_a_domain_that_vanishes_while_read_is_left_out(conn, monkeypatch):
    """hv-off is undefined after the listing, as the first XML is fetched."""
    _populate(conn)
    gone = conn.lookupByName("hv-off")
    real_xml = readers.domain_xml
    undefined = []

    def undefine_first(dom):
        if not undefined:
            gone.undefine()
            undefined.append(True)
        return real_xml(dom)

    monkeypatch.setattr(readers, "domain_xml", undefine_first)
    names = {vm.name for vm in inventory_read.read_all_vms(conn, "test")}
    assert undefined and "hv-off" not in names
    assert {"hv-running", "hv-paused", "hv-saved", "hv-transient"} <= names


def test_read_inventory_has_networks_and_pools(conn):
    inventory = inventory_read.read_inventory(conn, "test")
    assert inventory.vms and inventory.networks and inventory.pools
    assert {n.name for n in inventory.networks} == set(conn.listNetworks()) | set(
        conn.listDefinedNetworks())
