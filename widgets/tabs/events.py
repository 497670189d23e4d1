"""The Events tab: what happened, newest first, filterable by words and by severity."""
from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView,
                               QLineEdit, QMenu, QTableView, QVBoxLayout, QWidget)

SEVERITY_CHOICES = [("All events", None),
                    ("Warnings and errors", {"warning", "error"}),
                    ("Errors", {"error"})]


def _column(model, name: str) -> int:
    for col in range(model.columnCount()):
        title = model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        if str(title).lower() == name:
            return col
    return -1


class EventsFilter(QSortFilterProxyModel):
    """Matches the words against every column and keeps only the chosen severities."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._words: list[str] = []
        self._severities: set[str] | None = None
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_severities(self, severities: set[str] | None) -> None:
        self.beginFilterChange()
        self._severities = severities
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        value = super().data(index, role)
        if role == Qt.ItemDataRole.ToolTipRole and not value:
            text = super().data(index, Qt.ItemDataRole.DisplayRole)
            if text:
                # rich text makes Qt wrap long messages instead of one endless line
                escaped = str(text).replace("&", "&amp;").replace("<", "&lt;")
                return f"<p style='white-space:pre-wrap'>{escaped}</p>"
        return value

    def filterAcceptsRow(self, row, parent) -> bool:
        model = self.sourceModel()
        cells = [str(model.index(row, c, parent).data(Qt.ItemDataRole.DisplayRole) or "")
                 for c in range(model.columnCount(parent))]
        if self._severities is not None:
            col = _column(model, "severity")
            if col >= 0 and cells[col].lower() not in self._severities:
                return False
        text = " ".join(cells).lower()
        return all(word in text for word in self._words)


class EventsTab(QWidget):
    def __init__(self, events_log, parent: QWidget | None = None):
        super().__init__(parent)
        self.proxy = EventsFilter(self)
        self.proxy.setSourceModel(events_log)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter events…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.severity = QComboBox()
        for label, severities in SEVERITY_CHOICES:
            self.severity.addItem(label, severities)
        self.severity.currentIndexChanged.connect(
            lambda i: self.proxy.set_severities(self.severity.itemData(i)))

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for col in range(self.proxy.columnCount()):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        message = _column(events_log, "message")
        if message >= 0:
            header.setSectionResizeMode(message, QHeaderView.ResizeMode.Stretch)

        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.severity)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)

    def copy_selected(self) -> str:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedIndexes()})
        text = "\n".join(
            "\t".join(str(self.proxy.index(r, c).data() or "")
                      for c in range(self.proxy.columnCount()))
            for r in rows)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def _menu(self, pos) -> None:
        menu = QMenu(self)
        menu.addAction("Copy", self.copy_selected)
        menu.exec(self.table.viewport().mapToGlobal(pos))
