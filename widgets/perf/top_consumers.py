"""The server page's "Top consumers" table: the VMs of a host using most of one resource
on the newest tick that sampled every VM; a click selects the VM in the tree.

Its Memory column is what each VM holds *on the host* (its process's resident memory, or
its assigned memory where the hypervisor does not report that): on a server's page the
question is which VMs take the server's memory, not how full each guest is inside (the
tree's Memory column answers that one).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from app.perf.monitor import vm_values
from app.perf.usage import format_bytes
from widgets.perf.specs import format_value

TOP_N = 10
KIB = 1024.0


class TopConsumers(QWidget):
    """``vmActivated(conn_id, key)``: a row was clicked."""

    vmActivated = Signal(str, str)

    def __init__(self, monitor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self.conn_id: str | None = None
        self.by = QComboBox()
        for text, metric in (("CPU", "cpu_percent"), ("Memory on the host", "mem_host_kib"),
                             ("Disk", "disk_bps"), ("Network", "net_bps")):
            self.by.addItem(text, metric)
        self.by.currentIndexChanged.connect(self._by_changed)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("topConsumers")
        self.table.setHorizontalHeaderLabels(["VM", "CPU", "Memory on host", "Disk",
                                              "Network"])
        memory_header = self.table.horizontalHeaderItem(2)
        assert memory_header is not None       # set by setHorizontalHeaderLabels
        memory_header.setToolTip(
            "What the VM holds in the server's memory: its process's resident memory "
            "(RSS), or its assigned memory where the hypervisor does not report that.")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self._clicked)
        row = QHBoxLayout()
        row.addWidget(QLabel("Top consumers by"))
        row.addWidget(self.by)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table)

    def fill(self) -> None:
        if self.conn_id is None:
            return
        tick = self.monitor.full_tick(self.conn_id)
        rows = self.monitor.top_consumers(self.conn_id, self.by.currentData(), TOP_N)
        host = self.monitor.manager.host(self.conn_id)
        table = self.table
        table.setRowCount(len(rows))
        if not rows:
            return
        held = vm_values(tick, "mem_host_kib")
        vms = tick.vms
        for r, (key, _value) in enumerate(rows):
            i = vms.index[key]
            vm = host.vm(key) if host is not None else None
            name = QTableWidgetItem(vm.name if vm is not None else key)
            name.setData(Qt.ItemDataRole.UserRole, key)
            memory = float(held[i]) * KIB if np.isfinite(held[i]) else float("nan")
            cells = [name, QTableWidgetItem(format_value(float(vms.cpu_percent[i]), "%")),
                     QTableWidgetItem(format_bytes(memory)),
                     QTableWidgetItem(format_value(float(vms.disk_rd_bps[i]
                                                         + vms.disk_wr_bps[i]), "B/s")),
                     QTableWidgetItem(format_value(float(vms.net_rx_bps[i]
                                                         + vms.net_tx_bps[i]), "B/s"))]
            for c, item in enumerate(cells):
                table.setItem(r, c, item)

    def _by_changed(self, _index: int) -> None:
        self.fill()

    def _clicked(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None and self.conn_id is not None:
            self.vmActivated.emit(self.conn_id, item.data(Qt.ItemDataRole.UserRole))
