"""The connection manager on libvirt's real test driver (in-process, no daemon): the demo
lab fills the tree, saved servers come back, a bad URI is refused in words, a failed
connect stays listed for Reconnect."""
from __future__ import annotations

import asyncio
import json

import pytest
from PySide6.QtCore import Qt

from app.config import ConnectionsStore, SavedConnection
from app.connection_manager import ConnectionManager, demo_uri
from app.events_log import CATEGORY_ROLE, EventsLog
from app.inventory import NODE_ROLE, InventoryModel, NodeKind
from connectors.libvirt.model import ConnState, VMAction, VMState
from tests.conftest import wait_until

LAB_VMS = 14


@pytest.fixture
def parts(qapp, aloop, tmp_path):
    inventory = InventoryModel()
    log = EventsLog()
    store = ConnectionsStore(tmp_path / "connections.json")
    manager = ConnectionManager(inventory, log, store=store)
    yield manager, inventory, log, store
    aloop.run_until_complete(manager.close_all())


def vm_names(inventory, conn_id):
    host = inventory.index_of(conn_id, conn_id)
    return [inventory.index(r, 0, host).data() for r in range(inventory.rowCount(host))
            if inventory.index(r, 0, host).data(NODE_ROLE).kind is NodeKind.VM]


def connected(manager, inventory, conn_id):
    host = manager.host(conn_id)
    return host is not None and host.state is ConnState.CONNECTED and \
        inventory.host_state(conn_id)[0] is ConnState.CONNECTED


def messages(log, category=None):
    return [log.index(r, 3).data() for r in range(log.rowCount())
            if category is None or log.index(r, 0).data(CATEGORY_ROLE) == category]


def test_demo_lab_fills_the_tree(parts, aloop):
    manager, inventory, log, store = parts
    added = []
    manager.connectionAdded.connect(added.append)
    conn_id = manager.open(demo_uri(), save=False, demo=True)
    assert added == [conn_id] and manager.host(conn_id) is not None
    assert inventory.host_ids() == [conn_id], "the server is listed before it connects"
    aloop.run_until_complete(wait_until(
        lambda: connected(manager, inventory, conn_id), timeout=15))
    names = vm_names(inventory, conn_id)
    assert len(names) == LAB_VMS and names == sorted(names, key=str.casefold)
    assert names == [vm.name for vm in manager.host(conn_id).vms()]
    assert inventory.summary() == (1, 1, LAB_VMS, True)
    assert inventory.index_of(conn_id, conn_id).data() == "Demo lab"
    assert inventory.node(conn_id, "Networks") is not None
    assert inventory.node(conn_id, "Storage") is not None
    assert any(m.startswith("Connected") for m in messages(log, "connection"))
    assert not store.path.exists(), "save=False writes nothing"


def test_open_saves_restore_reopens_and_remove_forgets(parts, aloop, tmp_path):
    manager, inventory, log, store = parts
    conn_id = manager.open("test:///default")
    assert store.load()[0] == [SavedConnection("test:///default")]
    assert manager.open("test:///default") == conn_id, "one URI, one connection"
    aloop.run_until_complete(wait_until(
        lambda: connected(manager, inventory, conn_id), timeout=15))
    assert vm_names(inventory, conn_id) == ["test"]

    # The next start of the program: a new manager reads the same file.
    other_inventory = InventoryModel()
    restarted = ConnectionManager(other_inventory, EventsLog(), store=store)
    try:
        restored = restarted.restore_saved()
        assert len(restored) == 1
        assert restarted.host(restored[0]).uri == "test:///default"
        aloop.run_until_complete(wait_until(
            lambda: connected(restarted, other_inventory, restored[0]), timeout=15))
    finally:
        aloop.run_until_complete(restarted.close_all())

    removed = []
    manager.connectionRemoved.connect(removed.append)
    aloop.run_until_complete(manager.remove(conn_id))
    assert removed == [conn_id]
    assert manager.host(conn_id) is None and inventory.rowCount() == 0
    assert store.load() == ([], [])
    assert json.loads(store.path.read_text())["connections"] == []


def test_a_malformed_uri_is_refused_with_a_sentence(parts):
    manager, inventory, _, store = parts
    with pytest.raises(ValueError) as raised:
        manager.open("qemu//system")
    assert "://" in str(raised.value)
    assert inventory.rowCount() == 0 and not store.path.exists()


def test_a_failed_connect_stays_listed_disconnected_with_the_reason(parts, aloop,
                                                                   tmp_path):
    manager, inventory, log, _ = parts
    missing = tmp_path / "no-such-lab.xml"
    conn_id = manager.open(f"test://{missing}", save=False)
    aloop.run_until_complete(wait_until(
        lambda: inventory.host_state(conn_id)[0] is ConnState.DISCONNECTED, timeout=15))
    state, reason = inventory.host_state(conn_id)
    assert reason and manager.host(conn_id).state is ConnState.DISCONNECTED
    assert inventory.index_of(conn_id, conn_id, 1).data().startswith("Disconnected: ")
    errors = [log.index(r, 3).data() for r in range(log.rowCount())
              if log.index(r, 1).data() == "Error"]
    assert errors and errors[0] == reason


def test_disconnect_greys_and_reconnect_brings_the_same_rows_back(parts, aloop):
    manager, inventory, log, _ = parts
    conn_id = manager.open(demo_uri(), save=False, demo=True)
    aloop.run_until_complete(wait_until(
        lambda: connected(manager, inventory, conn_id), timeout=15))
    first = inventory.node(conn_id, manager.host(conn_id).vms()[0].key)
    changes = []
    manager.stateChanged.connect(changes.append)
    aloop.run_until_complete(manager.disconnect_server(conn_id))
    aloop.run_until_complete(wait_until(
        lambda: inventory.host_state(conn_id)[0] is ConnState.DISCONNECTED))
    assert changes and set(changes) == {conn_id}
    assert len(vm_names(inventory, conn_id)) == LAB_VMS, "last known VMs stay, greyed"
    assert inventory.index_of(conn_id, first.key).data(
        Qt.ItemDataRole.ForegroundRole) is not None
    aloop.run_until_complete(manager.reconnect(conn_id))
    aloop.run_until_complete(wait_until(
        lambda: connected(manager, inventory, conn_id), timeout=15))
    assert inventory.node(conn_id, first.key) is first, "same node: selection survives"
    assert "Disconnected" in messages(log, "connection")


def test_hypervisor_events_reach_the_tree_and_the_log(parts, aloop):
    manager, inventory, log, _ = parts
    conn_id = manager.open(demo_uri(), save=False, demo=True)
    aloop.run_until_complete(wait_until(
        lambda: connected(manager, inventory, conn_id), timeout=15))
    host = manager.host(conn_id)
    running = next(vm for vm in host.vms() if vm.state is VMState.RUNNING)
    batches = []
    inventory.batchApplied.connect(batches.append)
    aloop.run_until_complete(host.vm_action(running.key, VMAction.PAUSE))
    aloop.run_until_complete(wait_until(
        lambda: inventory.node(conn_id, running.key).obj.state is VMState.PAUSED))
    assert any((conn_id, running.key) in keys for keys in batches)
    aloop.run_until_complete(wait_until(lambda: any(
        running.name in str(log.index(r, 2).data())
        for r in range(log.rowCount())
        if log.index(r, 0).data(CATEGORY_ROLE) == "hypervisor")))
    assert any(m.startswith(f"VM {running.name}: ") for m in messages(log, "hypervisor"))


def test_credentials_go_through_the_auth_handler(parts, aloop):
    manager, _, _, _ = parts
    asked = []

    async def handler(uri, requests):
        asked.append((uri, requests))
        return None

    manager.set_auth_handler(handler)
    answer = aloop.run_until_complete(manager._ask_credentials("qemu:///system", []))
    assert answer is None and asked == [("qemu:///system", [])]


def test_demo_uri_points_at_the_lab_file():
    uri = demo_uri()
    assert uri.startswith("test:///") and uri.endswith("/resources/demo/lab.xml")


def test_close_all_disconnects_everything(parts, aloop):
    manager, inventory, _, _ = parts
    ids = [manager.open("test:///default", save=False),
           manager.open(demo_uri(), save=False, demo=True)]
    aloop.run_until_complete(wait_until(
        lambda: all(connected(manager, inventory, c) for c in ids), timeout=15))
    aloop.run_until_complete(asyncio.wait_for(manager.close_all(), 10))
    assert all(manager.host(c).state is ConnState.DISCONNECTED for c in ids)


def test_making_the_manager_reads_no_file_until_asked(qapp, tmp_path):
    """Constructing touches no disk; load_saved() reads (and reports a damaged file), and
    the first save after it keeps the servers already listed."""
    path = tmp_path / "connections.json"
    store = ConnectionsStore(path)
    store.save([SavedConnection("qemu:///system")])
    reads = []
    real_load = store.load
    store.load = lambda: reads.append(1) or real_load()
    manager = ConnectionManager(InventoryModel(), EventsLog(), store=store)
    assert reads == []
    assert manager.load_saved() == [] and reads == [1]
    manager._remember("test:///default")
    assert [c["uri"] for c in json.loads(path.read_text())["connections"]] == \
        ["qemu:///system", "test:///default"]
