"""The Performance tab: live and historical graphs of the selected VM or server.

What each graph shows is in widgets/perf/specs.py, a graph in chart.py, the points of a
line (history joined to the live buffers, gaps drawn as gaps) in series.py, the hover
read-out in readout.py, the server's top consumers in top_consumers.py. This module
chooses what is on show and redraws it.

Why it stays cheap at scale: it redraws only while visible and not paused, once per tick
of the selected host, and makes its graphs (and loads pyqtgraph for them) only once it is
first shown, not while the window starts with another tab in front; each line owns
preallocated arrays handed to setData; history reads
(SQLite) run in a worker thread and are cached for a while, the live ring buffers add the
newest ticks on top.

The hover read-out belongs to the pointer: it is emptied when the pointer leaves a graph
and when another object is shown (a host's memory figures stayed above a VM's graphs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import time

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                               QMessageBox, QPushButton, QSplitter, QStackedWidget,
                               QVBoxLayout, QWidget)

from app.inventory import NodeKind
from connectors.atomic_file import write_failure
from widgets.perf.export import write_csv
from widgets.perf.grid import ChartGrid
from widgets.perf.readout import readout
from widgets.perf.series import HistoryCache
from widgets.perf.specs import GraphSpec, host_graphs, vm_graphs
from widgets.perf.top_consumers import TopConsumers

if TYPE_CHECKING:
    from widgets.perf.chart import Chart

RANGES = (("Last 10 minutes", 600.0), ("Last hour", 3600.0), ("Last day", 86400.0),
          ("Last week", 7 * 86400.0))


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
        self.charts: list[Chart] = []
        self._pool: dict[tuple[str, str], Chart] = {}
        self.history = HistoryCache(monitor, self._history_loaded)
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

        self.readout = QLabel("")
        self.readout.setObjectName("perfReadout")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setMinimumHeight(self.readout.fontMetrics().height() + 4)
        self.grid = ChartGrid()
        self.top = TopConsumers(self.monitor)
        self.top.vmActivated.connect(self.vmActivated)
        self.top_box, self.top_table, self.top_by = self.top, self.top.table, self.top.by

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.grid)
        split.addWidget(self.top)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([3000, 1000])    # the graphs first; the table below gets a quarter

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

    @property
    def plots(self) -> list:
        return [chart.plot for chart in self.charts]

    @property
    def curves(self) -> list:
        return [chart.curves for chart in self.charts]

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
        self.clear_hover()
        # What is on show is sampled every tick even on a host with thousands of VMs.
        self.monitor.set_hot("performance tab", [key] if key is not None else [])
        self.monitor.set_hot_hosts("performance tab",
                                   [conn_id] if conn_id is not None and key is None else [])
        self.history.clear()
        self.top.conn_id = conn_id if key is None else None
        if conn_id is None:
            self.stack.setCurrentIndex(0)
            self.specs = []
            return
        self.stack.setCurrentIndex(1)
        self.top.setVisible(key is None)
        self._update_boxes()
        self._watch()
        if self.isVisible():    # else at the first show (showEvent → refresh)
            self._set_specs(self._wanted_specs())
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

    def _vm_devices(self) -> tuple[bool, bool]:
        """(has disks, has NICs) of the VM shown (both when its record is unknown)."""
        host = self.monitor.manager.host(self.conn_id)
        vm = host.vm(self.key) if host is not None and self.key is not None else None
        return (vm is None or bool(vm.disks), vm is None or bool(vm.nics))

    def _update_boxes(self) -> None:
        """"Per vCPU/disk/NIC" for a VM (disk and NIC only when it has any), "Per core"
        for a server."""
        is_vm = self.key is not None
        has_disks, has_nics = self._vm_devices() if is_vm else (False, False)
        self.vcpu_box.setVisible(is_vm)
        self.disk_box.setVisible(has_disks)
        self.nic_box.setVisible(has_nics)
        self.core_box.setVisible(not is_vm)

    def _wanted_specs(self) -> list[GraphSpec]:
        if self.conn_id is None:
            return []
        if self.key is None:
            return host_graphs(self.monitor, self.conn_id, self.core_box.isChecked())
        has_disks, has_nics = self._vm_devices()
        return vm_graphs(self.monitor, self.conn_id, self.key, self.vcpu_box.isChecked(),
                         self.disk_box.isChecked(), self.nic_box.isChecked(),
                         has_disks=has_disks, has_nics=has_nics)

    def _set_specs(self, specs: list[GraphSpec]) -> None:
        """Charts for ``specs``: one chart per title for the tab's whole life, made when
        first needed (switching objects re-uses them; a chart keeps its unchanged lines).
        Never deleting a pyqtgraph widget also keeps its Python-side items from being
        freed after Qt deleted them."""
        from widgets.perf.chart import Chart     # pyqtgraph: loaded with the first graph

        charts = []
        for spec in specs:
            chart = self._pool.get((spec.title, spec.unit))
            if chart is None:
                chart = self._pool[(spec.title, spec.unit)] = Chart(spec)
                chart.hovered.connect(self._hovered)
                chart.unhovered.connect(self.clear_hover)
                chart.plot.vb.sigRangeChangedManually.connect(self._user_moved)
            elif chart.spec != spec:
                chart.set_spec(spec)
            charts.append(chart)
        if charts:
            charts[0].plot.setXLink(None)
            for chart in charts[1:]:
                chart.plot.setXLink(charts[0].plot)
        self.specs = list(specs)
        self.charts = charts
        self.grid.set_charts(charts)

    # ---- updating ----

    def _ticked(self, conn_id: str) -> None:
        if conn_id == self.conn_id and not self.paused and self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self.paused:
            self.refresh()

    def refresh(self) -> None:
        """Redraws every graph from the buffers and the cached history now (a tab never
        shown yet has no graphs: its first show draws them)."""
        if self.conn_id is None or (not self._pool and not self.isVisible()):
            return
        wanted = self._wanted_specs()
        if wanted != self.specs:
            # A vCPU/disk/core appeared, a box was ticked, a disk or NIC was added.
            self._set_specs(wanted)
            self._update_boxes()
        now = time.time()
        t_from = now - self.range_s
        self.history.maybe_load(self.conn_id, self.key, self.range_s,
                                self._metrics_shown(), now)
        for chart in self.charts:
            top = 0.0
            for curve in chart.curves:
                t, v = self.history.points(self.conn_id, self.key, curve.spec,
                                           self.range_s, t_from)
                curve.show(t, v)
                if len(v) and np.isfinite(v).any():
                    top = max(top, float(np.nanmax(v)))
            chart.fit_y(top)
        if not self.paused and self.charts:
            self.charts[0].plot.setXRange(t_from, now, padding=0)
        if self.key is None:
            self.top.fill()

    def _metrics_shown(self) -> list[str]:
        return [c.metric for s in self.specs for c in s.curves if c.metric is not None]

    def history_ready(self) -> bool:
        """Every line shown has its history for the current range (tests, export)."""
        if self.conn_id is None:
            return True
        return self.history.ready(self.conn_id, self.key, self.range_s,
                                  self._metrics_shown())

    def _history_loaded(self) -> None:
        if not self.paused:
            self.refresh()

    def _range_changed(self, _index: int) -> None:
        self.history.clear()
        self.clear_hover()
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

    def _hovered(self, chart: Chart, x: float) -> None:
        if chart not in self.charts:
            return
        self.readout.setText(self.readout_at(self.charts.index(chart), x))
        for each in self.charts:
            each.show_hover(x)

    def clear_hover(self) -> None:
        self.readout.setText("")
        for chart in self.charts:
            chart.show_hover(None)

    def readout_at(self, graph: int, x: float) -> str:
        """"CPU at 12:03:04 — CPU: 41.0 %, vCPU 0: no data": every line at one instant."""
        chart = self.charts[graph]
        lines = [(c.spec.label, *c.data()) for c in chart.curves]
        interval = self.monitor.interval_s
        reach = 1.5 * max(interval, self.monitor.history_step(self.range_s))
        return readout(chart.spec.title, chart.spec.unit, lines, x,
                       tolerance=0.25 * interval, reach=reach)

    # ---- export ----

    def shown_data(self) -> list[tuple[str, str, str, np.ndarray, np.ndarray]]:
        """(graph, line, unit, times, values) of every line as drawn."""
        out = []
        for chart in self.charts:
            for curve in chart.curves:
                t, v = curve.data()
                out.append((chart.spec.title, curve.spec.label, chart.spec.unit, t.copy(),
                            v.copy()))
        return out

    def export_csv(self, path: str) -> int:
        """One row per time stamp, one column per line; returns the rows written."""
        return write_csv(path, self.shown_data())

    def save_png(self, path: str) -> bool:
        """Every chart, also those scrolled out of view."""
        return self.grid.inner.grab().save(path, "PNG")

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export shown data as CSV",
                                              "performance.csv", "CSV files (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                QMessageBox.warning(self, "Export CSV",
                                    write_failure("the exported data", path, exc))

    def _ask_save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save graph as PNG", "performance.png",
                                              "PNG images (*.png)")
        if path:
            self.save_png(path)
