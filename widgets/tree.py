"""The inventory tree: hosts, their VMs, networks and storage, filtered by the filter box.

The view shows the app's filter proxy and never holds hypervisor state itself. What it
adds: multi-selection reported as a list of inventory nodes, a context menu made from the
very QActions of the main menus (so enabling, text and shortcuts agree everywhere), hosts
expanded when they connect, and a selection that survives the inventory's batches.

Filtering does not change what is selected: a selected VM the filter hides stays the
selection (the tabs keep showing it, its console stays open) and is selected again in the
tree when it shows again; only a click elsewhere changes the selection. With nothing
matching, the tree says so instead of going blank.

Keys: Enter (or a double-click) activates a row (``nodeActivated``: the window opens a
VM's console); Alt+Enter is left alone (kept for a Properties dialog). VMs dragged onto
another host migrate (``enable_vm_drag``, widgets/tree_drag.py).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import (QItemSelectionModel, QModelIndex, QPersistentModelIndex,
                            QPoint, QRect, Qt, QTimer, Signal)
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QMenu, QTreeView,
                               QWidget)

from app.inventory import (CPU_COLUMN, MEMORY_COLUMN, NODE_ROLE, InventoryFilterProxy,
                           InventoryModel, NodeKind)
from app.inventory.grouped import GROUP_PATH_ROLE, GroupedModel
from app.qt_types import AnyIndex

MenuBuilder = Callable[[list], list[QAction | None]]


class InventoryTree(QTreeView):
    """Emits ``selectionChangedNodes(list[Node])`` whenever the selected objects change,
    ``nodeActivated(Node)`` on Enter or a double-click."""

    selectionChangedNodes = Signal(list)
    nodeActivated = Signal(object)

    def __init__(self, proxy: InventoryFilterProxy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._proxy = proxy
        self._menu_builder: MenuBuilder | None = None
        self._last_selection: list = []
        # Hosts to open once the batch that filled them is over: opening one at once made
        # the rows added to it later in the same batch (its Networks and Storage groups)
        # lay out the whole tree again, every batch (10,000 rows each time at scale).
        self._to_expand: list[QPersistentModelIndex] = []
        self._expand_timer = QTimer(self, singleShot=True, interval=0)
        self._expand_timer.timeout.connect(self._expand_pending)
        self.setModel(proxy)
        self.setObjectName("inventoryTree")
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(False)
        self.setAnimated(False)
        self.setAllColumnsShowFocus(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_context_menu)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        if proxy.columnCount() > 1:
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(1, 130)
        self.selectionModel().selectionChanged.connect(self._selection_changed)
        proxy.rowsInserted.connect(self._rows_inserted)
        proxy.modelAboutToBeReset.connect(self._remember_selection)
        proxy.modelReset.connect(self._restore_selection)
        proxy.layoutAboutToBeChanged.connect(self._remember_selection)
        proxy.layoutChanged.connect(self._selection_changed)
        proxy.rowsRemoved.connect(self._selection_changed)
        self._filtering = False
        self.no_matches = QLabel(self.viewport())
        self.no_matches.setObjectName("noMatches")
        self.no_matches.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_matches.setWordWrap(True)
        self.no_matches.setEnabled(False)       # drawn greyed, as a placeholder is
        self.no_matches.hide()
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset,
                       proxy.layoutChanged):
            signal.connect(self._update_no_matches)
        self.activated.connect(self._activated)
        self.collapsed.connect(self._group_closed)
        self.expanded.connect(self._group_opened)

    # ---- filtering ----

    def set_filter_text(self, text: str) -> None:
        """Filters by name or state, keeping the selection (see the module docstring)."""
        kept = [(n.conn_id, n.key) for n in self._last_selection]
        self._filtering = True
        try:
            self._proxy.set_filter_text(text)
            if self._proxy.filter_text():
                self.expandAll()
            self._reselect(kept)
        finally:
            self._filtering = False
        self._selection_changed()
        self._update_no_matches()

    def _reselect(self, keys: list) -> None:
        model = self.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        visible = [index for index in (self._visible_index(c, k) for c, k in keys)
                   if index.isValid()]
        if not visible:
            model.clearSelection()
            return
        model.setCurrentIndex(visible[0], flags.ClearAndSelect | flags.Rows)
        for index in visible[1:]:
            model.select(index, flags.Select | flags.Rows)
        self.scrollTo(visible[0])

    def _inventory(self) -> InventoryModel | GroupedModel:
        """What the filter shows: the inventory (by server) or a grouped view of it
        (View menu); both find an object's row by key."""
        model = self._proxy.sourceModel()
        assert isinstance(model, (InventoryModel, GroupedModel))
        return model

    def _visible_index(self, conn_id, key) -> QModelIndex:
        """The row of an object in the tree, invalid when it is gone or filtered out."""
        return self._proxy.mapFromSource(self._inventory().index_of(conn_id, key))

    def _hidden_by_filter(self) -> bool:
        """The last selection is still in the inventory but the filter hides all of it."""
        if not self._last_selection or not self._proxy.filter_text():
            return False
        inventory = self._inventory()
        return all(inventory.node(n.conn_id, n.key) is not None
                   and not self._visible_index(n.conn_id, n.key).isValid()
                   for n in self._last_selection)

    def _update_no_matches(self, *_args) -> None:
        text = self._proxy.filter_text()
        empty = bool(text) and self._proxy.rowCount() == 0
        if empty:
            self.no_matches.setText(f"No server or VM matches “{text}”.\n"
                                    "Esc clears the filter.")
            self._place_no_matches()
        self.no_matches.setVisible(empty)

    def _place_no_matches(self) -> None:
        width = self.viewport().width() - 16
        self.no_matches.setFixedWidth(max(60, width))
        self.no_matches.adjustSize()
        self.no_matches.move(8, 24)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.no_matches.isVisible():
            self._place_no_matches()

    # ---- keys ----

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.AltModifier:
            event.ignore()      # Alt+Enter: Properties, one day; not "open the console"
            return
        super().keyPressEvent(event)

    def _activated(self, index: QModelIndex) -> None:
        node = index.data(NODE_ROLE)
        if node is not None:
            self.nodeActivated.emit(node)

    def enable_vm_drag(self, accepts, dropped):
        """VMs dragged onto a host (widgets/tree_drag.py): ``accepts(nodes, conn_id)``
        decides, ``dropped(nodes, conn_id)`` acts."""
        from widgets.tree_drag import TreeDrag
        self.vm_drag = TreeDrag(self, accepts, dropped)
        return self.vm_drag

    def set_menu_builder(self, builder: MenuBuilder) -> None:
        """``builder(nodes)`` returns the actions (None for a separator) for a right-click."""
        self._menu_builder = builder

    def selected_nodes(self) -> list:
        nodes = []
        for index in self.selectionModel().selectedRows(0):
            node = index.data(NODE_ROLE)
            if node is not None:
                nodes.append(node)
        return nodes

    def select_node(self, conn_id, key) -> bool:
        """Selects and shows the row of one object; False when it is not (yet) in the tree."""
        index = self._find(QModelIndex(), conn_id, key)
        if index is None:
            return False
        self.scrollTo(index)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        return True

    def find_vm_by_name(self, name: str):
        """The first VM row (in tree order) called ``name``, as its Node."""
        for index in self._walk(QModelIndex()):
            node = index.data(NODE_ROLE)
            if node is not None and node.kind == NodeKind.VM and node.name == name:
                return node
        return None

    def expand_hosts(self) -> None:
        """Opens the servers (or, in a grouped view, every group the user has not closed:
        regrouping resets the rows, and a closed "No tags" group stays closed)."""
        if isinstance(self._proxy.sourceModel(), GroupedModel):
            self._expanding_groups = True
            try:
                self.expandAll()
                for index in self._walk(QModelIndex()) if self._closed_groups else ():
                    if index.data(GROUP_PATH_ROLE) in self._closed_groups:
                        self.collapse(index)
            finally:
                self._expanding_groups = False
            return
        for row in range(self._proxy.rowCount()):
            index = self._proxy.index(row, 0)
            if self._proxy.rowCount(index):
                self.expand(index)

    def _find(self, parent: QModelIndex, conn_id, key) -> QModelIndex | None:
        for index in self._walk(parent):
            node = index.data(NODE_ROLE)
            if node is not None and node.conn_id == conn_id and node.key == key:
                return index
        return None

    def _walk(self, parent: QModelIndex):
        for row in range(self._proxy.rowCount(parent)):
            index = self._proxy.index(row, 0, parent)
            yield index
            yield from self._walk(index)

    def _remember_selection(self, *_args) -> None:
        """A reset (full snapshot after a reconnect) drops Qt's selection; keys survive."""
        self._kept = [(n.conn_id, n.key) for n in self.selected_nodes()] or self._kept

    def _restore_selection(self) -> None:
        kept, self._kept = self._kept, []
        if kept:
            flags = QItemSelectionModel.SelectionFlag
            for conn_id, key in kept:
                index = self._find(QModelIndex(), conn_id, key)
                if index is not None:
                    self.selectionModel().select(index, flags.Select | flags.Rows)
        self.expand_hosts()
        self._selection_changed()

    _kept: list = []
    _closed_groups: set = set()
    _expanding_groups = False

    def _group_closed(self, index: QModelIndex) -> None:
        self._group_toggled(index, True)

    def _group_opened(self, index: QModelIndex) -> None:
        self._group_toggled(index, False)

    def _group_toggled(self, index: QModelIndex, closed: bool) -> None:
        path = index.data(GROUP_PATH_ROLE)
        if path is None or self._expanding_groups:
            return
        self._closed_groups = set(self._closed_groups)
        if closed:
            self._closed_groups.add(path)
        else:
            self._closed_groups.discard(path)

    def _rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        # A host gets children when it connects: open it so its VMs are in sight.
        if parent.isValid() and not parent.parent().isValid():
            node = parent.data(NODE_ROLE)
            # Expanding an open host again lays out all its rows again (500 at a time).
            if node is not None and node.kind == NodeKind.HOST and \
                    not self.isExpanded(parent):
                self._expand_later(parent)
        elif not parent.isValid():
            for row in range(first, last + 1):
                index = self._proxy.index(row, 0)
                if self._proxy.rowCount(index):
                    self._expand_later(index)
            if not self.selectionModel().hasSelection() and not self._last_selection:
                # Something is always selected at start, so the tabs never open empty.
                self.selectionModel().setCurrentIndex(
                    self._proxy.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows)
        self._selection_changed()

    def dataChanged(self, top_left: AnyIndex, bottom_right: AnyIndex,  # noqa: N802
                    roles: Sequence[int] = ()) -> None:
        """New CPU and memory figures (every statistics tick of a host) repaint just those
        two columns, and only where the host's rows are on screen. For a change spanning
        cells Qt repaints the whole view, laying out every name and state on screen again:
        twice the work, every tick. And each host ticks on its own: repainting the strip
        for every host's tick, as when a collapsed or scrolled-away host's figures also
        repainted the rows in sight, cost 5 ms of the UI thread per tick (29 rows)."""
        if top_left.column() == CPU_COLUMN and bottom_right.column() == MEMORY_COLUMN \
                and top_left.parent() == bottom_right.parent():
            rows = self._rows_on_screen(top_left, bottom_right)
            if rows is not None:
                left = self.columnViewportPosition(CPU_COLUMN)
                right = self.columnViewportPosition(MEMORY_COLUMN) + \
                    self.columnWidth(MEMORY_COLUMN)
                self.viewport().update(QRect(left, rows[0], right - left, rows[1] - rows[0]))
            return
        super().dataChanged(top_left, bottom_right, roles)

    def _rows_on_screen(self, top: AnyIndex, bottom: AnyIndex) -> tuple[int, int] | None:
        """The viewport's y span (top, bottom) of the rows from ``top`` to ``bottom`` (one
        parent's) that are on screen; None when none is (a collapsed parent, scrolled
        away)."""
        parent = top.parent()
        if parent.isValid() and not self.isExpanded(parent):
            return None
        height = self.viewport().height()
        model = self.model()
        first = self.visualRect(model.index(top.row(), 0, parent))
        last = self.visualRect(model.index(bottom.row(), 0, parent))
        if not first.isValid() or not last.isValid():
            return 0, height     # not laid out yet: repaint the strip, as before
        y0 = max(0, min(first.top(), last.top()))
        y1 = min(height, max(first.bottom(), last.bottom()) + 1)
        return (y0, y1) if y0 < y1 else None

    def _expand_later(self, index: QModelIndex) -> None:
        self._to_expand.append(QPersistentModelIndex(index))
        self._expand_timer.start()

    def _expand_pending(self) -> None:
        pending, self._to_expand = self._to_expand, []
        for kept in pending:
            if kept.isValid():
                index = self._proxy.index(kept.row(), kept.column(), kept.parent())
                if index.data(GROUP_PATH_ROLE) in self._closed_groups:
                    continue
                if not self.isExpanded(index):
                    self.expand(index)

    def _selection_changed(self, *_args) -> None:
        if self._filtering:
            return
        nodes = self.selected_nodes()
        if not nodes and self._hidden_by_filter():
            return      # the filter hides the selection; it is still the selection
        identity = [(n.conn_id, n.kind, n.key) for n in nodes]
        objects = [n.obj for n in nodes]
        if identity == [(n.conn_id, n.kind, n.key) for n in self._last_selection] and \
                all(a is b for a, b in zip(objects, self._last_objects, strict=False)):
            return
        self._last_selection = nodes
        self._last_objects = objects
        self.selectionChangedNodes.emit(nodes)

    _last_objects: list = []

    def _show_context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid() or self._menu_builder is None:
            return
        if not self.selectionModel().isRowSelected(index.row(), index.parent()):
            self.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        actions = self._menu_builder(self.selected_nodes())
        if not actions:
            return
        menu = QMenu(self)
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        self.last_context_menu = menu
        menu.popup(self.viewport().mapToGlobal(pos))

    last_context_menu: QMenu | None = None
