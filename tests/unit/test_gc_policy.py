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
