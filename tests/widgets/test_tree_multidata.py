"""The tree's cells asked for all their roles at once (``multiData``, what Qt's delegates
do) show exactly what asking role by role shows: the same values for every row, column
and role, and the same pixels as Qt's own proxy path."""
from __future__ import annotations

from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QTreeView

from app.inventory import (FILTER_ROLE, NODE_ROLE, SORT_ROLE, USAGE_ROLE, InventoryFilterProxy,
                           InventoryModel, iter_nodes)
from app.inventory.columns import COLUMNS
from connectors.libvirt.model import ConnState, HostStateChanged, VMState
from tests.unit.test_app_inventory import INFO, connect, net, pool, vm
from widgets.usage_delegate import install_usage_columns

ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
         Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole,
         Qt.ItemDataRole.FontRole, Qt.ItemDataRole.TextAlignmentRole,
         Qt.ItemDataRole.CheckStateRole, Qt.ItemDataRole.BackgroundRole,
         SORT_ROLE, FILTER_ROLE, USAGE_ROLE, NODE_ROLE]


def _inventory() -> InventoryModel:
    """Two servers: one connected (VMs in several states, a network, a pool), one
    disconnected after its snapshot (its rows greyed)."""
    model = InventoryModel()
    connect(model, "c1", objs=[vm("web", VMState.RUNNING), vm("db", VMState.PAUSED),
                               vm("old"), net("default"), pool("images")])
    connect(model, "c2", objs=[vm("lab-1", VMState.RUNNING), vm("lab-2")])
    model.apply("c2", HostStateChanged(ConnState.DISCONNECTED, "lost", host=INFO))
    model.flush()
    return model


def _same(a: object, b: object) -> bool:
    if hasattr(a, "cacheKey") and hasattr(b, "cacheKey"):     # icons, brushes
        return a.cacheKey() == b.cacheKey()
    if hasattr(a, "color") and hasattr(b, "color"):
        return a.color() == b.color()
    return a == b


def test_every_cell_answers_the_same_all_at_once_as_role_by_role(qapp):
    model = _inventory()
    proxy = InventoryFilterProxy()
    proxy.setSourceModel(model)
    checked = 0
    for view in (model, proxy):
        for node in iter_nodes(view):
            for column in range(len(COLUMNS)):
                index = (model.index_of(node.conn_id, node.key, column) if view is model
                         else proxy.mapFromSource(model.index_of(node.conn_id, node.key,
                                                                 column)))
                for role in ROLES:
                    role_data = QModelRoleData(int(role))
                    view.multiData(index, QModelRoleDataSpan(role_data))
                    expected = index.data(role)
                    assert _same(role_data.data(), expected), (node.key, column, role)
                    checked += 1
    assert checked >= 2 * 11 * len(COLUMNS) * len(ROLES)


def test_the_tree_paints_the_same_pixels_as_through_qts_own_proxy(qtbot):
    """Qt's QSortFilterProxyModel asks the model role by role; ours maps the row once.
    The two trees, side by side on the same model, look the same to the pixel."""
    model = _inventory()
    ours = InventoryFilterProxy()
    ours.setSourceModel(model)
    plain = QSortFilterProxyModel()
    plain.setSourceModel(model)
    images = []
    for proxy in (ours, plain):
        tree = QTreeView()
        tree.setModel(proxy)
        install_usage_columns(tree)
        qtbot.addWidget(tree)
        tree.resize(500, 320)
        tree.expandAll()
        tree.show()
        qtbot.waitExposed(tree)
        images.append(tree.grab().toImage())
    assert images[0].size() == images[1].size()
    assert images[0] == images[1]
    # and the picture is of rows (names, icons, greyed text), not of an empty tree
    colours = {images[0].pixel(x, y) for x in range(0, 500, 3) for y in range(0, 320, 3)}
    assert len(colours) > 10
