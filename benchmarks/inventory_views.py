"""How fast the tree's other views (View › By Folder / Tag / State / Custom Field) follow
10,000 VMs over 20 servers: prints one JSON line.

Every VM has two tags out of 40, a folder two levels deep out of 60 and an "owner" field.
For each view, with the filter proxy in front as in the window:

- ``<view>_open_s``: switching the tree to the view (the grouped model built, the proxy
  reset);
- ``<view>_storm_s``: an inventory batch of 1,000 state changes followed to the view (in
  the state view VMs change group: one reset; elsewhere the rows stay: a repaint);
- ``<view>_retag_s``: a batch in which 100 VMs get another tag and folder (rows move).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/inventory_views.py``
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
from app.inventory.view_switcher import ViewSwitcher  # noqa: E402
from app.inventory.views import View, ViewKind  # noqa: E402
from connectors.libvirt.model import (Change, ConnState, HostStateChanged,  # noqa: E402
                                      InventoryChanged, ObjectKind, VMInfo, VMState)

HOSTS, PER_HOST = 20, 500


def vm(i: int, state: VMState = VMState.SHUTOFF) -> VMInfo:
    return VMInfo(key=f"00000000-0000-0000-0000-{i:012d}", name=f"vm-{i:05d}", state=state,
                  state_reason="", domain_type="test", os_type="hvm", arch="x86_64",
                  virtualization="Test", vcpus=1, max_vcpus=1, memory_kib=1024,
                  max_memory_kib=1024, persistent=True, autostart=False,
                  managed_save=False,
                  tags=tuple(sorted({f"tag-{i % 40:02d}", f"tag-{(i * 7) % 40:02d}"})),
                  folder=f"/site-{i % 6}/rack-{i % 60:02d}",
                  custom_fields=(("owner", f"team-{i % 12}"),))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def batch(model: InventoryModel, vms: list[VMInfo]) -> None:
    by_host: dict[str, list[Change]] = {}
    for v in vms:
        i = int(v.key[-12:])
        by_host.setdefault(f"h{i // PER_HOST:02d}", []).append(Change(ObjectKind.VM, v.key, v))
    for conn_id, changes in by_host.items():
        model.apply(conn_id, InventoryChanged(tuple(changes)))
    model.flush()


def main() -> None:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    model = InventoryModel()
    freeze_big_inventories(model)
    proxy = InventoryFilterProxy()
    proxy.setSourceModel(model)
    vms = [vm(i) for i in range(HOSTS * PER_HOST)]
    for h in range(HOSTS):
        conn_id = f"h{h:02d}"
        model.add_host(conn_id, "test:///default", conn_id)
        model.apply(conn_id, HostStateChanged(ConnState.CONNECTED))
        model.apply(conn_id, InventoryChanged(tuple(
            Change(ObjectKind.VM, v.key, v) for v in vms[h * PER_HOST:(h + 1) * PER_HOST]),
            full=True))
    model.flush()
    switcher = ViewSwitcher(model, proxy)
    out: dict[str, object] = {"benchmark": "inventory_views", "vms": len(vms),
                              "hosts": HOSTS}
    current = vms
    for view in (View(ViewKind.FOLDER), View(ViewKind.TAG), View(ViewKind.STATE),
                 View(ViewKind.FIELD, "owner")):
        name = view.kind.value
        out[f"{name}_open_s"] = round(timed(lambda v=view: switcher.set_view(v)), 4)
        grouped = switcher.grouped
        assert grouped is not None and grouped.rowCount() > 0
        state = VMState.RUNNING if current[0].state is VMState.SHUTOFF else VMState.SHUTOFF
        current = [replace(v, state=state) if i < 1000 else v for i, v in enumerate(current)]
        out[f"{name}_storm_s"] = round(timed(lambda c=current[:1000]: (
            batch(model, c), grouped.rebuild())), 4)
        moved = [replace(v, tags=("moved",), folder="/moved") for v in current[:100]]
        current = moved + current[100:]
        out[f"{name}_retag_s"] = round(timed(lambda m=moved: (
            batch(model, m), grouped.rebuild())), 4)
    switcher.set_view(View())
    print(json.dumps(out))
    del app


if __name__ == "__main__":
    main()
