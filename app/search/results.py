"""A search's results as a Qt item model: a flat list, or grouped by host, state, tag or
folder, with the columns the user picked; kept live.

Live: the query is compiled once (``set_query``) and run again when the inventory's
batches change a VM (``LiveSearchIndex.changed``) and, when it asks about CPU or shows
it, after statistics ticks, at most every REFRESH_MS. When the same VMs match in the same
places, only their cells are repainted (one dataChanged per group): the user's selection
and scroll position in the results stay put while figures move. When membership changes,
the model is reset; the view re-selects by key.

By tag, a VM with three tags is listed under each of them (as the tree's tag view does).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt, QTimer, Signal

from app.formatting import human_bytes
from app.qt_types import AnyIndex
from app.search.compile import CompiledQuery, SearchItem, compile_query
from app.search.live import LiveCpu, LiveSearchIndex
from app.search.query import QueryError
from app.search.saved import DEFAULT_COLUMNS, GROUPINGS
from connectors.libvirt.model import VMInfo

REFRESH_MS = 250
SORT_ROLE = Qt.ItemDataRole.UserRole + 20
KEY_ROLE = Qt.ItemDataRole.UserRole + 21    # (conn_id, VM key); None on a group row


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[SearchItem, float], str]
    sort: Callable[[SearchItem, float], Any]


def os_label(vm: VMInfo) -> str:
    """"debian/12 (hvm x86_64)": libosinfo's id without its site, then the OS type."""
    kind = f"{vm.os_type} {vm.arch}".strip()
    if not vm.os_id:
        return kind
    short = vm.os_id.split("://", 1)[-1].split("/", 1)[-1]
    return f"{short} ({kind})" if kind else short


def _cpu_text(cpu: float) -> str:
    return "" if math.isnan(cpu) else f"{cpu:.0f} %"


COLUMNS: dict[str, Column] = {
    "name": Column("Name", lambda i, c: i.vm.name, lambda i, c: i.name),
    "state": Column("State", lambda i, c: i.vm.state.label, lambda i, c: i.vm.state.label),
    "host": Column("Server", lambda i, c: i.host, lambda i, c: i.host.casefold()),
    "cpu": Column("CPU", lambda i, c: _cpu_text(c), lambda i, c: -1.0 if math.isnan(c) else c),
    "mem": Column("Memory", lambda i, c: human_bytes(i.vm.memory_kib * 1024),
                  lambda i, c: i.vm.memory_kib),
    "vcpus": Column("vCPUs", lambda i, c: str(i.vm.vcpus), lambda i, c: i.vm.vcpus),
    "tags": Column("Tags", lambda i, c: ", ".join(i.vm.tags),
                   lambda i, c: ",".join(sorted(i.tags))),
    "folder": Column("Folder", lambda i, c: i.vm.folder, lambda i, c: i.folder),
    "os": Column("OS", lambda i, c: os_label(i.vm), lambda i, c: i.os_text),
    "desc": Column("Description", lambda i, c: i.vm.description.split("\n", 1)[0],
                   lambda i, c: i.description),
}
GROUP_TITLES = {"": "Flat list", "host": "Server", "state": "State", "tag": "Tag",
                "folder": "Folder"}
NO_TAG, NO_FOLDER = "(no tag)", "(no folder)"


def _groups_of(item: SearchItem, group_by: str) -> list[str]:
    vm = item.vm
    if group_by == "host":
        return [item.host]
    if group_by == "state":
        return [vm.state.label]
    if group_by == "tag":
        return list(dict.fromkeys(vm.tags)) or [NO_TAG]
    return [vm.folder or NO_FOLDER]


class SearchResults(QAbstractItemModel):
    """``resultsChanged(count)`` after each run (count of matching VMs);
    ``queryFailed(QueryError)`` when ``set_query`` gets a malformed query (the previous
    results stay)."""

    resultsChanged = Signal(int)
    queryFailed = Signal(object)

    def __init__(self, live: LiveSearchIndex, cpu: LiveCpu, parent: QObject | None = None,
                 ticked: Any = None) -> None:
        super().__init__(parent)
        self.live = live
        self.cpu = cpu
        self.query: CompiledQuery = compile_query("", cpu)
        self.group_by = ""
        self.columns: list[str] = list(DEFAULT_COLUMNS)
        self._groups: list[tuple[str, list[SearchItem]]] = []   # grouped
        self._items: list[SearchItem] = []                        # flat
        self._count = 0
        # Hidden (its tab not shown): changes are only noted, and run once when shown.
        self._active = True
        self._stale = False
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        live.changed.connect(self._changed)
        if ticked is not None:      # PerfMonitor.ticked: CPU figures moved
            ticked.connect(self._ticked)

    # ---- what to show ----

    def set_query(self, text: str) -> QueryError | None:
        """Compiles and runs ``text``; the error (also emitted) when it is malformed."""
        try:
            query = compile_query(text, self.cpu)
        except QueryError as exc:
            self.queryFailed.emit(exc)
            return exc
        self.query = query
        self.refresh()
        return None

    def set_group_by(self, group_by: str) -> None:
        if group_by not in GROUPINGS:
            raise ValueError(f"cannot group by {group_by!r}")
        if group_by != self.group_by:
            self.group_by = group_by
            self.refresh(force_reset=True)

    def set_columns(self, columns: list[str]) -> None:
        columns = [c for c in columns if c in COLUMNS] or ["name"]
        if columns != self.columns:
            self.beginResetModel()
            self.columns = columns
            self.endResetModel()

    def count(self) -> int:
        return self._count

    def items(self) -> list[SearchItem]:
        """The matching VMs, each once, in the order shown (first appearance)."""
        if not self.group_by:
            return list(self._items)
        seen: dict[tuple[str, str], SearchItem] = {}
        for _title, items in self._groups:
            for item in items:
                seen.setdefault(item.key, item)
        return list(seen.values())

    def item(self, index: AnyIndex) -> SearchItem | None:
        if not index.isValid():
            return None
        parent_id = index.internalId()
        if not self.group_by:
            return self._items[index.row()] if index.row() < len(self._items) else None
        if parent_id == 0:
            return None
        items = self._groups[parent_id - 1][1]
        return items[index.row()] if index.row() < len(items) else None

    def group_title(self, index: AnyIndex) -> str | None:
        if not index.isValid() or not self.group_by or index.internalId() != 0:
            return None
        return self._groups[index.row()][0]

    # ---- running ----

    def set_active(self, active: bool) -> None:
        """Shown or not: a hidden search does not run on every change (10,000 VMs)."""
        self._active = active
        if active and self._stale:
            self.refresh()

    def _changed(self) -> None:
        if not self._active:
            self._stale = True
        elif not self._timer.isActive():
            self._timer.start()

    def _ticked(self, _conn_id: str) -> None:
        if self.query.uses_cpu or "cpu" in self.columns:
            self._changed()

    def refresh(self, force_reset: bool = False) -> None:
        self._timer.stop()
        self._stale = False
        matches = self.live.index.search(self.query)
        matches.sort(key=lambda i: (i.name, i.host.casefold(), i.vm.key))
        if self.group_by:
            buckets: dict[str, list[SearchItem]] = {}
            for item in matches:
                for title in _groups_of(item, self.group_by):
                    buckets.setdefault(title, []).append(item)
            groups = sorted(buckets.items(), key=lambda g: (g[0].startswith("("),
                                                             g[0].casefold()))
            same = not force_reset and [(t, [i.key for i in items]) for t, items in groups] \
                == [(t, [i.key for i in items]) for t, items in self._groups]
            if same:
                self._groups = groups
                self._cells_changed()
            else:
                self.beginResetModel()
                self._groups, self._items = groups, []
                self.endResetModel()
        else:
            same = not force_reset and [i.key for i in matches] == \
                [i.key for i in self._items]
            if same:
                self._items = matches
                self._cells_changed()
            else:
                self.beginResetModel()
                self._items, self._groups = matches, []
                self.endResetModel()
        self._count = len(matches)
        self.resultsChanged.emit(self._count)

    def _cells_changed(self) -> None:
        last = len(self.columns) - 1
        if not self.group_by:
            if self._items:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, last))
            return
        for row, (_title, items) in enumerate(self._groups):
            parent = self.index(row, 0)
            self.dataChanged.emit(self.index(0, 0, parent), self.index(len(items) - 1, last,
                                                                       parent))

    # ---- QAbstractItemModel ----

    def index(self, row: int, column: int = 0, parent: AnyIndex = QModelIndex()
              ) -> QModelIndex:
        if row < 0 or not 0 <= column < len(self.columns):
            return QModelIndex()
        if not parent.isValid():
            if row >= (len(self._groups) if self.group_by else len(self._items)):
                return QModelIndex()
            return self.createIndex(row, column, 0)
        if not self.group_by or parent.internalId() != 0 or \
                row >= len(self._groups[parent.row()][1]):
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, child: AnyIndex | None = None) -> Any:
        """Qt's two methods of one name: the QObject's owner, or an index's parent row."""
        if child is None:
            return QObject.parent(self)
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, 0)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        if not parent.isValid():
            return len(self._groups) if self.group_by else len(self._items)
        if self.group_by and parent.internalId() == 0 and parent.column() == 0:
            return len(self._groups[parent.row()][1])
        return 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.columns):
            return COLUMNS[self.columns[section]].title
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        title = self.group_title(index)
        if title is not None:
            if role == Qt.ItemDataRole.DisplayRole and index.column() == 0:
                return f"{title} ({len(self._groups[index.row()][1])})"
            if role == SORT_ROLE:
                return title.casefold() if index.column() == 0 else ""
            return None
        item = self.item(index)
        if item is None:
            return None
        if role == KEY_ROLE:
            return item.key
        if role not in (Qt.ItemDataRole.DisplayRole, SORT_ROLE, Qt.ItemDataRole.ToolTipRole):
            return None
        column = COLUMNS[self.columns[index.column()]]
        cpu = self.cpu(item) if self.columns[index.column()] == "cpu" else math.nan
        if role == SORT_ROLE:
            return column.sort(item, cpu)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.vm.name} on {item.host}" if index.column() == 0 else None
        return column.text(item, cpu)
