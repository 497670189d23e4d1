"""Fixed DHCP answers (MAC → address, name) as an editable table, for the New Network
wizard and the DHCP editor of an existing network."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from connectors.libvirt.net_xml import StaticHost


class StaticHostsEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("staticHosts")
        self.table.setHorizontalHeaderLabels(["MAC address", "IP address", "Host name"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button = QPushButton("&Add Host")
        self.remove_button = QPushButton("&Remove Host")
        self.add_button.clicked.connect(lambda: self.add_host(StaticHost("", "")))
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def add_host(self, host: StaticHost) -> None:
        row = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.insertRow(row)
        for column, text in enumerate((host.mac, host.ip, host.name)):
            self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.blockSignals(False)
        self.table.setCurrentCell(row, 0)
        self.changed.emit()

    def set_hosts(self, hosts: tuple[StaticHost, ...]) -> None:
        self.table.setRowCount(0)
        for host in hosts:
            self.add_host(host)

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        self.changed.emit()

    def hosts(self) -> tuple[StaticHost, ...]:
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return item.text().strip() if item is not None else ""
        return tuple(StaticHost(text(r, 0), text(r, 1), text(r, 2))
                     for r in range(self.table.rowCount())
                     if any(text(r, c) for c in range(3)))
