"""The tree grouped another way than by server (views.py): a Qt item model over the
inventory model, with group rows (folders, tags, field values, states) and a row per VM
per group.

A VM row shows exactly what the inventory's row of the VM shows (every role is asked of
the inventory model's index of that VM), and its NODE_ROLE is the inventory's Node, so
selection, commands, tabs and the filter work unchanged. Group rows have no Node: they
select nothing.

Why rebuild instead of diffing: after each inventory batch the view is built again from
the VMs (views.build, ~10 ms per 10,000 VMs); when its rows are the same as before (a
state or name change that moves nothing) only those VMs' rows are repainted; otherwise
the model resets once (the tree keeps its selection across resets by key). Usage columns
(CPU, memory), repainted every statistics tick, are forwarded as one dataChanged per
group, never per VM.
"""
from __future__ import annotations

from typing import Any, overload

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt, QTimer, Signal

from app import icons
from app.inventory.columns import (COLUMNS, CPU_COLUMN, FILTER_ROLE, MEMORY_COLUMN,
                                   NAME_COLUMN, NODE_ROLE, SORT_ROLE, STATE_COLUMN)
from app.inventory.model import InventoryModel
from app.inventory.nodes import Node, NodeKind
from app.inventory.views import Group, Leaf, View, ViewKind, build, signature, text_order
from app.qt_types import AnyIndex

_LAST_COLUMN = len(COLUMNS) - 1
# A group row's path (("prod", "web")): how the tree remembers which groups the user
# closed across the resets that regrouping makes.
GROUP_PATH_ROLE = Qt.ItemDataRole.UserRole + 20
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_LEAF_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemNeverHasChildren
_ICONS = {ViewKind.FOLDER: "group", ViewKind.TAG: "tag", ViewKind.FIELD: "field",
          ViewKind.STATE: "group"}


class GroupedModel(QAbstractItemModel):
    """``rebuilt`` after each rebuild that changed the rows."""

    rebuilt = Signal()

    def __init__(self, source: InventoryModel, view: View,
                 order: Any = text_order, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self.view = view
        self._order = order
        self._root, self._leaves = build(view, (), order)
        self._signature: list = []
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.rebuild)
        source.batchApplied.connect(self._source_batch)
        source.modelReset.connect(self._timer.start)
        source.rowsInserted.connect(self._timer.start)
        source.rowsRemoved.connect(self._timer.start)
        source.dataChanged.connect(self._source_data_changed)
        self.rebuild()

    # ---- following the inventory ----

    def _vm_nodes(self) -> list[Node]:
        """Every VM row of the inventory: a libvirt host's children, or a XenAPI pool's
        servers' children (VMs are never parents, so only other rows are descended)."""
        out: list[Node] = []
        stack = [h for h in (self._source.host_node(c) for c in self._source.host_ids())
                 if h is not None]
        while stack:
            parent = stack.pop()
            for node in parent.children:
                if node.kind is NodeKind.VM:
                    out.append(node)
                elif node.children:
                    stack.append(node)
        return out

    def rebuild(self) -> None:
        root, leaves = build(self.view, self._vm_nodes(), self._order)
        shape = signature(root)
        if shape == self._signature:
            # The same rows: keep them (indexes point at them), follow a VM that was
            # defined again under the same UUID, and repaint.
            for key, kept in self._leaves.items():
                node = self._source.node(*key)
                for leaf in kept:
                    if node is not None and leaf.node is not node:
                        leaf.node = node
            self._root_groups_changed()
            return
        self.beginResetModel()
        self._root, self._leaves, self._signature = root, leaves, shape
        self.endResetModel()
        self.rebuilt.emit()

    def _root_groups_changed(self) -> None:
        stack = [(self._root, QModelIndex())]
        while stack:
            group, index = stack.pop()
            if group.children_count:
                self.dataChanged.emit(self.index(0, 0, index),
                                      self.index(group.children_count - 1, _LAST_COLUMN,
                                                 index))
            for row, sub in enumerate(group.groups):
                stack.append((sub, self.index(row, 0, index)))

    def _source_batch(self, _touched: object) -> None:
        self._timer.start()

    def _source_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex,
                             *_roles: object) -> None:
        """The inventory repainted some rows (usage figures each tick): the groups that
        hold any of those VMs repaint the same columns."""
        if self._timer.isActive() or not top_left.isValid():
            return
        parent = top_left.parent()
        if not parent.isValid():
            return                  # host rows: not shown in a grouped view
        host: Node = parent.internalPointer()
        groups: dict[int, Group] = {}
        leaves = self._leaves
        for node in host.children[top_left.row():bottom_right.row() + 1]:
            if node.kind is not NodeKind.VM:
                continue
            for leaf in leaves.get((node.conn_id, node.key), ()):
                groups[id(leaf.parent)] = leaf.parent
        first, last = top_left.column(), bottom_right.column()
        for group in groups.values():
            if group.leaves:
                index = self._group_index(group)
                offset = len(group.groups)
                self.dataChanged.emit(self.index(offset, first, index),
                                      self.index(offset + len(group.leaves) - 1, last, index))

    # ---- lookups the tree uses ----

    def node(self, conn_id: str, key: str) -> Node | None:
        return self._source.node(conn_id, key)

    def index_of(self, conn_id: str, key: str, column: int = 0) -> QModelIndex:
        """The first row of the VM (a VM with several tags has several rows)."""
        leaves = self._leaves.get((conn_id, key))
        if not leaves:
            return QModelIndex()
        leaf = leaves[0]
        group = leaf.parent
        return self.createIndex(len(group.groups) + group.leaves.index(leaf), column, leaf)

    def rows_of(self, conn_id: str, key: str) -> int:
        return len(self._leaves.get((conn_id, key), ()))

    def groups(self) -> Group:
        return self._root

    def _group_index(self, group: Group, column: int = 0) -> QModelIndex:
        parent = group.parent
        if parent is None:
            return QModelIndex()
        return self.createIndex(parent.groups.index(group), column, group)

    # ---- QAbstractItemModel ----

    def index(self, row: int, column: int = 0, parent: AnyIndex = QModelIndex()
              ) -> QModelIndex:
        if column < 0 or column > _LAST_COLUMN or row < 0:
            return QModelIndex()
        group = parent.internalPointer() if parent.isValid() else self._root
        if not isinstance(group, Group):
            return QModelIndex()
        if row < len(group.groups):
            return self.createIndex(row, column, group.groups[row])
        row -= len(group.groups)
        if row < len(group.leaves):
            return self.createIndex(row + len(group.groups), column, group.leaves[row])
        return QModelIndex()

    @overload
    def parent(self) -> QObject | None: ...

    @overload
    def parent(self, child: AnyIndex, /) -> QModelIndex: ...

    def parent(self, child: AnyIndex | None = None) -> QObject | QModelIndex | None:
        if child is None:
            return QObject.parent(self)
        if not child.isValid():
            return QModelIndex()
        item = child.internalPointer()
        return self._group_index(item.parent)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        if not parent.isValid():
            return self._root.children_count
        if parent.column() != 0:
            return 0
        item = parent.internalPointer()
        return item.children_count if isinstance(item, Group) else 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: N802
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return self._source.headerData(section, orientation, role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS if isinstance(index.internalPointer(), Group) else _LEAF_FLAGS

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = index.internalPointer()
        if isinstance(item, Leaf):
            node = item.node
            if role == NODE_ROLE:
                return node
            source = self._source.index_of(node.conn_id, node.key, index.column())
            answer = self._source.data(source, role)
            if role == Qt.ItemDataRole.ToolTipRole and index.column() == NAME_COLUMN:
                # The server is not a row of a grouped view: the tooltip names it.
                where = f"Server: {self._source.host_name(node.conn_id)}"
                return f"{answer}\n{where}" if answer else where
            return answer
        return self._group_data(item, index.column(), role)

    def _group_data(self, group: Group, column: int, role: int) -> Any:
        if role == NODE_ROLE:
            return None
        if role == GROUP_PATH_ROLE:
            return group.path
        if column == NAME_COLUMN:
            if role in (Qt.ItemDataRole.DisplayRole, FILTER_ROLE):
                return group.title
            if role == SORT_ROLE:
                return f"{int(group.last)}{group.title.casefold()}"
            if role == Qt.ItemDataRole.DecorationRole:
                return icons.icon(_ICONS.get(self.view.kind, "group"))
            if role == Qt.ItemDataRole.ToolTipRole:
                where = "/" + "/".join(group.path) if self.view.kind is ViewKind.FOLDER \
                    else group.title
                return f"{where}: {group.total} VM{'s' if group.total != 1 else ''}"
        elif column == STATE_COLUMN and role == Qt.ItemDataRole.DisplayRole:
            return f"{group.total} VM{'s' if group.total != 1 else ''}"
        elif column in (CPU_COLUMN, MEMORY_COLUMN):
            return None
        return None
