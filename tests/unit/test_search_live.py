"""The search index kept by the inventory's batches (app/search/live.py), on the real
InventoryModel fed the events a connection emits: what it holds after adds, changes and
removals, asleep and awake, and a XenServer pool's VMs found by their member's name."""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.inventory import InventoryModel
from app.search.compile import compile_query
from app.search.live import LiveSearchIndex
from connectors.libvirt.model import (Change, ConnState, HostStateChanged, InventoryChanged,
                                      ObjectKind, ServerInfo, VMInfo, VMState)


def vm(name, state=VMState.RUNNING, tags=(), server_key=""):
    return VMInfo(key=f"uuid-{name}", name=name, state=state, state_reason="",
                  domain_type="xen", os_type="hvm", arch="x86_64", virtualization="",
                  vcpus=1, max_vcpus=1, memory_kib=1024, max_memory_kib=1024,
                  persistent=True, autostart=False, managed_save=False, tags=tuple(tags),
                  server_key=server_key)


def member(name):
    return ServerInfo(key=f"host-{name}", name=name, address="192.0.2.1", enabled=True,
                      live=True, is_master=name == "xs1")


@pytest.fixture
def inventory(qapp):
    model = InventoryModel()
    model.add_host("pool", "https://xs1.example", "Lab pool")
    model.apply("pool", HostStateChanged(ConnState.CONNECTED))
    model.apply("pool", InventoryChanged((
        Change(ObjectKind.SERVER, "host-xs1", member("xs1")),
        Change(ObjectKind.SERVER, "host-xs2", member("xs2")),
        Change(ObjectKind.VM, "uuid-web", vm("web", tags=("web",), server_key="host-xs1")),
        Change(ObjectKind.VM, "uuid-db", vm("db", server_key="host-xs2")),
        Change(ObjectKind.VM, "uuid-old", vm("old", VMState.SHUTOFF))), full=True))
    model.flush()
    return model


def names(live, text):
    return sorted(i.vm.name for i in live.index.search(compile_query(text)))


def test_pool_vms_are_found_by_pool_or_member_name(inventory):
    live = LiveSearchIndex(inventory)
    assert names(live, "") == ["db", "old", "web"]
    assert names(live, "host:xs2") == ["db"]
    assert names(live, 'host:"lab pool"') == ["db", "old", "web"]
    assert live.index.get(("pool", "uuid-web")).host == "Lab pool » xs1"
    assert live.index.get(("pool", "uuid-old")).host == "Lab pool"


def test_asleep_it_notes_changes_and_catches_up_when_woken(inventory):
    live = LiveSearchIndex(inventory)
    emitted = []
    live.changed.connect(lambda: emitted.append(1))
    live.set_active(False)
    inventory.apply("pool", InventoryChanged((
        Change(ObjectKind.VM, "uuid-web", replace(vm("web", tags=("web",)),
                                                  state=VMState.PAUSED)),
        Change(ObjectKind.VM, "uuid-old", None),
        Change(ObjectKind.VM, "uuid-new", vm("new", tags=("web",))))))
    inventory.flush()
    assert names(live, "tag:web") == ["web"] and not emitted, "asleep: no work"
    live.set_active(True)
    assert emitted == [1]
    assert names(live, "tag:web") == ["new", "web"]
    assert names(live, "state:paused") == ["web"]
    assert names(live, "") == ["db", "new", "web"]
    inventory.remove_host("pool")
    assert names(live, "") == []


def test_a_dormant_index_fills_itself_when_first_woken(inventory):
    live = LiveSearchIndex(inventory, active=False)
    assert len(live.index) == 0
    live.set_active(True)
    assert names(live, "") == ["db", "old", "web"]
