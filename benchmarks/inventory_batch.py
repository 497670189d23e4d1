"""How fast the inventory absorbs hypervisor traffic: prints one JSON line.

- ``storm_events_per_s``: 1,000 single-VM state changes queued at once, applied as one
  batch (what a mass start looks like to the tree);
- ``full_snapshot_10k_s``: a first snapshot of 10,000 VMs into an empty host;
- ``resnapshot_10k_s``: the same 10,000 VMs again after a reconnect (all updates, no rows
  move);
- ``churn_1k_s``: 1,000 VMs created and 1,000 removed in one batch.

The model is watched by the filter proxy and the collector policy is the program's
(app/gc_policy.py: a big snapshot is frozen), as in the window, so the numbers include the
proxy's remapping and the freeze. Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/inventory_batch.py``
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QGuiApplication  # noqa: E402

from app.gc_policy import freeze_big_inventories  # noqa: E402
from app.inventory import InventoryFilterProxy, InventoryModel  # noqa: E402
from connectors.libvirt.model import (Change, ConnState, HostStateChanged,  # noqa: E402
                                      InventoryChanged, ObjectKind, VMInfo, VMState)


def vm(i: int, state: VMState = VMState.SHUTOFF) -> VMInfo:
    return VMInfo(key=f"00000000-0000-0000-0000-{i:012d}", name=f"vm-{i:05d}", state=state,
                  state_reason="", domain_type="test", os_type="hvm", arch="x86_64",
                  virtualization="Test", vcpus=1, max_vcpus=1, memory_kib=1024,
                  max_memory_kib=1024, persistent=True, autostart=False,
                  managed_save=False)


def snapshot(vms) -> InventoryChanged:
    return InventoryChanged(tuple(Change(ObjectKind.VM, v.key, v) for v in vms), full=True)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    model = InventoryModel()
    freeze_big_inventories(model)
    proxy = InventoryFilterProxy()
    proxy.setSourceModel(model)
    batches = []
    model.batchApplied.connect(batches.append)
    model.add_host("bench", "test:///default", "bench")
    model.apply("bench", HostStateChanged(ConnState.CONNECTED))
    vms = [vm(i) for i in range(10_000)]

    model.apply("bench", snapshot(vms))
    full = timed(model.flush)
    assert model.rowCount(model.index(0, 0)) == 10_000

    again = [replace(v, state_reason="again") for v in vms]
    model.apply("bench", snapshot(again))
    resnap = timed(model.flush)

    def storm() -> None:
        for v in again[:1000]:
            model.apply("bench", InventoryChanged(
                (Change(ObjectKind.VM, v.key, replace(v, state=VMState.RUNNING)),)))
        model.flush()
    before = len(batches)
    storm_s = timed(storm)
    assert len(batches) == before + 1

    def churn() -> None:
        changes = [Change(ObjectKind.VM, v.key, None) for v in again[::10]]
        changes += [Change(ObjectKind.VM, n.key, n) for n in
                    (vm(i) for i in range(20_000, 21_000))]
        model.apply("bench", InventoryChanged(tuple(changes)))
        model.flush()
    churn_s = timed(churn)
    assert model.rowCount(model.index(0, 0)) == 10_000

    proxy.set_filter_text("vm-0999")
    filter_s = timed(lambda: proxy.set_filter_text("vm-01"))

    print(json.dumps({
        "benchmark": "inventory_batch",
        "storm_events": 1000,
        "storm_events_per_s": round(1000 / storm_s),
        "storm_s": round(storm_s, 4),
        "full_snapshot_10k_s": round(full, 4),
        "resnapshot_10k_s": round(resnap, 4),
        "churn_1k_s": round(churn_s, 4),
        "filter_10k_s": round(filter_s, 4),
    }))
    del app


if __name__ == "__main__":
    main()
