"""The search index kept in step with the inventory, and the live CPU figures it reads.

The inventory already folds a host's events into batches (app/inventory/model.py); each
``batchApplied`` names the (conn_id, key) pairs it touched, and only those VMs' search
items are rebuilt, so a statistics-free event storm costs the index what it cost the tree.
``changed`` is emitted once per batch that touched a VM or a host, for results views to
run their query again.
"""
from __future__ import annotations

import math
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from app.inventory import InventoryModel, NodeKind
from app.search.compile import SearchItem, item_of
from app.search.index import SearchIndex
from connectors.libvirt.model import ServerInfo, VMInfo


class VMFigures(Protocol):
    """The performance monitor as search reads it (app.perf.monitor.PerfMonitor)."""

    def vm_latest(self, conn_id: str, key: str, metric: str) -> float: ...


class LiveCpu:
    """``cpu_of(item)`` for compiled queries: the VM's newest CPU % from the performance
    sampling, NaN without a monitor or a sample."""

    def __init__(self, monitor: VMFigures | None) -> None:
        self.monitor = monitor

    def __call__(self, item: SearchItem) -> float:
        if self.monitor is None:
            return math.nan
        return self.monitor.vm_latest(item.conn_id, item.vm.key, "cpu_percent")


class LiveSearchIndex(QObject):
    """Dormant until ``set_active(True)`` (the Search tab is shown): while dormant, a
    batch only notes which VMs it touched, so a 10,000-VM reconnect costs search
    nothing until someone searches; waking applies what was noted (or, past half the
    index, reloads everything)."""

    changed = Signal()

    def __init__(self, inventory: InventoryModel, parent: QObject | None = None,
                 active: bool = True) -> None:
        super().__init__(parent)
        self.inventory = inventory
        self.index = SearchIndex()
        self.active = active
        self._pending: set[tuple[str, str]] = set()
        self._reload_all = not active
        if active:
            self._reload()
        inventory.batchApplied.connect(self._batch_applied)
        inventory.hostRemoved.connect(self._host_removed)

    def set_active(self, active: bool) -> None:
        if active == self.active:
            return
        self.active = active
        if not active:
            return
        if self._reload_all:
            self._reload()
        else:
            self._apply(self._pending)
        self._pending = set()
        self._reload_all = False
        self.changed.emit()

    def _item(self, conn_id: str, vm: VMInfo) -> SearchItem:
        """A pool's VM running on a member is on "pool » member" (XenCenter's Server
        column names the member): host: finds it by either name."""
        inv = self.inventory
        host = inv.host_name(conn_id)
        if vm.server_key:
            member = inv.node(conn_id, vm.server_key)
            if member is not None and isinstance(member.obj, ServerInfo):
                host = f"{host} » {member.obj.name}"
        return item_of(conn_id, host, inv.host_uri(conn_id), vm)

    def _reload(self) -> None:
        self.index = SearchIndex()
        for conn_id in self.inventory.host_ids():
            self._reload_host(conn_id)

    def _reload_host(self, conn_id: str) -> None:
        self.index.remove_host(conn_id)
        self.index.put_all(self._item(conn_id, vm) for vm in self.inventory.vms(conn_id))

    def _batch_applied(self, touched: set[tuple[str, str]]) -> None:
        if self.active:
            if self._apply(touched):
                self.changed.emit()
        elif not self._reload_all:
            self._pending |= touched
            if len(self._pending) > max(1000, len(self.index) // 2):
                self._reload_all = True
                self._pending = set()

    def _apply(self, touched: set[tuple[str, str]]) -> bool:
        changed = False
        for conn_id, key in touched:
            if key == conn_id:      # the host's own row: its name may have changed
                self._reload_host(conn_id)
                changed = True
                continue
            node = self.inventory.node(conn_id, key)
            if node is not None and node.kind is NodeKind.VM and isinstance(node.obj, VMInfo):
                self.index.put(self._item(conn_id, node.obj))
                changed = True
            elif self.index.get((conn_id, key)) is not None:
                self.index.remove((conn_id, key))
                changed = True
        return changed

    def _host_removed(self, conn_id: str) -> None:
        self.index.remove_host(conn_id)
        self._pending = {k for k in self._pending if k[0] != conn_id}
        if self.active:
            self.changed.emit()
