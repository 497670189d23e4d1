"""The tree's CPU and Memory columns, read from the performance monitor.

``UsageColumns`` is the inventory's usage source: for a VM or host row it answers with
the latest CPU %, the memory fraction and a memory text, straight from the newest rows of
the live ring buffers (one dict lookup per painted cell: only visible rows are asked; a
VM that is not hot has a sample every FULL_EVERY ticks only). After a host with rows on
screen ticks it tells the inventory (gathering the hosts that tick within half a second
into one pass), which repaints just those columns of just those hosts' rows.

The VMs whose cells were painted lately are the ones on screen: they are handed to the
monitor as "shown", to be sampled on every tick when their host has many VMs.

One meaning per column, the one XenCenter's "Memory usage" and virt-manager's "Memory
usage" columns have: the memory an object *uses of what it has*. A VM: what the guest
uses of its assigned memory, as the guest's balloon driver reports it; a guest that does
not report it shows "–" (the QEMU process's RSS is the VM's cost to the host, not its use:
a 128 MiB guest's process holds ~200 MiB, which read as "207 MiB, full red bar"). A host:
free(1)'s "used" (without cache and buffers) of its total, from ``PerfMonitor.host_memory``
(the General tab reads the same). The numbers behind a cell are in its tooltip.
"""
from __future__ import annotations

import math
import time
import weakref

from PySide6.QtCore import QObject, QTimer

from app.inventory import CPU_COLUMN, MEMORY_COLUMN, InventoryModel, Node, NodeKind
from app.perf.monitor import MEMORY_SOURCE, PerfMonitor
from connectors.libvirt.stats import FULL_EVERY


COALESCE_MS = 500
NO_GUEST_FIGURE = "–"
HEADER_TOOLTIPS = {
    CPU_COLUMN: "CPU in use: for a VM, of its vCPUs; for a server, of all its CPUs.",
    MEMORY_COLUMN: "Memory in use, of what the object has.\n"
                   "VM: what the guest uses of its assigned memory, as the guest's balloon "
                   "driver reports it (\u201c–\u201d: the guest does not report it).\n"
                   "Server: used memory of its total, without cache and buffers "
                   "(as free(1) counts it).\nHover a cell for the numbers.",
}


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
        # VM keys painted in the current and the previous window of one sampling interval.
        self._shown: set[str] = set()
        self._shown_before: set[str] = set()
        self._shown_hosts: set[str] = set()           # conn_ids with a row painted
        self._shown_hosts_before: set[str] = set()
        self._host_rows: set[str] = set()             # conn_ids whose host row was painted
        self._host_rows_before: set[str] = set()
        self._window_start = time.monotonic()
        self.window_s: float | None = None     # None: the sampling interval
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
        """Repaint the columns of hosts that have rows on screen. A view repaints its
        whole viewport for a change spanning several rows, so telling it about hosts
        that are scrolled away or collapsed costs a full repaint each for nothing (with
        20 hosts ticking at different moments, several a second); a row scrolled into
        view is painted anyway, with the newest values, and counts as on screen from then."""
        dirty, self._dirty = self._dirty, {}
        on_screen = self._shown_hosts | self._shown_hosts_before
        for conn_id in dirty:
            if conn_id in on_screen:
                self._inventory.usage_changed(conn_id)
        self._publish_shown()

    def _publish_shown(self) -> None:
        """Every row on screen is repainted after each tick of its host, so the keys
        painted within the last two sampling intervals are the rows on screen."""
        m = self._monitor()
        now = time.monotonic()
        window = self.window_s if self.window_s is not None else (
            m.interval_s if m is not None else 0.0)
        if m is None or now - self._window_start < window:
            return
        m.set_hot("tree", self._shown | self._shown_before)
        m.set_hot_hosts("tree", self._host_rows | self._host_rows_before)
        self._shown_before, self._shown = self._shown, set()
        self._shown_hosts_before, self._shown_hosts = self._shown_hosts, set()
        self._host_rows_before, self._host_rows = self._host_rows, set()
        self._window_start = now

    def usage(self, node: Node, for_sorting: bool = False
              ) -> tuple[float, float, str] | None:
        """``for_sorting``: asked by the sort proxy for every row, not for a painted cell
        (so not a sign that the row is on screen)."""
        m = self._monitor()
        if m is None:
            return None
        if not for_sorting:
            self._shown_hosts.add(node.conn_id)
        if m.serves_pool(node.conn_id):
            # A XenAPI pool: the figures its hosts' RRDs gave (app/perf/xapi_rrd.py).
            if node.kind is NodeKind.HOST and not for_sorting:
                self._host_rows.add(node.conn_id)
            vm = node.kind is NodeKind.VM
            cpu = (m.vm_latest(node.conn_id, node.key, "cpu_percent") if vm
                   else m.host_latest(node.conn_id, "cpu_percent"))
            total = (m.vm_latest(node.conn_id, node.key, "mem_assigned_kib") if vm
                     else m.host_latest(node.conn_id, "mem_total_kib"))
            used = (m.vm_latest(node.conn_id, node.key, "mem_used_kib") if vm
                    else m.host_latest(node.conn_id, "mem_used_kib"))
            text = format_bytes(used * 1024.0) if used == used else ""
        elif node.kind is NodeKind.HOST:
            if not for_sorting:
                self._host_rows.add(node.conn_id)
            if m.collector(node.conn_id) is None:
                return None
            cpu = m.host_latest(node.conn_id, "cpu_percent")
            total = m.host_latest(node.conn_id, "mem_total_kib")
            used = m.host_latest(node.conn_id, "mem_used_kib")
            text = format_bytes(used * 1024.0)
        else:
            if not for_sorting:
                self._shown.add(node.key)
            collector = m.collector(node.conn_id)
            if collector is None or node.key not in collector.vm_buffers.index:
                return None
            tables = collector.vm_buffers.tables
            # A VM not on screen until now may have been sampled a few ticks ago only.
            cpu = tables["cpu_percent"].latest(node.key, FULL_EVERY)
            total = tables["mem_assigned_kib"].latest(node.key, FULL_EVERY)
            used = tables["mem_used_kib"].latest(node.key, FULL_EVERY)
            text = format_bytes(used * 1024.0) if used == used else (
                NO_GUEST_FIGURE if total == total else "")
        if math.isnan(cpu) and math.isnan(used) and not text:
            return None
        fraction = used / total if total > 0 else math.nan
        return cpu, min(1.0, fraction) if fraction == fraction else fraction, text

    def header_tooltip(self, column: int) -> str | None:
        return HEADER_TOOLTIPS.get(column)

    def tooltip(self, node: Node, column: int) -> str | None:
        """The numbers behind a cell; built only when the user hovers it."""
        m = self._monitor()
        if m is None or m.collector(node.conn_id) is None:
            return None
        if node.kind is NodeKind.HOST:
            if column == CPU_COLUMN:
                cpu = m.host_latest(node.conn_id, "cpu_percent")
                return None if math.isnan(cpu) else f"CPU in use: {cpu:.1f} % of all CPUs"
            return _host_memory_tooltip(m, node.conn_id)
        collector = m.collector(node.conn_id)
        if collector is None or node.key not in collector.vm_buffers.index:
            return None
        tables = collector.vm_buffers.tables

        def latest(metric: str) -> float:
            return tables[metric].latest(node.key, FULL_EVERY)
        if column == CPU_COLUMN:
            cpu = latest("cpu_percent")
            return None if math.isnan(cpu) else f"CPU in use: {cpu:.1f} % of its vCPUs"
        assigned, used, rss = latest("mem_assigned_kib"), latest("mem_used_kib"), \
            latest("mem_rss_kib")
        if math.isnan(assigned) and math.isnan(rss):
            return None
        if used == used and assigned > 0:
            lines = [f"Used by the guest: {format_bytes(used * 1024.0)} of "
                     f"{format_bytes(assigned * 1024.0)} assigned "
                     f"({used / assigned * 100.0:.0f} %)"]
        else:
            lines = ["The guest does not report its memory use (that needs a balloon "
                     "driver in the guest and libvirt's memory statistics period).",
                     f"Assigned: {format_bytes(assigned * 1024.0) or 'unknown'}"]
        if rss == rss:
            lines.append(f"Held on the host by the VM's process (RSS): "
                         f"{format_bytes(rss * 1024.0)}")
        return "\n".join(lines)


def _host_memory_tooltip(m: PerfMonitor, conn_id: str) -> str | None:
    mem = m.host_memory(conn_id)
    if mem is None:
        return None
    if math.isnan(mem.used_kib):
        return (f"Total: {format_bytes(mem.total_kib * 1024.0)}\n"
                "This server reports no memory use (libvirt's test driver has none).")
    parts = [f"Used: {format_bytes(mem.used_kib * 1024.0)} of "
             f"{format_bytes(mem.total_kib * 1024.0)} ({mem.used_fraction * 100.0:.0f} %)",
             f"Free: {format_bytes(mem.free_kib * 1024.0)}"]
    if mem.cache_kib == mem.cache_kib and mem.cache_kib > 0:
        parts[-1] += f", cache and buffers: {format_bytes(mem.cache_kib * 1024.0)}"
    parts.append(f"From {MEMORY_SOURCE}.")
    return "\n".join(parts)
