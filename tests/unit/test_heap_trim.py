"""The heap is handed back to the system once after big snapshots stop arriving, and after
a server goes; small inventories are left alone."""
from __future__ import annotations

import threading

from app.heap_trim import release_free_heap, trim_after_big_snapshots
from app.inventory import InventoryModel
from tests.unit.test_app_inventory import connect, vm


def test_the_c_library_of_this_machine_can_trim_its_heap():
    """The real call (glibc's malloc_trim), not a stand-in: it runs and says it did."""
    assert release_free_heap() is True


def _counting_trim():
    calls: list[str] = []
    done = threading.Event()

    def trim() -> None:
        calls.append(threading.current_thread().name)
        done.set()
    return calls, done, trim


def test_a_burst_of_big_snapshots_is_trimmed_once_after_the_last(qtbot):
    """Twenty servers arriving one after another: one trim, in a thread of its own (the
    UI does not wait for the walk over every heap)."""
    model = InventoryModel()
    calls, done, trim = _counting_trim()
    timer = trim_after_big_snapshots(model, trim_from=50, delay_ms=30, trim=trim)
    for host in range(3):
        connect(model, f"c{host}", objs=[vm(f"vm-{host}-{i}") for i in range(30)])
    assert timer.isActive(), "60 rows and more: a trim is due"
    qtbot.waitUntil(done.is_set, timeout=2000)
    qtbot.wait(100)
    assert calls == ["hvconsole-heap-trim"]


def test_a_small_inventory_is_not_trimmed(qtbot):
    model = InventoryModel()
    calls, _done, trim = _counting_trim()
    timer = trim_after_big_snapshots(model, trim_from=50, delay_ms=10, trim=trim)
    connect(model, objs=[vm("small")])
    assert not timer.isActive()
    qtbot.wait(50)
    assert calls == []


def test_removing_a_server_trims_what_its_rows_held(qtbot):
    model = InventoryModel()
    calls, done, trim = _counting_trim()
    trim_after_big_snapshots(model, trim_from=10_000, delay_ms=10, trim=trim)
    connect(model, objs=[vm("one")])
    model.remove_host("c1")
    qtbot.waitUntil(done.is_set, timeout=2000)
    assert len(calls) == 1
