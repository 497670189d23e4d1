"""The Performance tab: live and historical graphs of the selected VM or server.

A VM shows CPU (its vCPUs on demand), memory (assigned, used, host RSS), disk throughput
and IOPS (per disk on demand) and network (per NIC on demand). A server shows its CPU
(per core on demand), memory (used, free, cached), the summed disk and network traffic of
its VMs, and a "top consumers" table whose rows select the VM in the tree.

Why it stays cheap at scale: it redraws only while visible and not paused, once per tick
of the selected host; each curve owns preallocated x/y arrays that are refilled and handed
to setData; history reads (SQLite) run in a worker thread and are cached for a while
(every 10 s for 10 minutes, every minute for longer ranges), the live ring buffers add the
newest ticks on top. Missing ticks are NaN and drawn as gaps (connect="finite"); history
steps without data get a NaN inserted, for the same reason.
"""
from __future__ import annotations

import asyncio
import csv
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QPushButton, QSplitter, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.inventory import NodeKind
from app.perf.usage import format_bytes

log = logging.getLogger(__name__)

RANGES = (("Last 10 minutes", 600.0), ("Last hour", 3600.0), ("Last day", 86400.0),
          ("Last week", 7 * 86400.0))
HISTORY_REFRESH_S = {600.0: 10.0}   # others: 60 s
TOP_N = 10
KIB = 1024.0
Y_FLOOR = {"%": 100.0, "B": 64 * 1024.0 * KIB, "B/s": 10 * KIB, "IO/s": 10.0}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class CurveSpec:
    """One line: ``metric`` of the VM/host from ring buffers + history, or a live-only
    ``detail`` series; values are multiplied by ``scale`` (KiB → bytes)."""

    label: str
    metric: str | None = None
    detail: tuple | None = None
    scale: float = 1.0
    width: float = 2.0


@dataclass(frozen=True)
class GraphSpec:
    title: str
    unit: str           # "%", "B", "B/s", "IO/s"
    curves: tuple[CurveSpec, ...]


class _Curve:
    """A plot line with its own preallocated arrays (grown by doubling when needed)."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        self.item = item
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0

    def show(self, t: np.ndarray, v: np.ndarray) -> None:
        n = len(t)
        if n > len(self.x):
            size = 1 << (n - 1).bit_length()
            self.x, self.y = np.empty(size), np.empty(size)
        self.x[:n] = t
        self.y[:n] = v
        self.n = n
        self.item.setData(self.x[:n], self.y[:n], connect="finite")

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


def with_gaps(t: np.ndarray, v: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Only the known points, with a NaN between two that are further apart than 2.5
    steps: a pause in the data is drawn as a pause, not as a straight line across it.

    The step is at least the usual spacing of the points: a loaded host whose sampler
    skips every other tick still gets a line (with each skipped tick marked as a NaN
    between two real ones, connect="finite" would draw nothing at all), while a VM that
    was off for a while, a host that was away or a clock jump still shows as a break."""
    keep = np.isfinite(v)
    if not keep.all():
        t, v = t[keep], v[keep]
    if len(t) < 2:
        return t, v
    step = max(step, float(np.median(np.diff(t))))
    holes = np.flatnonzero(np.diff(t) > 2.5 * step) + 1
    if not len(holes):
        return t, v
    mid = (t[holes - 1] + t[holes]) / 2
    return np.insert(t, holes, mid), np.insert(v, holes, np.nan)


def format_value(value: float, unit: str) -> str:
    if value != value:
        return "–"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "B":
        return format_bytes(value)
    if unit == "B/s":
        return format_bytes(value, "/s")
    return f"{value:.1f} {unit}"


def vm_graphs(monitor, conn_id: str, key: str, vcpus: bool, disks: bool,
              nics: bool) -> list[GraphSpec]:
    def details(kind: str, fields: tuple[str, ...], words: dict) -> tuple[CurveSpec, ...]:
        out = []
        for dk in monitor.detail_keys(conn_id, key, kind):
            if dk[-1] in fields:
                out.append(CurveSpec(f"{dk[2]} {words[dk[-1]]}", detail=dk, width=1.0))
        return tuple(out)

    cpu = (CurveSpec("CPU", "cpu_percent"),)
    if vcpus:
        cpu += tuple(CurveSpec(f"vCPU {dk[2]}", detail=dk, width=1.0)
                     for dk in monitor.detail_keys(conn_id, key, "vcpu"))
    disk = (CurveSpec("Read", "disk_rd_bps"), CurveSpec("Write", "disk_wr_bps"))
    iops = (CurveSpec("Read", "disk_rd_iops"), CurveSpec("Write", "disk_wr_iops"))
    if disks:
        disk += details("disk", ("rd_bps", "wr_bps"), {"rd_bps": "read", "wr_bps": "write"})
        iops += details("disk", ("rd_iops", "wr_iops"),
                        {"rd_iops": "read", "wr_iops": "write"})
    net = (CurveSpec("Received", "net_rx_bps"), CurveSpec("Sent", "net_tx_bps"))
    if nics:
        net += details("net", ("rx_bps", "tx_bps"), {"rx_bps": "received", "tx_bps": "sent"})
    return [GraphSpec("CPU", "%", cpu),
            GraphSpec("Memory", "B", (CurveSpec("Assigned", "mem_assigned_kib", scale=KIB),
                                      CurveSpec("Used", "mem_used_kib", scale=KIB),
                                      CurveSpec("RSS (host)", "mem_rss_kib", scale=KIB))),
            GraphSpec("Disk throughput", "B/s", disk),
            GraphSpec("Disk IOPS", "IO/s", iops),
            GraphSpec("Network", "B/s", net)]


def host_graphs(monitor, conn_id: str, cores: bool) -> list[GraphSpec]:
    cpu = (CurveSpec("CPU", "cpu_percent"),)
    if cores:
        cpu += tuple(CurveSpec(f"Core {dk[2]}", detail=dk, width=1.0)
                     for dk in monitor.detail_keys(conn_id, None, "core"))
    return [GraphSpec("CPU", "%", cpu),
            GraphSpec("Memory", "B", (CurveSpec("Used", "mem_used_kib", scale=KIB),
                                      CurveSpec("Free", "mem_free_kib", scale=KIB),
                                      CurveSpec("Cached", "mem_cached_kib", scale=KIB))),
            GraphSpec("Disk (all VMs)", "B/s", (CurveSpec("Read", "vms_disk_rd_bps"),
                                                CurveSpec("Write", "vms_disk_wr_bps"))),
            GraphSpec("Network (all VMs)", "B/s", (CurveSpec("Received", "vms_net_rx_bps"),
                                                   CurveSpec("Sent", "vms_net_tx_bps")))]


class PerformanceTab(QWidget):
    """``vmActivated(conn_id, key)``: a row of the top-consumers table was clicked."""

    vmActivated = Signal(str, str)

    def __init__(self, monitor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self.setObjectName("performanceTab")
        self.conn_id: str | None = None
        self.key: str | None = None       # None with a conn_id: the host
        self.paused = False
        self.specs: list[GraphSpec] = []
        self.plots: list[pg.PlotItem] = []
        self.curves: list[list[_Curve]] = []
        self._hover_lines: list[pg.InfiniteLine] = []
        self._history: dict[tuple, tuple[float, np.ndarray, np.ndarray]] = {}
        self.history_task: asyncio.Task | None = None
        self._history_for: tuple | None = None
        self._build()
        monitor.ticked.connect(self._ticked)

    # ---- building ----

    def _build(self) -> None:
        self.range_combo = QComboBox()
        for text, seconds in RANGES:
            self.range_combo.addItem(text, seconds)
        self.range_combo.currentIndexChanged.connect(self._range_changed)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Stop following the present; drag or scroll the "
                                     "graphs to look back and zoom")
        self.pause_button.toggled.connect(self.set_paused)
        self.vcpu_box = QCheckBox("Per vCPU")
        self.disk_box = QCheckBox("Per disk")
        self.nic_box = QCheckBox("Per NIC")
        self.core_box = QCheckBox("Per core")
        for box in (self.vcpu_box, self.disk_box, self.nic_box, self.core_box):
            box.toggled.connect(self._details_toggled)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Export shown data as CSV")
        self.export_button.clicked.connect(self._ask_export_csv)
        self.png_button = QPushButton("Save PNG…")
        self.png_button.setToolTip("Save graph as PNG")
        self.png_button.clicked.connect(self._ask_save_png)

        bar = QHBoxLayout()
        bar.addWidget(self.range_combo)
        bar.addWidget(self.pause_button)
        for box in (self.vcpu_box, self.disk_box, self.nic_box, self.core_box):
            bar.addWidget(box)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        bar.addWidget(self.png_button)

        self.readout = QLabel(" ")
        self.readout.setObjectName("perfReadout")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.graphs = pg.GraphicsLayoutWidget()
        self.graphs.setBackground("w")
        self.graphs.scene().sigMouseMoved.connect(self._mouse_moved)

        self.top_by = QComboBox()
        for text, metric in (("CPU", "cpu_percent"), ("Memory", "mem_percent"),
                             ("Disk", "disk_bps"), ("Network", "net_bps")):
            self.top_by.addItem(text, metric)
        self.top_by.currentIndexChanged.connect(lambda _i: self._fill_top())
        self.top_table = QTableWidget(0, 5)
        self.top_table.setObjectName("topConsumers")
        self.top_table.setHorizontalHeaderLabels(["VM", "CPU", "Memory", "Disk", "Network"])
        self.top_table.verticalHeader().setVisible(False)
        self.top_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.top_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.top_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.top_table.cellClicked.connect(self._top_clicked)
        top_box = QWidget()
        top_layout = QVBoxLayout(top_box)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_row = QHBoxLayout()
        top_row.addWidget(QLabel("Top consumers by"))
        top_row.addWidget(self.top_by)
        top_row.addStretch(1)
        top_layout.addLayout(top_row)
        top_layout.addWidget(self.top_table)
        self.top_box = top_box

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.graphs)
        split.addWidget(top_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.readout)
        layout.addWidget(split, 1)
        self.placeholder = QLabel("Select a VM or a server to see its performance.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    # ---- what is shown ----

    @property
    def range_s(self) -> float:
        return float(self.range_combo.currentData())

    def set_range(self, seconds: float) -> None:
        for i, (_text, s) in enumerate(RANGES):
            if s == seconds:
                self.range_combo.setCurrentIndex(i)
                return
        raise ValueError(f"no such range: {seconds}")

    def set_selection(self, nodes: list) -> None:
        target = None
        if len(nodes) == 1 and nodes[0].kind in (NodeKind.VM, NodeKind.HOST):
            node = nodes[0]
            target = (node.conn_id, node.key if node.kind is NodeKind.VM else None)
        self.show_object(*(target or (None, None)))

    def show_object(self, conn_id: str | None, key: str | None) -> None:
        """A VM (conn_id, uuid), a host (conn_id, None), or nothing (None, None)."""
        if (conn_id, key) == (self.conn_id, self.key) and self.specs:
            return
        if self.conn_id is not None:
            self.monitor.unwatch(self.conn_id, self.key)
        self.conn_id, self.key = conn_id, key
        # What is on show is sampled every tick even on a host with thousands of VMs.
        self.monitor.set_hot("performance tab", [key] if key is not None else [])
        self.monitor.set_hot_hosts("performance tab",
                                   [conn_id] if conn_id is not None and key is None else [])
        self._history.clear()
        if conn_id is None:
            self.stack.setCurrentIndex(0)
            self.specs = []
            return
        self.stack.setCurrentIndex(1)
        is_vm = key is not None
        for box in (self.vcpu_box, self.disk_box, self.nic_box):
            box.setVisible(is_vm)
        self.core_box.setVisible(not is_vm)
        self.top_box.setVisible(not is_vm)
        self._watch()
        self._rebuild()
        self.refresh()

    def _watch(self) -> None:
        """Ask the monitor for the detail series the boxes show, and only those."""
        if self.conn_id is None:
            return
        if self.key is None:
            wanted = self.core_box.isChecked()
        else:
            wanted = (self.vcpu_box.isChecked() or self.disk_box.isChecked()
                      or self.nic_box.isChecked())
        if wanted:
            self.monitor.watch(self.conn_id, self.key)
        else:
            self.monitor.unwatch(self.conn_id, self.key)

    def _wanted_specs(self) -> list[GraphSpec]:
        if self.conn_id is None:
            return []
        if self.key is None:
            return host_graphs(self.monitor, self.conn_id, self.core_box.isChecked())
        return vm_graphs(self.monitor, self.conn_id, self.key, self.vcpu_box.isChecked(),
                         self.disk_box.isChecked(), self.nic_box.isChecked())

    def _rebuild(self, specs: list[GraphSpec] | None = None) -> None:
        self.specs = specs if specs is not None else self._wanted_specs()
        self.graphs.clear()
        self.plots, self.curves, self._hover_lines = [], [], []
        first = None
        for row, spec in enumerate(self.specs):
            plot = self.graphs.addPlot(row=row, col=0,
                                       axisItems={"bottom": pg.DateAxisItem()})
            plot.setTitle(spec.title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMouseEnabled(x=True, y=False)
            plot.setMenuEnabled(False)
            plot.setLabel("left", units=spec.unit)
            plot.disableAutoRange(axis="y")   # _fit_y: from 0, never a "milli" axis
            plot.setYRange(0, Y_FLOOR[spec.unit], padding=0)
            legend = plot.addLegend(offset=(6, 4), labelTextSize="8pt")
            legend.setBrush(pg.mkBrush(255, 255, 255, 200))
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            curves = []
            for i, curve in enumerate(spec.curves):
                pen = pg.mkPen(_PALETTE[i % len(_PALETTE)], width=curve.width)
                curves.append(_Curve(plot.plot(name=curve.label, pen=pen)))
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999", width=1))
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._hover_lines.append(line)
            plot.vb.sigRangeChangedManually.connect(self._user_moved)
            self.plots.append(plot)
            self.curves.append(curves)

    # ---- updating ----

    def _ticked(self, conn_id: str) -> None:
        if conn_id == self.conn_id and not self.paused and self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self.paused:
            self.refresh()

    def refresh(self) -> None:
        """Redraws every graph from the buffers and the cached history now."""
        if self.conn_id is None:
            return
        wanted = self._wanted_specs()
        if [s.curves for s in wanted] != [s.curves for s in self.specs]:
            self._rebuild(wanted)   # a vCPU/disk/core appeared, or a box was ticked
        now = time.time()
        t_from = now - self.range_s
        self._maybe_load_history(now)
        step = self.monitor.history_step(t_from)
        for plot, spec, curves in zip(self.plots, self.specs, self.curves):
            top = 0.0
            for curve_spec, curve in zip(spec.curves, curves):
                t, v = self._points(curve_spec, t_from, step)
                v = v * curve_spec.scale if curve_spec.scale != 1.0 else v
                curve.show(t, v)
                if len(v) and np.isfinite(v).any():
                    top = max(top, float(np.nanmax(v)))
            self._fit_y(plot, spec.unit, top)
        if not self.paused and self.plots:
            self.plots[0].setXRange(t_from, now, padding=0)
        if self.key is None:
            self._fill_top()

    @staticmethod
    def _fit_y(plot: pg.PlotItem, unit: str, top: float) -> None:
        """0 at the bottom, the highest value plus a margin at the top (at least a floor,
        so an idle VM reads as "0 of a little", not as noise around a "milli" axis)."""
        if unit == "%":
            high = 100.0
        else:
            high = max(Y_FLOOR[unit], top * 1.15)
        plot.setYRange(0, high, padding=0)

    def _points(self, spec: CurveSpec, t_from: float, step: float
                ) -> tuple[np.ndarray, np.ndarray]:
        # Live ticks further apart than 2.5 intervals (a wall-clock jump, a host that was
        # away) are a gap too, not a straight line across.
        if spec.detail is not None:
            t, v = self.monitor.detail_series(self.conn_id, spec.detail)
            t, v = with_gaps(t, v.astype(np.float64), self.monitor.interval_s)
        else:
            t, v = self.monitor.live_series(self.conn_id, self.key, spec.metric)
            t, v = with_gaps(t, v.astype(np.float64), self.monitor.interval_s)
            cached = self._history.get((self.range_s, spec.metric))
            if cached is not None and len(cached[1]):
                ht, hv = cached[1], cached[2]
                older = ht < (t[0] if len(t) else math.inf)
                ht, hv = with_gaps(ht[older], hv[older], step)
                if len(ht) and len(t) and t[0] - ht[-1] > 2.5 * step:
                    ht, hv = np.append(ht, (ht[-1] + t[0]) / 2), np.append(hv, np.nan)
                t, v = np.concatenate((ht, t)), np.concatenate((hv, v))
        keep = t >= t_from
        return t[keep], v[keep]

    def _metrics_shown(self) -> list[str]:
        return [c.metric for s in self.specs for c in s.curves if c.metric is not None]

    def history_ready(self) -> bool:
        """Every line shown has its history for the current range (tests, export)."""
        return self.monitor.history is None or all(
            (self.range_s, m) in self._history for m in self._metrics_shown())

    def _maybe_load_history(self, now: float) -> None:
        if self.monitor.history is None:
            return
        wanted = (self.conn_id, self.key, self.range_s)
        if self.history_task is not None and not self.history_task.done():
            if self._history_for == wanted:
                return
            self.history_task.cancel()   # another object or range was chosen meanwhile
        period = HISTORY_REFRESH_S.get(self.range_s, 60.0)
        stale = [m for m in self._metrics_shown()
                 if now - self._history.get((self.range_s, m), (-math.inf,))[0] > period]
        if not stale:
            return
        try:  # the app's (qasync) loop, also when called from outside a callback
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
        self._history_for = wanted
        self.history_task = loop.create_task(
            self._load_history(self.conn_id, self.key, self.range_s, stale, now))

    async def _load_history(self, conn_id, key, range_s, metrics, now) -> None:
        """SQLite reads in a worker thread; the graphs redraw when they arrive."""
        def read():
            return {m: self.monitor.history_series(conn_id, key, m, now - range_s, now)
                    for m in metrics}
        try:
            result = await asyncio.to_thread(read)
        except Exception:  # noqa: BLE001 - a damaged history must not break the tab
            log.exception("reading the performance history failed")
            return
        if (conn_id, key, range_s) != (self.conn_id, self.key, self.range_s):
            return
        for metric, (t, v) in result.items():
            self._history[(range_s, metric)] = (now, t, v)
        if not self.paused:
            self.refresh()

    def _range_changed(self, _index: int) -> None:
        self._history.clear()
        if self.paused:
            self.pause_button.setChecked(False)
        self.refresh()

    def _details_toggled(self, _on: bool) -> None:
        self._watch()
        self.refresh()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if self.pause_button.isChecked() != paused:
            self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if not paused:
            self.refresh()

    def _user_moved(self, *_args) -> None:
        """Dragging or zooming a graph means looking at the past: stop following."""
        if not self.paused:
            self.set_paused(True)

    # ---- hover read-out ----

    def _mouse_moved(self, pos) -> None:
        for plot, spec, curves, line in zip(self.plots, self.specs, self.curves,
                                            self._hover_lines):
            if not plot.sceneBoundingRect().contains(pos):
                line.setVisible(False)
                continue
            x = plot.vb.mapSceneToView(pos).x()
            self.readout.setText(self.readout_at(self.plots.index(plot), x))
            line.setPos(x)
            line.setVisible(True)

    def readout_at(self, graph: int, x: float) -> str:
        """"CPU at 12:03:04 — CPU: 41.0 %, vCPU 0: 40.2 %": the point nearest to x."""
        spec, curves = self.specs[graph], self.curves[graph]
        parts = []
        when = None
        for curve_spec, curve in zip(spec.curves, curves):
            t, v = curve.data()
            if not len(t):
                continue
            i = int(np.clip(np.searchsorted(t, x), 0, len(t) - 1))
            if i > 0 and abs(t[i - 1] - x) < abs(t[i] - x):
                i -= 1
            when = t[i] if when is None else when
            parts.append(f"{curve_spec.label}: {format_value(float(v[i]), spec.unit)}")
        if when is None:
            return f"{spec.title}: no data"
        stamp = datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S")
        return f"{spec.title} at {stamp} — " + ", ".join(parts)

    # ---- top consumers ----

    def _fill_top(self) -> None:
        if self.conn_id is None or self.key is not None:
            return
        tick = self.monitor.full_tick(self.conn_id)
        rows = self.monitor.top_consumers(self.conn_id, self.top_by.currentData(), TOP_N)
        host = self.monitor.manager.host(self.conn_id)
        table = self.top_table
        table.setRowCount(len(rows))
        for r, (key, _value) in enumerate(rows):
            i = tick.vms.index[key]
            vms = tick.vms
            vm = host.vm(key) if host is not None else None
            name = QTableWidgetItem(vm.name if vm is not None else key)
            name.setData(Qt.ItemDataRole.UserRole, key)
            used = vms.mem_used_kib[i] if np.isfinite(vms.mem_used_kib[i]) \
                else vms.mem_rss_kib[i]
            cells = [name, QTableWidgetItem(format_value(float(vms.cpu_percent[i]), "%")),
                     QTableWidgetItem(format_bytes(float(used) * KIB)),
                     QTableWidgetItem(format_value(float(vms.disk_rd_bps[i]
                                                         + vms.disk_wr_bps[i]), "B/s")),
                     QTableWidgetItem(format_value(float(vms.net_rx_bps[i]
                                                         + vms.net_tx_bps[i]), "B/s"))]
            for c, item in enumerate(cells):
                table.setItem(r, c, item)

    def _top_clicked(self, row: int, _column: int) -> None:
        item = self.top_table.item(row, 0)
        if item is not None and self.conn_id is not None:
            self.vmActivated.emit(self.conn_id, item.data(Qt.ItemDataRole.UserRole))

    # ---- export ----

    def shown_data(self) -> list[tuple[str, str, str, np.ndarray, np.ndarray]]:
        """(graph, line, unit, times, values) of every line as drawn."""
        out = []
        for spec, curves in zip(self.specs, self.curves):
            for curve_spec, curve in zip(spec.curves, curves):
                t, v = curve.data()
                out.append((spec.title, curve_spec.label, spec.unit, t.copy(), v.copy()))
        return out

    def export_csv(self, path: str) -> int:
        """One row per time stamp, one column per line ("CPU: vCPU 0 (%)"), empty where a
        line has no point; returns the number of rows written."""
        data = [d for d in self.shown_data() if len(d[3])]
        times = np.unique(np.concatenate([d[3] for d in data])) if data else np.empty(0)
        columns = []
        for _title, _label, _unit, t, v in data:
            column = np.full(len(times), np.nan)
            column[np.searchsorted(times, t)] = v
            columns.append(column)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["time"] + [f"{title}: {label} ({unit})"
                                        for title, label, unit, _t, _v in data])
            for r, t in enumerate(times.tolist()):
                stamp = datetime.fromtimestamp(t).isoformat(timespec="seconds")
                writer.writerow([stamp] + ["" if math.isnan(c[r]) else f"{c[r]:.6g}"
                                           for c in columns])
        return len(times)

    def save_png(self, path: str) -> bool:
        return self.graphs.grab().save(path, "PNG")

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export shown data as CSV",
                                              "performance.csv", "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def _ask_save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save graph as PNG", "performance.png",
                                              "PNG images (*.png)")
        if path:
            self.save_png(path)
