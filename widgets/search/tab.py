"""The Search tab: the query bar, how results are shown (flat or grouped, which columns),
the results themselves, live, and saving the search.

The results follow the inventory and the CPU figures as they change (app/search/results.py);
the selection in them is kept by VM across a change of who matches. Enter or a
double-click on a result selects that VM in the tree (``vmChosen``).
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (QItemSelectionModel, QModelIndex, QPoint, QSortFilterProxyModel,
                            Qt, Signal)
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QMenu,
                               QPushButton, QToolButton, QTreeView, QVBoxLayout, QWidget)

from app import colours
from app.inventory import Node
from app.search.query import QueryError
from app.search.results import COLUMNS, GROUP_TITLES, KEY_ROLE, SORT_ROLE, SearchResults
from app.search.saved import GROUPINGS, SavedSearch
from widgets.appearance import follow_scheme
from widgets.search.query_bar import QueryBar
from widgets.search.result_actions import fill_menu

DEFAULT_WIDTHS = {"name": 220, "state": 110, "host": 140, "cpu": 70, "mem": 90, "vcpus": 60,
                  "tags": 160, "folder": 140, "os": 120, "desc": 240}
GROUP_LABELS = {"": "Flat list", "host": "By server", "state": "By state", "tag": "By tag",
                "folder": "By folder"}
assert set(GROUP_LABELS) == set(GROUP_TITLES)


class SearchTab(QWidget):
    """``vmChosen(conn_id, key)``; ``saveRequested()``: the Save button."""

    vmChosen = Signal(str, str)
    saveRequested = Signal()

    def __init__(self, results: SearchResults, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchTab")
        self.results = results
        self.opened_name = ""       # the saved search shown, "" for an unsaved one
        self.query_bar = QueryBar(lambda: results.live.index, self)
        self.query_bar.queryChanged.connect(self._run)
        self.group_box = QComboBox(self)
        self.group_box.setObjectName("searchGroupBy")
        for grouping in GROUPINGS:
            self.group_box.addItem(GROUP_LABELS[grouping], grouping)
        self.group_box.currentIndexChanged.connect(self._group_chosen)
        self.columns_button = QToolButton(self)
        self.columns_button.setText("Columns")
        self.columns_button.setToolTip("Choose the columns of the results")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_menu = QMenu(self.columns_button)
        self.column_actions: dict[str, QAction] = {}
        for column_id, column in COLUMNS.items():
            action = self.columns_menu.addAction(column.title)
            action.setCheckable(True)
            action.setChecked(column_id in results.columns)
            action.toggled.connect(self._columns_chosen)
            self.column_actions[column_id] = action
        self.columns_button.setMenu(self.columns_menu)
        self.act_button = QToolButton(self)
        self.act_button.setObjectName("searchActOnResults")
        self.act_button.setText("Act on Results")
        self.act_button.setToolTip("Run a VM command on every VM found (or right-click "
                                   "selected results)")
        self.act_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.act_menu = QMenu(self.act_button)
        self.act_button.setMenu(self.act_menu)
        self.act_button.setEnabled(False)
        self._commands: list = []
        self._node_of: Callable[[tuple[str, str]], Node | None] = lambda key: None
        self._node_name: Callable[[Node], str] = lambda node: node.name
        self.act_menu.aboutToShow.connect(self._fill_act_menu)
        self.save_button = QPushButton("&Save Search…", self)
        self.save_button.clicked.connect(self.saveRequested)

        self.status = QLabel(self)
        self.status.setObjectName("searchStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._error_shown = False
        follow_scheme(self.status, self._style_status)

        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSortRole(SORT_ROLE)
        # Sorted by a column, rows stay put while their figures move (every CPU tick
        # would re-sort 10,000 rows and make the row under the pointer jump); they take
        # their places again when who matches changes, or on a header click.
        self.proxy.setDynamicSortFilter(False)
        self.proxy.setSourceModel(results)
        self.view = QTreeView(self)
        self.view.setObjectName("searchResults")
        self.view.setModel(self.proxy)
        self.view.setUniformRowHeights(True)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)   # the model's order
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAllColumnsShowFocus(True)
        self.view.activated.connect(self._activated)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self._kept: list[tuple[str, str]] = []
        self._widths: dict[str, int] = {}       # by column id: kept across resets
        results.modelAboutToBeReset.connect(self._remember_selection)
        results.modelReset.connect(self._after_reset)
        results.resultsChanged.connect(self._show_count)
        results.queryFailed.connect(self._show_error)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.query_bar, 1)
        bar.addWidget(self.group_box)
        bar.addWidget(self.columns_button)
        bar.addWidget(self.act_button)
        bar.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        self._after_reset()
        self._show_count(results.count())

    # ---- what the user asks ----

    def _run(self, text: str) -> None:
        self.query_bar.mark_error(None)
        error = self.results.set_query(text)
        if error is not None:
            self.query_bar.mark_error(error.position)

    def _group_chosen(self, _row: int) -> None:
        self.results.set_group_by(self.group_box.currentData())

    def _columns_chosen(self, _checked: bool) -> None:
        chosen = [c for c, action in self.column_actions.items() if action.isChecked()]
        self.results.set_columns(chosen)

    def open_search(self, search: SavedSearch) -> None:
        """Shows a saved search: its query, grouping and columns."""
        self.opened_name = search.name
        for column_id, action in self.column_actions.items():
            action.blockSignals(True)
            action.setChecked(column_id in search.columns)
            action.blockSignals(False)
        self.results.set_columns(list(search.columns))
        self.group_box.setCurrentIndex(max(0, self.group_box.findData(search.group_by)))
        self.query_bar.set_query(search.query)

    def current_search(self, name: str = "") -> SavedSearch:
        return SavedSearch(name or self.opened_name, self.results.query.text,
                           self.results.group_by, tuple(self.results.columns))

    def focus_query(self) -> None:
        self.query_bar.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.query_bar.selectAll()

    # ---- acting on the results (widgets/search/result_actions.py) ----

    def set_commands(self, commands: list, node_of: Callable[[tuple[str, str]], Node | None],
                     node_name: Callable[[Node], str]) -> None:
        """``commands``: the VM menu's (None: a separator); ``node_of(key)`` the tree's
        node of a result (None once gone)."""
        self._commands, self._node_of, self._node_name = commands, node_of, node_name
        self.act_button.setEnabled(bool(commands) and self.results.count() > 0)

    def _nodes(self, keys: list[tuple[str, str]]) -> list[Node]:
        return [node for node in map(self._node_of, keys) if node is not None]

    def result_nodes(self) -> list[Node]:
        return self._nodes([item.key for item in self.results.items()])

    def selected_nodes(self) -> list[Node]:
        return self._nodes(self.selected_keys())

    def _fill_act_menu(self) -> None:
        fill_menu(self.act_menu, self._commands, self.result_nodes, self._node_name)

    def _context_menu(self, pos: QPoint) -> None:
        if not self._commands or not self.selected_keys():
            return
        menu = QMenu(self)
        fill_menu(menu, self._commands, self.selected_nodes, self._node_name)
        self.last_context_menu = menu
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # ---- what it shows ----

    def _show_count(self, count: int) -> None:
        self.act_button.setEnabled(bool(self._commands) and count > 0)
        if self.query_bar.property("invalid"):
            return
        if self._error_shown:
            self._error_shown = False
            self._style_status()
        what = "VM matches" if count == 1 else "VMs match"
        query = self.results.query.text.strip()
        text = (f"{count} {what} “{query}”." if query else
                f"{count} {'VM' if count == 1 else 'VMs'} in all. Type a query above: "
                "name:, tag:, folder:, state:, host:, os:, cpu>50, mem>2G, AND, OR, NOT.")
        asked = self.results.query.custom_fields
        known = {name.casefold() for name in self.results.live.index.custom_field_names()
                 } if asked else set()
        unknown = sorted(f for f in asked if f not in known)
        if unknown:
            # A typo of a field name ("stae:running") finds nothing, silently otherwise.
            text += " No VM has a field called " + ", ".join(f"“{f}”" for f in unknown) + "."
        self.status.setText(text)

    def _style_status(self) -> None:
        """A malformed query's sentence in the scheme's error colour (light or dark)."""
        self.status.setStyleSheet(colours.style(colours.ERROR) if self._error_shown else "")

    def _show_error(self, error: QueryError) -> None:
        self._error_shown = True
        self._style_status()
        self.status.setText(f"Column {error.position + 1}: {error.message}. "
                            f"(Results of “{self.results.query.text}” are shown.)")

    def shown_rows(self) -> list[list[str]]:
        """Every row as its cells' text, in view order (group rows have their title)."""
        rows: list[list[str]] = []

        def walk(parent: QModelIndex) -> None:
            for row in range(self.proxy.rowCount(parent)):
                rows.append([self.proxy.index(row, c, parent).data() or ""
                             for c in range(self.proxy.columnCount())])
                walk(self.proxy.index(row, 0, parent))
        walk(QModelIndex())
        return rows

    def selected_keys(self) -> list[tuple[str, str]]:
        """The selected results' VMs; a selected group row stands for all its VMs."""
        keys = []
        for index in self.view.selectionModel().selectedRows(0):
            key = index.data(KEY_ROLE)
            if key is not None:
                keys.append(key)
            else:
                keys += [self.proxy.index(row, 0, index).data(KEY_ROLE)
                         for row in range(self.proxy.rowCount(index))]
        return list(dict.fromkeys(k for k in keys if k is not None))

    def column_widths(self) -> dict[str, int]:
        return dict(self._widths)

    def set_column_widths(self, widths: dict[str, int]) -> None:
        self._widths.update(widths)
        self._restore_widths()

    def remember_widths(self) -> None:
        """Notes the columns' widths as the user left them."""
        header = self.view.header()
        for section in range(header.count()):
            column_id = self._column_ids[section] if section < len(self._column_ids) else ""
            if column_id:
                self._widths[column_id] = header.sectionSize(section)

    def _remember_selection(self) -> None:
        self._kept = self.selected_keys() or self._kept
        self.remember_widths()

    _column_ids: list[str] = []

    def _restore_widths(self) -> None:
        """A reset (who matches changed, or the columns) would give every column Qt's
        default width: the user's widths, or ours, come back."""
        self._column_ids = list(self.results.columns)
        header = self.view.header()
        for section, column_id in enumerate(self._column_ids):
            header.resizeSection(section, self._widths.get(column_id,
                                                           DEFAULT_WIDTHS[column_id]))

    def _after_reset(self) -> None:
        self._restore_widths()
        grouped = bool(self.results.group_by)
        self.view.setRootIsDecorated(grouped)
        if grouped:
            self.view.expandAll()
        kept, self._kept = self._kept, []
        if not kept:
            return
        wanted = set(kept)
        flags = QItemSelectionModel.SelectionFlag
        model = self.view.selectionModel()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            children = [self.proxy.index(r, 0, index) for r in range(self.proxy.rowCount(index))]
            for candidate in children or [index]:
                if candidate.data(KEY_ROLE) in wanted:
                    model.select(candidate, flags.Select | flags.Rows)

    def _activated(self, index: QModelIndex) -> None:
        key = index.data(KEY_ROLE)
        if key is not None:
            self.vmChosen.emit(*key)
