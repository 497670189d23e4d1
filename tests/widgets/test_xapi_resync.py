"""EVENTS_LOST in the real main window: the pool's event stream says it lost events, the
client reads everything again, and the window shows the new picture without losing its
place: the same rows (none twice), the selection where it was, what changed meanwhile
applied, and the stream going on afterwards.

The simulator runs in this process (tests/xapi_sim_helpers.running_simulator; real TLS
and JSON-RPC over a socket) so that the changes the client must miss and the forgotten
history happen under the store's lock, in one step: with a separate process, the
client's waiting event.from would see each change before the history could be dropped.
"""
from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QItemSelectionModel

from app.inventory import NODE_ROLE
from app.server_alerts import PoolAlert
from connectors.libvirt.model import ConnState, VMInfo, VMState
from tests.conftest import wait_until
from tests.widgets.test_xapi_window import _rows, window_on_pool
from tests.xapi_sim_helpers import REPO, JsonRpc, running_simulator

sys.path.insert(0, str(REPO / "scripts"))
from xapi_sim import schema  # noqa: E402
from xapi_sim.api import now_datetime  # noqa: E402

pytestmark = [pytest.mark.integration]


@pytest.fixture
def pool_window(qtbot, qapp, aloop, tmp_path):
    with running_simulator(hosts=2, vms=12) as sim:
        with window_on_pool(qapp, aloop, tmp_path, sim.address, 12) as (session, conn_id,
                                                                        _shown):
            yield session, conn_id, sim


def _vm_rows(window) -> list[str]:
    """The names of every VM row the tree shows, through the view's own model."""
    return [index.data() for index in _rows(window.tree)
            if isinstance(getattr(index.data(NODE_ROLE), "obj", None), VMInfo)]


def test_events_lost_reads_the_pool_again_and_keeps_the_window_in_place(pool_window, aloop):
    session, conn_id, sim = pool_window
    window = session.window
    tree = window.tree
    store = sim.sim.store
    before = _vm_rows(window)
    assert len(before) == len(set(before)) == 12
    # The user is looking at vm-0003.
    index = next(i for i in _rows(tree) if i.data() == "vm-0003")
    tree.selectionModel().setCurrentIndex(
        index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    selected = tree.currentIndex().data()
    assert selected == "vm-0003"

    # Behind the client's back: a VM renamed, a halted one gone, an alert raised; then
    # the pool forgets its history, so the waiting event.from answers EVENTS_LOST.
    pool = session.manager.pool(conn_id)
    gone = next(v for v in pool.vms() if v.state is VMState.SHUTOFF
                and v.name not in ("vm-0003", "vm-0006"))
    with store.lock:
        store.update("VM", sim.vm("vm-0006"), name_label="renamed-while-lost")
        store.remove("VM", sim.vm(gone.name))
        store.add("message", schema.new_record(
            "message", name="VM_CRASHED", priority=2, cls="VM",
            obj_uuid=str(store.table("VM")[sim.vm("vm-0003")]["uuid"]),
            timestamp=now_datetime(), body="missed while the stream was lost"))
        store.forget_history()

    def resynced() -> bool:
        names = _vm_rows(window)
        return "renamed-while-lost" in names and gone.name not in names
    aloop.run_until_complete(wait_until(resynced, 15))
    after = _vm_rows(window)
    assert len(after) == len(set(after)) == 11, after
    assert sorted(after) == sorted(
        [n for n in before if n not in ("vm-0006", gone.name)] + ["renamed-while-lost"])
    assert tree.currentIndex().data() == "vm-0003", "the selection stayed"
    assert session.manager.state(conn_id)[0] is ConnState.CONNECTED
    alerts = [a for a in session.alert_engine.model.alerts() if isinstance(a, PoolAlert)]
    assert [(a.name, a.message) for a in alerts] == [
        ("vm-0003", "VM crashed: missed while the stream was lost")]
    assert [e for e in session.events_log.entries()
            if "missed while the stream was lost" in e.message]

    # The stream goes on from the fresh snapshot's token.
    client = JsonRpc(sim.address)
    ref = sim.login(client)
    vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
              and not v.is_control_domain)
    assert "result" in client.call("VM.pause", ref, sim.vm(vm.name))
    aloop.run_until_complete(wait_until(
        lambda: session.inventory.node(conn_id, vm.key).obj.state is VMState.PAUSED, 10))
    assert tree.currentIndex().data() == "vm-0003"
