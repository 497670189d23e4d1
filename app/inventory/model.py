"""Every connected host and what it holds, as one Qt item model for the tree.

Shape: root → host → its VMs (sorted by name), then a "Networks" group and a "Storage"
group (each shown only while it has something in it). A Xen control domain (Dom0) is not
listed as a VM: it is the host itself; ``control_domain(conn_id)`` hands it out.

Why batches: a host can report a thousand changes in a second (a mass start, a
reconnect's full snapshot). ``apply()`` only queues; a 50 ms timer folds everything queued
into one picture per host and applies it in a single pass, with one row signal per run of
rows and one dataChanged per parent, then emits ``batchApplied`` once. When a batch would
move more rows than row signals can carry cheaply, it is applied as one model reset
instead (the tree keeps its selection across resets by key).

This class keeps the rows and tells views about them; what changes is worked out by the
diff engine (diff.py, no Qt) and what a row shows by the presenter (presenter.py).

Lookups go through dicts keyed by (conn_id, key) and rows are found by bisection in the
sorted child lists, so a snapshot of 10,000 VMs costs a sort, not a quadratic walk.
"""
from __future__ import annotations

from typing import Any, overload

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt, QTimer, Signal

from app.contracts import UsageSource
from app.inventory import diff
from app.inventory.columns import COLUMNS, CPU_COLUMN, MEMORY_COLUMN, NODE_ROLE
from app.inventory.nodes import (GROUP_OF, HostFacts, Node, NodeKind, group_sort_key,
                                 object_sort_key, row_among, sort_key_of)
from app.inventory.presenter import RowPresenter
from app.qt_types import AnyIndex, RoleData, role_data_of
from connectors.libvirt.model import (ConnState, HostEvent, HostInfo, InventoryObject,
                                      ObjectKind, VMInfo)

BATCH_INTERVAL_MS = 50
# Above this many row insertions/removals in one batch, one reset is cheaper than
# per-run signals (each of which makes the proxy and the view remap the parent).
RESET_THRESHOLD = 256

# Asked for every row (tens of thousands of times at 10,000 VMs): or-ed once.
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
# A VM, network or pool row never has children: saying so spares the tree (and the
# filter proxy in front of it) a hasChildren() call into Python per row it lays out.
_LEAF_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemNeverHasChildren
# compared by identity: enum hashing is slow
_HOST, _GROUP, _SERVER = NodeKind.HOST, NodeKind.GROUP, NodeKind.SERVER
_LAST_COLUMN = len(COLUMNS) - 1


class InventoryModel(QAbstractItemModel):
    """``batchApplied(set[tuple[conn_id, key]])``: after each batch, the keys it touched
    (a host's own key is its conn_id). ``snapshotApplied(rows)``: just before, when the
    batch held a host's full snapshot (a connect or reconnect: the inventory may have grown
    by thousands of rows), with the rows the whole inventory now has.
    ``hostRemoved(conn_id)``: a server and its rows are gone."""

    batchApplied = Signal(object)
    snapshotApplied = Signal(int)
    hostRemoved = Signal(str)

    def __init__(self, parent: QObject | None = None,
                 batch_interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._hosts: list[Node] = []                       # the root's children
        self._facts: dict[str, HostFacts] = {}
        self._nodes: dict[tuple[str, str], Node] = {}       # (conn_id, key) -> Node
        # conn_id -> ObjectKind -> key -> Node
        self._objects: dict[str, dict[ObjectKind, dict[str, Node]]] = {}
        self._queue: list[tuple[str, HostEvent]] = []
        # Inside a model reset: rows change without row or dataChanged signals (the reset
        # tells views everything at once).
        self._resetting = False
        self._presenter = RowPresenter(self._facts)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(batch_interval_ms)
        self._timer.timeout.connect(self.flush)

    # ================= hosts =================

    def add_host(self, conn_id: str, uri: str, display_name: str = "",
                 demo: bool = False, state: ConnState = ConnState.CONNECTING) -> Node:
        """A new top-level row, shown at once (not batched): the user just asked for it."""
        if conn_id in self._facts:
            raise ValueError(f"connection {conn_id!r} is already in the inventory")
        node = Node(NodeKind.HOST, conn_id, conn_id)
        self._facts[conn_id] = HostFacts(uri, display_name or uri, demo, state)
        self._objects[conn_id] = {kind: {} for kind in ObjectKind}
        row = len(self._hosts)
        self.beginInsertRows(QModelIndex(), row, row)
        self._hosts.append(node)
        self._nodes[(conn_id, conn_id)] = node
        self.endInsertRows()
        return node

    def remove_host(self, conn_id: str) -> None:
        """Drops the host row and everything under it; its queued events are ignored."""
        node = self._nodes.get((conn_id, conn_id))
        if node is None:
            return
        row = self._hosts.index(node)
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._hosts[row]
        for key in [k for k in self._nodes if k[0] == conn_id]:
            del self._nodes[key]
        self._objects.pop(conn_id, None)
        self._facts.pop(conn_id, None)
        self.endRemoveRows()
        self._queue = [(c, e) for c, e in self._queue if c != conn_id]
        self.hostRemoved.emit(conn_id)

    def set_maintenance(self, conn_id: str, on: bool) -> None:
        """Marks the host "In maintenance" (its state column, icon and tooltip)."""
        facts = self._facts.get(conn_id)
        if facts is not None and facts.maintenance != on:
            facts.maintenance = on
            self._host_changed(conn_id)

    # ================= events =================

    def apply(self, conn_id: str, event: HostEvent) -> None:
        """Queues one host event; it reaches the model with the next batch (≤ 50 ms)."""
        self._queue.append((conn_id, event))
        if not self._timer.isActive():
            self._timer.start()

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Applies every queued event now, as one batch (the timer calls this)."""
        self._timer.stop()
        queue, self._queue = self._queue, []
        folded = diff.fold_queue(queue, self._facts)
        if not folded:
            return
        plans = {conn_id: diff.plan(conn_id, changes, self._objects[conn_id],
                                    self._facts[conn_id].control_domain)
                 for conn_id, changes in folded.items()}
        touched: set[tuple[str, str]] = set()
        if sum(plan.moves for plan in plans.values()) > RESET_THRESHOLD:
            self.beginResetModel()
            self._resetting = True
            try:
                for conn_id, plan in plans.items():
                    self._execute(conn_id, folded[conn_id], plan, touched)
            finally:
                self._resetting = False
                self.endResetModel()
        else:
            for conn_id, plan in plans.items():
                self._execute(conn_id, folded[conn_id], plan, touched)
        if any(changes.full for changes in folded.values()):
            self.snapshotApplied.emit(len(self._nodes))
        self.batchApplied.emit(touched)

    # ---- executing a plan: mutate and signal ----

    def _execute(self, conn_id: str, changes: diff.HostChanges, plan: diff.Plan,
                 touched: set[tuple[str, str]]) -> None:
        host = self._nodes[(conn_id, conn_id)]
        facts = self._facts[conn_id]
        was_live = facts.state is ConnState.CONNECTED
        objects = self._objects[conn_id]
        if plan.control_set:
            facts.control_domain = plan.control
        for kind, nodes in plan.removes.items():
            for node in nodes:
                objects[kind].pop(node.key, None)
                if self._nodes.get((conn_id, node.key)) is node:
                    del self._nodes[(conn_id, node.key)]
                touched.add((conn_id, node.key))
            if kind is ObjectKind.SERVER:
                self._rehome_residents(host, nodes)
            for parent, children in _by_parent(nodes):
                if parent.kind is _GROUP and len(children) == len(parent.children):
                    self._remove_children(host, [parent])    # the group goes with them
                    del self._nodes[(conn_id, parent.key)]
                else:
                    self._remove_children(parent, children)
        # Member hosts first: the VMs added with them go under them.
        for kind in sorted(plan.adds, key=lambda k: k is not ObjectKind.SERVER):
            entries = plan.adds[kind]
            for node, obj in entries:
                node.obj = obj
                node.sort_key = object_sort_key(obj, node.key)
                objects[kind][node.key] = node
                self._nodes[(conn_id, node.key)] = node
                touched.add((conn_id, node.key))
            added = sorted((node for node, _ in entries), key=sort_key_of)
            if kind is ObjectKind.VM:
                servers = objects[ObjectKind.SERVER]
                for parent, children in _by_home(host, servers, added):
                    self._insert_children(parent, children)
                continue
            if kind is ObjectKind.SERVER:
                parent = host
            else:
                parent = self._group(host, kind) or self._add_group(host, kind)
            self._insert_children(parent, added)
        self._update_rows(conn_id, plan.updates, touched)
        if changes.state is not None:
            event = changes.state
            facts.state = event.state
            facts.reason = event.reason
            if event.host is not None:
                host.obj = event.host
            touched.add((conn_id, conn_id))
            self._host_changed(conn_id)
            if was_live != (facts.state is ConnState.CONNECTED):
                self._subtree_changed(host)     # greyed or back in colour

    def _update_rows(self, conn_id: str, updates: list[tuple[Node, InventoryObject]],
                     touched: set[tuple[str, str]]) -> None:
        """New records for rows that stay where they are: one dataChanged per parent."""
        by_parent: dict[int, tuple[Node, list[int]]] = {}
        for node, obj in updates:
            node.obj = obj
            touched.add((conn_id, node.key))
            if not self._resetting and node.parent is not None:
                parent = node.parent
                entry = by_parent.setdefault(id(parent), (parent, []))
                entry[1].append(self._row(node))
        for parent, rows in by_parent.values():
            self._rows_changed(parent, min(rows), max(rows))

    def _rehome_residents(self, host: Node, servers: list[Node]) -> None:
        """VMs still under member hosts that leave move up to the pool."""
        for server in servers:
            residents = [n for n in server.children if n.kind is NodeKind.VM]
            if residents:
                self._remove_children(server, residents)
                self._insert_children(host, residents)

    def _group(self, host: Node, kind: ObjectKind) -> Node | None:
        return self._nodes.get((host.conn_id, GROUP_OF[kind]))

    def _add_group(self, host: Node, kind: ObjectKind) -> Node:
        title = GROUP_OF[kind]
        group = Node(NodeKind.GROUP, host.conn_id, title, sort_key=group_sort_key(title))
        self._nodes[(host.conn_id, title)] = group
        self._insert_children(host, [group])
        return group

    def _insert_children(self, parent: Node, nodes: list[Node]) -> None:
        """Inserts sorted ``nodes`` into the sorted children of ``parent``, one row
        signal per run of rows that land next to each other."""
        if not nodes:
            return
        children = parent.children
        parent_index = self._index_of(parent)
        for row, run in diff.insertion_runs(children, nodes):
            for node in run:
                node.parent = parent
            if not self._resetting:
                self.beginInsertRows(parent_index, row, row + len(run) - 1)
            children[row:row] = run
            if not self._resetting:
                self.endInsertRows()

    def _remove_children(self, parent: Node, nodes: list[Node]) -> None:
        """Removes ``nodes`` (children of ``parent``), one row signal per run of rows."""
        if not nodes:
            return
        children = parent.children
        parent_index = self._index_of(parent)
        for first, last in diff.removal_runs(children, nodes):
            if not self._resetting:
                self.beginRemoveRows(parent_index, first, last)
            del children[first:last + 1]
            if not self._resetting:
                self.endRemoveRows()

    def _host_changed(self, conn_id: str) -> None:
        node = self._nodes.get((conn_id, conn_id))
        if node is None or self._resetting:
            return
        row = self._hosts.index(node)
        self.dataChanged.emit(self.index(row, 0), self.index(row, _LAST_COLUMN))

    def _rows_changed(self, parent: Node, first: int, last: int) -> None:
        parent_index = self._index_of(parent)
        self.dataChanged.emit(self.index(first, 0, parent_index),
                              self.index(last, _LAST_COLUMN, parent_index))

    def _subtree_changed(self, parent: Node) -> None:
        if self._resetting or not parent.children:
            return
        self._rows_changed(parent, 0, len(parent.children) - 1)
        for child in parent.children:
            if child.kind is NodeKind.GROUP or child.kind is NodeKind.SERVER:
                self._subtree_changed(child)

    # ================= lookups =================

    def node(self, conn_id: str, key: str) -> Node | None:
        """The current node of an object (or host: key == conn_id), None when gone."""
        return self._nodes.get((conn_id, key))

    def host_node(self, conn_id: str) -> Node | None:
        return self._nodes.get((conn_id, conn_id))

    def host_ids(self) -> list[str]:
        return [node.conn_id for node in self._hosts]

    def host_state(self, conn_id: str) -> tuple[ConnState, str] | None:
        """The connection state the tree shows (as of the last batch) and its reason."""
        facts = self._facts.get(conn_id)
        return None if facts is None else (facts.state, facts.reason)

    def host_name(self, conn_id: str) -> str:
        """The server's name as its row shows it."""
        node = self._nodes.get((conn_id, conn_id))
        return conn_id if node is None else self._presenter.host_name(node)

    def host_uri(self, conn_id: str) -> str:
        """The server's URI ("" for a connection the inventory does not have)."""
        facts = self._facts.get(conn_id)
        return "" if facts is None else facts.uri

    def control_domain(self, conn_id: str) -> VMInfo | None:
        """A Xen host's Dom0, which the tree does not list among the VMs."""
        facts = self._facts.get(conn_id)
        return None if facts is None else facts.control_domain

    def vms(self, conn_id: str) -> list[VMInfo]:
        """The listed VMs of a host (of a pool: under its members, then its halted
        ones), in tree order."""
        host = self._nodes.get((conn_id, conn_id))
        if host is None:
            return []
        out: list[VMInfo] = []
        for node in host.children:
            if node.kind is _SERVER:
                out.extend(n.obj for n in node.children if isinstance(n.obj, VMInfo))
            elif isinstance(node.obj, VMInfo):
                out.append(node.obj)
        return out

    def summary(self) -> tuple[int, int, int, bool]:
        """(servers, connected, VMs, demo shown) for the status bar."""
        connected = sum(1 for f in self._facts.values() if f.state is ConnState.CONNECTED)
        vms = sum(len(objects[ObjectKind.VM]) for objects in self._objects.values())
        demo = any(self._facts[h.conn_id].demo or (isinstance(h.obj, HostInfo) and h.obj.is_demo)
                   for h in self._hosts)
        return len(self._hosts), connected, vms, demo

    # ================= usage columns =================

    def set_usage_source(self, source: UsageSource) -> None:
        """``source`` fills the CPU and Memory columns (app.perf.usage.UsageColumns)."""
        self._presenter.usage_source = source

    def usage_changed(self, conn_id: str) -> None:
        """New figures for one host and its VMs: dataChanged on the usage columns of just
        those rows (no reset, no row moves), at most once per statistics tick."""
        host = self._nodes.get((conn_id, conn_id))
        if host is None or self._resetting:
            return
        row = self._hosts.index(host)
        self.dataChanged.emit(self.index(row, CPU_COLUMN), self.index(row, MEMORY_COLUMN))
        vms = len(host.children)
        while vms and host.children[vms - 1].kind is NodeKind.GROUP:
            vms -= 1  # at most two groups (Networks, Storage), after the VMs
        if vms:
            parent = self.index(row, 0)
            # VMs come first among a host's children (groups sort after them).
            self.dataChanged.emit(self.index(0, CPU_COLUMN, parent),
                                  self.index(vms - 1, MEMORY_COLUMN, parent))
            # A pool's member hosts come first of all; their resident VMs under them.
            for server_row, server in enumerate(host.children[:vms]):
                if server.kind is not _SERVER:
                    break
                if server.children:
                    under = self.index(server_row, 0, parent)
                    self.dataChanged.emit(
                        self.index(0, CPU_COLUMN, under),
                        self.index(len(server.children) - 1, MEMORY_COLUMN, under))

    # ================= indexes =================

    def index_of(self, conn_id: str, key: str, column: int = 0) -> QModelIndex:
        node = self._nodes.get((conn_id, key))
        return QModelIndex() if node is None else self._index_of(node, column)

    def _row(self, node: Node) -> int:
        if node.parent is None:
            return self._hosts.index(node)
        return row_among(node.parent.children, node)

    def _index_of(self, node: Node | None, column: int = 0) -> QModelIndex:
        if node is None:
            return QModelIndex()
        return self.createIndex(self._row(node), column, node)

    # ================= QAbstractItemModel =================

    def index(self, row: int, column: int = 0, parent: AnyIndex = QModelIndex()
              ) -> QModelIndex:
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        children = parent.internalPointer().children if parent.isValid() else self._hosts
        if row >= len(children):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    @overload
    def parent(self) -> QObject | None: ...

    @overload
    def parent(self, child: AnyIndex, /) -> QModelIndex: ...

    def parent(self, child: AnyIndex | None = None) -> QObject | QModelIndex | None:
        """Qt's two methods of one name: the QObject's owner, or an index's parent row."""
        if child is None:
            return QObject.parent(self)
        if not child.isValid():
            return QModelIndex()
        node: Node = child.internalPointer()
        if node.parent is None:
            return QModelIndex()
        return self._index_of(node.parent)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        if not parent.isValid():
            return len(self._hosts)
        if parent.column() != 0:
            return 0
        return len(parent.internalPointer().children)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: N802
        # Asked for every row the tree lays out or the proxy filters: no detour.
        if not parent.isValid():
            return bool(self._hosts)
        return parent.column() == 0 and bool(parent.internalPointer().children)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        return self._presenter.header_data(section, role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        kind = index.internalPointer().kind
        return _ROW_FLAGS if kind is _HOST or kind is _GROUP or kind is _SERVER \
            else _LEAF_FLAGS

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        if role == NODE_ROLE:
            return node
        return self._presenter.data(node, index.column(), role)

    def multiData(self, index: AnyIndex,  # noqa: N802
                  roleDataSpan: RoleData) -> None:  # noqa: N803
        """Every role a painted cell asks for (Qt's delegates ask seven at once), in one
        call from Qt: the node is looked up once, and each role costs a Python call
        instead of a trip from C++ into data()."""
        roles = role_data_of(roleDataSpan)
        if not index.isValid():
            for role_data in roles:
                role_data.clearData()
            return
        node: Node = index.internalPointer()
        column = index.column()
        answer = self._presenter.data
        for role_data in roles:
            role = role_data.role()
            value = node if role == NODE_ROLE else answer(node, column, role)
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)


def _by_parent(nodes: list[Node]) -> list[tuple[Node, list[Node]]]:
    """Nodes grouped by their parent row (a pool's VMs sit under several)."""
    groups: dict[int, tuple[Node, list[Node]]] = {}
    for node in nodes:
        if node.parent is not None:
            groups.setdefault(id(node.parent), (node.parent, []))[1].append(node)
    return list(groups.values())


def _by_home(host: Node, servers: dict[str, Node], vms: list[Node]
             ) -> list[tuple[Node, list[Node]]]:
    """Sorted VM nodes grouped by the row they go under: the member host a XenAPI VM is
    resident on, else the connection's own row; each group stays sorted."""
    if not servers:
        return [(host, vms)]
    groups: dict[int, tuple[Node, list[Node]]] = {}
    for node in vms:
        obj = node.obj
        home = servers.get(obj.server_key) if isinstance(obj, VMInfo) and \
            obj.server_key else None
        parent = home or host
        groups.setdefault(id(parent), (parent, []))[1].append(node)
    return list(groups.values())
