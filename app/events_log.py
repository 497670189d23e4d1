"""The Events log: what the hypervisors reported, what connections did, how actions ended.

A table model, newest first, so the Events tab needs no sorting and a new event is one
row inserted at the top. It is bounded: a host that floods events for days must not grow
the process without end, so the oldest rows are dropped past ``max_rows``.

One happening is one row: an action's row is written when it starts and updated in place
as its outcome becomes known ("Shutting down VM web-01…", then "…: shutdown requested",
then "…: shut off"), and a hypervisor event that only completes the one before it can take
that row's place (``remove`` then ``add``), so the log does not tell each story three times.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal

from app import colours
from app.qt_types import AnyIndex

SEVERITIES = ("info", "warning", "error")
COLUMNS = ("Time", "Severity", "Source", "Message")
TIME, SEVERITY, SOURCE, MESSAGE = range(4)

# Roles for views and filters that want the raw values rather than display text.
SEVERITY_ROLE = Qt.ItemDataRole.UserRole + 1   # "info" / "warning" / "error"
CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 2   # "connection", "hypervisor", "action", ...
TIMESTAMP_ROLE = Qt.ItemDataRole.UserRole + 3  # seconds since the epoch (float)
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 4      # the whole Entry

DEFAULT_MAX_ROWS = 10_000

_SEVERITY_COLOURS = {"warning": colours.WARNING, "error": colours.ERROR}


def _severity(value: str) -> str:
    """An unknown severity is kept as "info" rather than lost."""
    severity = str(value).lower()
    return severity if severity in SEVERITIES else "info"


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    timestamp: float
    severity: str
    category: str
    source: str
    message: str


class EventsLog(QAbstractTableModel):
    """``entryAdded(Entry)`` fires after each new row, for anyone tailing the log;
    ``entryUpdated(old, new)`` after a row changed in place."""

    entryAdded = Signal(object)
    entryUpdated = Signal(object, object)

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS, parent: QObject | None = None):
        super().__init__(parent)
        self._max_rows = max(1, max_rows)
        self._entries: deque[Entry] = deque()   # newest at the left: row 0

    # ---- writing ----

    def add(self, severity: str, category: str, source: str, message: str) -> Entry:
        """Records one event now; returns its Entry (for ``update`` and ``remove``)."""
        entry = Entry(time.time(), _severity(severity), str(category), str(source),
                      str(message))
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

    def update(self, entry: Entry, *, severity: str | None = None,
               message: str | None = None) -> Entry:
        """Rewrites one row in place (same time, same position) and returns the new Entry,
        which stands for the row from now on. A row already dropped from the log is not
        brought back; the new Entry is returned all the same."""
        new = Entry(entry.timestamp,
                    entry.severity if severity is None else _severity(severity),
                    entry.category, entry.source,
                    entry.message if message is None else str(message))
        row = self._row_of(entry)
        if row is None:
            return new
        self._entries[row] = new
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        self.entryUpdated.emit(entry, new)
        return new

    def remove(self, entry: Entry) -> bool:
        """Takes one row out; False when it is no longer in the log."""
        row = self._row_of(entry)
        if row is None:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._entries[row]
        self.endRemoveRows()
        return True

    def _row_of(self, entry: Entry) -> int | None:
        # By identity: two events may read the same in the same second. Recent rows are
        # near the top, where the search starts.
        for row, candidate in enumerate(self._entries):
            if candidate is entry:
                return row
        return None

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

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and \
                role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role=Qt.ItemDataRole.DisplayRole):
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
            role_name = _SEVERITY_COLOURS.get(entry.severity)
            return colours.brush(role_name) if role_name is not None else None
        if role == SEVERITY_ROLE:
            return entry.severity
        if role == CATEGORY_ROLE:
            return entry.category
        if role == TIMESTAMP_ROLE:
            return entry.timestamp
        if role == ENTRY_ROLE:
            return entry
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
