"""The process's collector policy: a big inventory is frozen out of the cycle collector's
passes, and a server's removal hands everything back."""
from __future__ import annotations

import gc

import pytest

from app.gc_policy import FREEZE_FROM, freeze_big_inventories
from app.inventory import InventoryModel
from tests.unit.test_app_inventory import connect, vm


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_big_inventory_is_kept_out_of_the_cycle_collectors_passes(qapp, unfrozen):
    """10,000 rows would make every full collection a GIL-holding pass of ~100 ms; a big
    snapshot is frozen (gc.freeze), and removing its host lets the collector have it."""
    model = InventoryModel()
    freeze_big_inventories(model)
    connect(model, objs=[vm("small")])
    assert gc.get_freeze_count() == 0, "a small inventory stays with the collector"
    connect(model, "c2", objs=[vm(f"vm-{i}") for i in range(FREEZE_FROM)])
    assert gc.get_freeze_count() > 0
    model.remove_host("c2")
    assert gc.get_freeze_count() == 0


def test_without_the_policy_the_model_leaves_the_collector_alone(qapp, unfrozen):
    """The model itself does not tune the collector: that is the process's choice."""
    model = InventoryModel()
    connect(model, objs=[vm(f"vm-{i}") for i in range(FREEZE_FROM)])
    assert gc.get_freeze_count() == 0


def test_qt_objects_in_cycles_are_collected_on_the_qt_thread_only(qapp, aloop):
    """A worker thread that allocates enough to trigger a pass must not be the one that
    destroys a Qt object left in a reference cycle (that crashed the window's tests)."""
    import threading
    import weakref

    from PySide6.QtCore import QObject

    from app.gc_policy import collect_due, collect_on_qt_thread
    collect_on_qt_thread(qapp)
    assert not gc.isenabled(), "automatic passes (in any thread) are off"

    class Cycle:
        pass
    freed_in: list[str] = []
    cycle = Cycle()
    cycle.me = cycle
    cycle.qt = QObject()
    weakref.finalize(cycle, lambda: freed_in.append(threading.current_thread().name))
    del cycle

    def allocate():
        junk = [[i] for i in range(200_000)]      # far past generation 0's threshold
        del junk
    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert freed_in == [], "nothing collected in the worker"
    for _ in range(3):
        collect_due()
    gc.collect()        # whatever generation it reached, the Qt thread's pass frees it
    assert freed_in == [threading.main_thread().name]
