"""The Events log: what the hypervisors reported, what connections did, how actions ended.

A table model, newest first, so the Events tab needs no sorting and a new event is one
row inserted at the top. It is bounded: a host that floods events for days must not grow
the process without end, so the oldest rows are dropped past ``max_rows``.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor

SEVERITIES = ("info", "warning", "error")
COLUMNS = ("Time", "Severity", "Source", "Message")
TIME, SEVERITY, SOURCE, MESSAGE = range(4)

# Roles for views and filters that want the raw values rather than display text.
SEVERITY_ROLE = Qt.ItemDataRole.UserRole + 1   # "info" / "warning" / "error"
CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 2   # "connection", "hypervisor", "action", ...
TIMESTAMP_ROLE = Qt.ItemDataRole.UserRole + 3  # seconds since the epoch (float)
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 4      # the whole Entry

DEFAULT_MAX_ROWS = 10_000

_SEVERITY_COLOURS = {"warning": QColor("#8a5a00"), "error": QColor("#c62828")}


@dataclass(frozen=True, slots=True)
class Entry:
    timestamp: float
    severity: str
    category: str
    source: str
    message: str


class EventsLog(QAbstractTableModel):
    """``entryAdded(Entry)`` fires after each new row, for anyone tailing the log."""

    entryAdded = Signal(object)

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS, parent: QObject | None = None):
        super().__init__(parent)
        self._max_rows = max(1, max_rows)
        self._entries: deque[Entry] = deque()   # newest at the left: row 0

    # ---- writing ----

    def add(self, severity: str, category: str, source: str, message: str) -> Entry:
        """Records one event now. An unknown severity is kept as "info" rather than lost."""
        severity = str(severity).lower()
        if severity not in SEVERITIES:
            severity = "info"
        entry = Entry(time.time(), severity, str(category), str(source), str(message))
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._entries.appendleft(entry)
        self.endInsertRows()
        excess = len(self._entries) - self._max_rows
        if excess > 0:
            first = len(self._entries) - excess
            self.beginRemoveRows(QModelIndex(), first, len(self._entries) - 1)
            for _ in range(excess):
                self._entries.pop()
            self.endRemoveRows()
        self.entryAdded.emit(entry)
        return entry

    def clear(self) -> None:
        self.beginResetModel()
        self._entries.clear()
        self.endResetModel()

    # ---- reading ----

    @property
    def max_rows(self) -> int:
        return self._max_rows

    def entries(self) -> list[Entry]:
        """Every entry, newest first."""
        return list(self._entries)

    def entry(self, row: int) -> Entry:
        return self._entries[row]

    # ---- QAbstractTableModel ----

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and \
                role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == TIME:
                return time.strftime("%H:%M:%S", time.localtime(entry.timestamp))
            if column == SEVERITY:
                return entry.severity.capitalize()
            if column == SOURCE:
                return entry.source
            if column == MESSAGE:
                return entry.message
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == TIME:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.timestamp))
            if column == SEVERITY:
                return f"{entry.severity.capitalize()} ({entry.category})"
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column in (SEVERITY, MESSAGE):
            colour = _SEVERITY_COLOURS.get(entry.severity)
            return QBrush(colour) if colour is not None else None
        if role == SEVERITY_ROLE:
            return entry.severity
        if role == CATEGORY_ROLE:
            return entry.category
        if role == TIMESTAMP_ROLE:
            return entry.timestamp
        if role == ENTRY_ROLE:
            return entry
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
