"""The filter box in front of the inventory, and a walk over what a view shows.

The proxy filters on FILTER_ROLE (a row's name and state text) and sorts on SORT_ROLE,
both answered by the presenter; it knows nothing else of the model behind it.
"""
from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QSortFilterProxyModel, Qt

from app.inventory.columns import FILTER_ROLE, NAME_COLUMN, NODE_ROLE, SORT_ROLE
from app.inventory.nodes import Node
from app.qt_types import AnyIndex, RoleData, role_data_of


class InventoryFilterProxy(QSortFilterProxyModel):
    """The filter box: case-insensitive words in a row's name or state; a match keeps its
    parents visible so the user sees where it lives."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(NAME_COLUMN)
        self.setSortRole(SORT_ROLE)  # unsorted (model order) until a header is clicked
        self._text = ""

    def set_filter_text(self, text: str) -> None:
        self._text = text.strip()
        # Matches keep their parents in sight only while filtering: with that on, every
        # statistics tick of a host also marked the host's row changed, and the tree then
        # repainted every cell on screen. Switched in this order so that no step hides a
        # host whose VMs match (its selected rows would be dropped).
        if self._text:
            self.setRecursiveFilteringEnabled(True)
            self.setFilterFixedString(self._text)
        else:
            self.setFilterFixedString("")
            self.setRecursiveFilteringEnabled(False)

    def filter_text(self) -> str:
        return self._text

    def node(self, index: AnyIndex) -> Node | None:
        return index.data(NODE_ROLE) if index.isValid() else None

    def multiData(self, index: AnyIndex,  # noqa: N802
                  roleDataSpan: RoleData) -> None:  # noqa: N803
        """A painted cell's roles, mapped to the source row once: Qt's own proxy asks the
        source for each role separately, and each such ask maps the row again (a Python
        ``index()`` call), so a cell of the tree cost ~10 Python calls; a full repaint of
        29 rows took 11.6 ms."""
        source = self.mapToSource(index) if index.isValid() else QModelIndex()
        model = self.sourceModel()
        if model is None:
            for role_data in role_data_of(roleDataSpan):
                role_data.clearData()
            return
        model.multiData(source, roleDataSpan)


def iter_nodes(model: QAbstractItemModel, parent: AnyIndex = QModelIndex()) -> Iterator[Node]:
    """Every node a model (or a proxy over it) shows, depth first, in row order."""
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index.data(NODE_ROLE)
        yield from iter_nodes(model, index)
