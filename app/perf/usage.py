"""The tree's CPU and Memory columns, read from the performance monitor.

``UsageColumns`` is the inventory's usage source: for a VM or host row it answers with
the latest CPU %, the memory fraction and a memory text, straight from the newest row of
the live ring buffers (one dict lookup per painted cell: only visible rows are asked).
After a host ticks it tells the inventory (gathering the hosts that tick within half a
second into one pass), which repaints just those columns of just those hosts' rows.
"""
from __future__ import annotations

import math
import weakref

from PySide6.QtCore import QObject, QTimer

from app.inventory import InventoryModel, Node, NodeKind
from app.perf.monitor import PerfMonitor


COALESCE_MS = 500


def format_bytes(n: float, suffix: str = "") -> str:
    """1536 → "1.5 KiB" (binary prefixes, as memory is counted); NaN → ""."""
    if n != n:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}{suffix}" if unit == "B" else f"{n:.1f} {unit}{suffix}"
        n /= 1024.0
    return ""  # not reached


class UsageColumns(QObject):
    def __init__(self, monitor: PerfMonitor, inventory: InventoryModel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Weak: the inventory holds this source, and the monitor holds (through the
        # connection manager) the inventory; a strong link back would make a cycle of Qt
        # objects, which must never be freed by the cycle collector on another thread.
        self._monitor = weakref.ref(monitor)
        self._inventory = inventory
        self._dirty: dict[str, None] = {}
        # Hosts tick at their own moments; one repaint for all that ticked within
        # COALESCE_MS instead of one per host (20 hosts: 2 repaints a second, not 10).
        self._timer = QTimer(self, singleShot=True, interval=COALESCE_MS)
        self._timer.timeout.connect(self._flush)
        inventory.set_usage_source(self)
        monitor.ticked.connect(self._ticked)

    def _ticked(self, conn_id: str) -> None:
        self._dirty[conn_id] = None
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for conn_id in dirty:
            self._inventory.usage_changed(conn_id)

    def usage(self, node: Node) -> tuple[float, float, str] | None:
        m = self._monitor()
        if m is None:
            return None
        if node.kind is NodeKind.HOST:
            if m.collector(node.conn_id) is None:
                return None
            cpu = m.host_latest(node.conn_id, "cpu_percent")
            total = m.host_latest(node.conn_id, "mem_total_kib")
            used = m.host_latest(node.conn_id, "mem_used_kib")
        else:
            collector = m.collector(node.conn_id)
            if collector is None or node.key not in collector.vm_buffers.index:
                return None
            tables = collector.vm_buffers.tables
            cpu = tables["cpu_percent"].latest(node.key)
            total = tables["mem_assigned_kib"].latest(node.key)
            used = tables["mem_used_kib"].latest(node.key)
            if math.isnan(used):   # no balloon driver in the guest: the host's view
                used = tables["mem_rss_kib"].latest(node.key)
        if math.isnan(cpu) and math.isnan(used):
            return None
        fraction = used / total if total > 0 else math.nan
        return cpu, min(1.0, fraction) if fraction == fraction else fraction, \
            format_bytes(used * 1024.0)
