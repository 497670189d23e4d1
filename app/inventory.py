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

Lookups go through dicts keyed by (conn_id, key) and rows are found by bisection in the
sorted child lists, so a snapshot of 10,000 VMs costs a sort, not a quadratic walk.
"""
from __future__ import annotations

import enum
import gc
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from PySide6.QtCore import (QAbstractItemModel, QModelIndex, QObject, QSortFilterProxyModel,
                            Qt, QTimer, Signal)
from PySide6.QtGui import QBrush, QColor

from app import icons
from connectors.libvirt.model import (ConnState, HostEvent, HostInfo, HostStateChanged,
                                      InventoryChanged, NetworkInfo, ObjectKind, PoolInfo,
                                      VMInfo, VMState)

NODE_ROLE = Qt.ItemDataRole.UserRole + 1     # the Node behind a row
FILTER_ROLE = Qt.ItemDataRole.UserRole + 2   # what the filter box matches: name + state

USAGE_ROLE = Qt.ItemDataRole.UserRole + 3  # CPU/Memory columns: fraction 0..1 (NaN: none)
SORT_ROLE = Qt.ItemDataRole.UserRole + 4   # what a sorted column compares

COLUMNS = ("Name", "State", "CPU", "Memory")
NAME_COLUMN, STATE_COLUMN, CPU_COLUMN, MEMORY_COLUMN = 0, 1, 2, 3
USAGE_COLUMNS = (CPU_COLUMN, MEMORY_COLUMN)


class UsageSource(Protocol):
    """What fills the CPU and Memory columns (app.perf.usage.UsageColumns)."""

    def usage(self, node: "Node", for_sorting: bool = False
              ) -> tuple[float, float, str] | None:
        """(cpu_percent, memory fraction, memory text); ``for_sorting``: the sort proxy
        asks, not a painted cell."""

    def tooltip(self, node: "Node", column: int) -> str | None:
        """The numbers behind a cell (asked only when hovered)."""

    def header_tooltip(self, column: int) -> str | None:
        """What the column means."""

BATCH_INTERVAL_MS = 50
# Above this many row insertions/removals in one batch, one reset is cheaper than
# per-run signals (each of which makes the proxy and the view remap the parent).
RESET_THRESHOLD = 256
FREEZE_FROM = 1000        # rows from which a snapshot is frozen: see flush()

NETWORKS_GROUP = "Networks"
STORAGE_GROUP = "Storage"

_GREY = QBrush(QColor("#8a8a8a"))


class NodeKind(enum.Enum):
    HOST = "host"
    VM = "vm"
    GROUP = "group"
    NETWORK = "network"
    POOL = "pool"


# Asked for every row (tens of thousands of times at 10,000 VMs): or-ed once.
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
# A VM, network or pool row never has children: saying so spares the tree (and the
# filter proxy in front of it) a hasChildren() call into Python per row it lays out.
_LEAF_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemNeverHasChildren
_HOST, _GROUP = NodeKind.HOST, NodeKind.GROUP   # compared by identity: enum hashing is slow


_KIND_OF = {ObjectKind.VM: NodeKind.VM, ObjectKind.NETWORK: NodeKind.NETWORK,
            ObjectKind.POOL: NodeKind.POOL}
_GROUP_OF = {ObjectKind.NETWORK: NETWORKS_GROUP, ObjectKind.POOL: STORAGE_GROUP}
_GROUP_RANK = {NETWORKS_GROUP: 1, STORAGE_GROUP: 2}


@dataclass(eq=False)
class Node:
    """One row of the tree. Identity matters (Qt indexes point at it), hence eq=False.

    ``key`` is the object's UUID; for a host it is its conn_id, for a group its title.
    ``obj`` is the latest record (VMInfo, NetworkInfo, PoolInfo, HostInfo or None); a
    batch replaces it, never mutates it, so holders of an old record can compare.
    """

    kind: NodeKind
    conn_id: str
    key: str
    obj: object = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    sort_key: tuple = ()

    @property
    def name(self) -> str:
        if self.kind is NodeKind.GROUP:
            return self.key
        return getattr(self.obj, "name", None) or self.key


@dataclass
class _HostMeta:
    """What the tree shows of a connection besides its HostInfo."""

    uri: str
    display_name: str
    demo: bool = False
    state: ConnState = ConnState.CONNECTING
    reason: str = ""
    maintenance: bool = False   # app.maintenance: nothing is to be started there


@dataclass
class _Pending:
    """Everything queued for one host, folded: the last state and the net object changes."""

    state: HostStateChanged | None = None
    full: bool = False
    # (ObjectKind, key) -> record, or None for "gone" (in a full snapshot: absent = gone)
    objects: dict = field(default_factory=dict)


def _sort_key(kind: NodeKind, obj, key: str) -> tuple:
    if kind is NodeKind.GROUP:
        return (_GROUP_RANK[key], key.casefold(), key, key)
    name = getattr(obj, "name", "") or key
    return (0, name.casefold(), name, key)


def _sort_key_of(node: Node) -> tuple:
    return node.sort_key


def _vm_state_text(vm: VMInfo) -> str:
    # Paused by a migration (the source at the switch-over, the destination while the
    # VM arrives): say what is happening, not just "Paused".
    if vm.state is VMState.PAUSED and vm.state_reason == "migrating":
        return "Migrating…"
    return vm.state.label


def _host_state_text(meta: _HostMeta, info: HostInfo | None) -> str:
    if meta.state is ConnState.CONNECTED and meta.maintenance:
        return "In maintenance"
    if meta.state is ConnState.CONNECTED:
        return info.hypervisor_label if info is not None and info.hypervisor_label \
            else "Connected"
    if meta.state is ConnState.CONNECTING:
        return "Connecting…"
    if meta.state is ConnState.RECONNECTING:
        return f"Reconnecting: {meta.reason}" if meta.reason else "Reconnecting…"
    return f"Disconnected: {meta.reason}" if meta.reason else "Disconnected"


class InventoryModel(QAbstractItemModel):
    """``batchApplied(set[tuple[conn_id, key]])``: after each batch, the keys it touched
    (a host's own key is its conn_id)."""

    batchApplied = Signal(object)

    def __init__(self, parent: QObject | None = None,
                 batch_interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._hosts: list[Node] = []                       # the root's children
        self._meta: dict[str, _HostMeta] = {}
        self._nodes: dict[tuple[str, str], Node] = {}       # (conn_id, key) -> Node
        # conn_id -> ObjectKind -> key -> Node
        self._objects: dict[str, dict[ObjectKind, dict[str, Node]]] = {}
        self._control: dict[str, VMInfo] = {}
        self._queue: list[tuple[str, HostEvent]] = []
        self._quiet = False     # inside a reset: mutate without row signals
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(batch_interval_ms)
        self._timer.timeout.connect(self.flush)

    # ================= hosts =================

    def add_host(self, conn_id: str, uri: str, display_name: str = "",
                 demo: bool = False, state: ConnState = ConnState.CONNECTING) -> Node:
        """A new top-level row, shown at once (not batched): the user just asked for it."""
        if conn_id in self._meta:
            raise ValueError(f"connection {conn_id!r} is already in the inventory")
        node = Node(NodeKind.HOST, conn_id, conn_id)
        self._meta[conn_id] = _HostMeta(uri, display_name or uri, demo, state)
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
        self._control.pop(conn_id, None)
        self._meta.pop(conn_id, None)
        self.endRemoveRows()
        self._queue = [(c, e) for c, e in self._queue if c != conn_id]
        gc.unfreeze()   # its rows point at each other: the collector may free them now

    def set_maintenance(self, conn_id: str, on: bool) -> None:
        """Marks the host "In maintenance" (its state column, icon and tooltip)."""
        meta = self._meta.get(conn_id)
        if meta is not None and meta.maintenance != on:
            meta.maintenance = on
            self._host_changed(conn_id)

    def set_display_name(self, conn_id: str, display_name: str) -> None:
        meta = self._meta.get(conn_id)
        if meta is not None:
            meta.display_name = display_name
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
        if not queue:
            return
        pending: dict[str, _Pending] = {}
        for conn_id, event in queue:
            if conn_id not in self._meta:
                continue    # removed while its events were queued
            _fold(pending.setdefault(conn_id, _Pending()), event)
        if not pending:
            return
        plans = {conn_id: self._plan(conn_id, p) for conn_id, p in pending.items()}
        moves = sum(plan.moves for plan in plans.values())
        touched: set[tuple[str, str]] = set()
        if moves > RESET_THRESHOLD:
            self.beginResetModel()
            self._quiet = True
            try:
                for conn_id, plan in plans.items():
                    self._execute(conn_id, pending[conn_id], plan, touched)
            finally:
                self._quiet = False
                self.endResetModel()
        else:
            for conn_id, plan in plans.items():
                self._execute(conn_id, pending[conn_id], plan, touched)
        if len(self._nodes) >= FREEZE_FROM and any(p.full for p in pending.values()):
            # A big inventory lives as long as its connections. Out of the cycle
            # collector's sight (gc.freeze), or every full collection walks all 10,000
            # rows and records again: a pass of about 100 ms holding the GIL in whichever
            # thread triggers it, felt as a UI stall. (What is alive now and later ends
            # up in a reference cycle waits for the next remove_host to be collected.)
            gc.freeze()
        self.batchApplied.emit(touched)

    # ---- planning: what changes, without touching the model ----

    def _plan(self, conn_id: str, pending: _Pending) -> _Plan:
        plan = _Plan()
        existing = self._objects[conn_id]
        control = self._control.get(conn_id)
        if pending.full:
            plan.control = None
            plan.control_set = True
            wanted: dict[ObjectKind, dict[str, object]] = {kind: {} for kind in ObjectKind}
            for (kind, key), obj in pending.objects.items():
                if obj is not None:
                    wanted[kind][key] = obj
            for kind in ObjectKind:
                for key, node in existing[kind].items():
                    if key not in wanted[kind]:
                        plan.remove(kind, node)
            items = [(kind, key, obj) for kind in ObjectKind
                     for key, obj in wanted[kind].items()]
        else:
            items = [(kind, key, obj) for (kind, key), obj in pending.objects.items()]
        for kind, key, obj in items:
            node = existing[kind].get(key)
            if obj is None:
                if node is not None:
                    plan.remove(kind, node)
                elif control is not None and kind is ObjectKind.VM and control.key == key:
                    plan.control, plan.control_set = None, True
                continue
            if kind is ObjectKind.VM and getattr(obj, "is_control_domain", False):
                plan.control, plan.control_set = obj, True
                if node is not None:
                    plan.remove(kind, node)
                continue
            if node is None:
                plan.add(kind, Node(_KIND_OF[kind], conn_id, key), obj)
            elif node.obj == obj:
                continue
            elif getattr(node.obj, "name", None) == getattr(obj, "name", None):
                plan.updates.append((node, obj))
            else:   # renamed: its row moves to keep the order by name
                plan.remove(kind, node)
                plan.add(kind, node, obj)
        plan.count_moves(existing)
        return plan

    # ---- executing: mutate and signal ----

    def _execute(self, conn_id: str, pending: _Pending, plan: _Plan,
                 touched: set) -> None:
        host = self._nodes[(conn_id, conn_id)]
        meta = self._meta[conn_id]
        was_live = meta.state is ConnState.CONNECTED
        objects = self._objects[conn_id]
        if plan.control_set:
            if plan.control is None:
                self._control.pop(conn_id, None)
            else:
                self._control[conn_id] = plan.control
        for kind, nodes in plan.removes.items():
            parent = host if kind is ObjectKind.VM else self._group(host, kind)
            if parent is None:
                continue
            for node in nodes:
                objects[kind].pop(node.key, None)
                if self._nodes.get((conn_id, node.key)) is node:
                    del self._nodes[(conn_id, node.key)]
                touched.add((conn_id, node.key))
            if parent is not host and len(nodes) == len(parent.children):
                self._remove_children(host, [parent])    # the group goes with them
                del self._nodes[(conn_id, parent.key)]
            else:
                self._remove_children(parent, nodes)
        for kind, entries in plan.adds.items():
            for node, obj in entries:
                node.obj = obj
                node.sort_key = _sort_key(node.kind, obj, node.key)
                objects[kind][node.key] = node
                self._nodes[(conn_id, node.key)] = node
                touched.add((conn_id, node.key))
            nodes = sorted((node for node, _ in entries), key=_sort_key_of)
            if kind is ObjectKind.VM:
                parent = host
            else:
                parent = self._group(host, kind) or self._add_group(host, kind)
            self._insert_children(parent, nodes)
        by_parent: dict[int, tuple[Node, list[int]]] = {}
        for node, obj in plan.updates:
            node.obj = obj
            touched.add((conn_id, node.key))
            if not self._quiet:
                parent = node.parent
                entry = by_parent.setdefault(id(parent), (parent, []))
                entry[1].append(self._row(node))
        for parent, rows in by_parent.values():
            self._rows_changed(parent, min(rows), max(rows))
        if pending.state is not None:
            event = pending.state
            meta.state = event.state
            meta.reason = event.reason
            if event.host is not None:
                host.obj = event.host
            touched.add((conn_id, conn_id))
            self._host_changed(conn_id)
            if was_live != (meta.state is ConnState.CONNECTED):
                self._subtree_changed(host)     # greyed or back in colour

    def _group(self, host: Node, kind: ObjectKind) -> Node | None:
        return self._nodes.get((host.conn_id, _GROUP_OF[kind]))

    def _add_group(self, host: Node, kind: ObjectKind) -> Node:
        title = _GROUP_OF[kind]
        group = Node(NodeKind.GROUP, host.conn_id, title)
        group.sort_key = _sort_key(NodeKind.GROUP, None, title)
        self._nodes[(host.conn_id, title)] = group
        self._insert_children(host, [group])
        return group

    def _insert_children(self, parent: Node, nodes: list[Node]) -> None:
        """Inserts sorted ``nodes`` into the sorted children of ``parent``, one row
        signal per run of rows that land next to each other."""
        if not nodes:
            return
        children = parent.children
        positions = [bisect_left(children, node.sort_key, key=_sort_key_of)
                     for node in nodes]
        parent_index = self._index_of(parent)
        offset = 0
        start = 0
        while start < len(nodes):
            end = start
            while end < len(nodes) and positions[end] == positions[start]:
                end += 1
            row = positions[start] + offset
            run = nodes[start:end]
            for node in run:
                node.parent = parent
            if not self._quiet:
                self.beginInsertRows(parent_index, row, row + len(run) - 1)
            children[row:row] = run
            if not self._quiet:
                self.endInsertRows()
            offset += len(run)
            start = end

    def _remove_children(self, parent: Node, nodes: list[Node]) -> None:
        """Removes ``nodes`` (children of ``parent``), one row signal per run of rows."""
        if not nodes:
            return
        children = parent.children
        if len(nodes) == len(children):
            rows = [(0, len(children) - 1)]
        else:
            found = sorted(self._row(node) for node in nodes)
            rows = []
            for row in found:
                if rows and rows[-1][1] == row - 1:
                    rows[-1] = (rows[-1][0], row)
                else:
                    rows.append((row, row))
        parent_index = self._index_of(parent)
        for first, last in reversed(rows):
            if not self._quiet:
                self.beginRemoveRows(parent_index, first, last)
            del children[first:last + 1]
            if not self._quiet:
                self.endRemoveRows()

    def _host_changed(self, conn_id: str) -> None:
        node = self._nodes.get((conn_id, conn_id))
        if node is None or self._quiet:
            return
        row = self._hosts.index(node)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def _rows_changed(self, parent: Node, first: int, last: int) -> None:
        parent_index = self._index_of(parent)
        self.dataChanged.emit(self.index(first, 0, parent_index),
                              self.index(last, len(COLUMNS) - 1, parent_index))

    def _subtree_changed(self, parent: Node) -> None:
        if self._quiet or not parent.children:
            return
        self._rows_changed(parent, 0, len(parent.children) - 1)
        for child in parent.children:
            if child.kind is NodeKind.GROUP:
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
        meta = self._meta.get(conn_id)
        return None if meta is None else (meta.state, meta.reason)

    def host_name(self, conn_id: str) -> str:
        node = self._nodes.get((conn_id, conn_id))
        meta = self._meta.get(conn_id)
        if node is None or meta is None:
            return str(conn_id)
        info = node.obj
        if meta.demo or (isinstance(info, HostInfo) and info.is_demo):
            # The test driver reports this machine's host name, which says nothing here.
            name = meta.display_name
            return name if "demo" in name.lower() else f"{name} (demo)"
        if isinstance(info, HostInfo) and info.hostname:
            return info.hostname
        return meta.display_name

    def control_domain(self, conn_id: str) -> VMInfo | None:
        """A Xen host's Dom0, which the tree does not list among the VMs."""
        return self._control.get(conn_id)

    def vms(self, conn_id: str) -> list[VMInfo]:
        """The listed VMs of a host, in tree order."""
        host = self._nodes.get((conn_id, conn_id))
        if host is None:
            return []
        return [n.obj for n in host.children if n.kind is NodeKind.VM]

    def summary(self) -> tuple[int, int, int, bool]:
        """(servers, connected, VMs, demo shown) for the status bar."""
        connected = sum(1 for m in self._meta.values() if m.state is ConnState.CONNECTED)
        vms = sum(len(objects[ObjectKind.VM]) for objects in self._objects.values())
        demo = any(m.demo or (isinstance(self._nodes[(c, c)].obj, HostInfo)
                              and self._nodes[(c, c)].obj.is_demo)
                   for c, m in self._meta.items())
        return len(self._hosts), connected, vms, demo

    # ================= usage columns =================

    def set_usage_source(self, source: "UsageSource") -> None:
        """``source`` fills the CPU and Memory columns (app.perf.usage.UsageColumns)."""
        self._usage_source = source

    def usage_changed(self, conn_id: str) -> None:
        """New figures for one host and its VMs: dataChanged on the usage columns of just
        those rows (no reset, no row moves), at most once per statistics tick."""
        host = self._nodes.get((conn_id, conn_id))
        if host is None or self._quiet:
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

    def _usage(self, node: Node, column: int, role):
        source = getattr(self, "_usage_source", None)
        usage = source.usage(node, role == SORT_ROLE) if source is not None and \
            node.kind in (NodeKind.VM, NodeKind.HOST) else None
        if usage is None:
            return -1.0 if role == SORT_ROLE else None
        cpu, mem_fraction, mem_text = usage
        if column == CPU_COLUMN:
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{cpu:.0f} %" if cpu == cpu else ""
            fraction = cpu / 100.0
        else:
            if role == Qt.ItemDataRole.DisplayRole:
                return mem_text
            fraction = mem_fraction
        if role == SORT_ROLE:
            return fraction if fraction == fraction else -1.0
        return fraction

    def index_of(self, conn_id: str, key: str, column: int = 0) -> QModelIndex:
        node = self._nodes.get((conn_id, key))
        return QModelIndex() if node is None else self._index_of(node, column)

    def _row(self, node: Node) -> int:
        if node.parent is None:
            return self._hosts.index(node)
        siblings = node.parent.children
        row = bisect_left(siblings, node.sort_key, key=_sort_key_of)
        if row < len(siblings) and siblings[row] is node:
            return row
        return siblings.index(node)     # only if a sort key was changed in place

    def _index_of(self, node: Node | None, column: int = 0) -> QModelIndex:
        if node is None:
            return QModelIndex()
        return self.createIndex(self._row(node), column, node)

    # ================= QAbstractItemModel =================

    def index(self, row: int, column: int = 0, parent: QModelIndex = QModelIndex()):
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        children = parent.internalPointer().children if parent.isValid() else self._hosts
        if row >= len(children):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    def parent(self, index: QModelIndex | None = None):  # noqa: D401 - Qt's overload
        if index is None:
            return QObject.parent(self)
        if not index.isValid():
            return QModelIndex()
        node: Node = index.internalPointer()
        if node.parent is None:
            return QModelIndex()
        return self._index_of(node.parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        if not parent.isValid():
            return len(self._hosts)
        if parent.column() != 0:
            return 0
        return len(parent.internalPointer().children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: N802
        # Asked for every row the tree lays out or the proxy filters: no detour.
        if not parent.isValid():
            return bool(self._hosts)
        return parent.column() == 0 and bool(parent.internalPointer().children)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.InitialSortOrderRole and section in USAGE_COLUMNS:
            # A first click on CPU or Memory asks "who uses most?": busiest first.
            return Qt.SortOrder.DescendingOrder
        if role == Qt.ItemDataRole.ToolTipRole and section in USAGE_COLUMNS:
            source = getattr(self, "_usage_source", None)
            return source.header_tooltip(section) if source is not None else None
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        kind = index.internalPointer().kind
        return _ROW_FLAGS if kind is _HOST or kind is _GROUP else _LEAF_FLAGS

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        if role == NODE_ROLE:
            return node
        column = index.column()
        if column in USAGE_COLUMNS and role in (Qt.ItemDataRole.DisplayRole, USAGE_ROLE,
                                                SORT_ROLE):
            return self._usage(node, column, role)
        if column in USAGE_COLUMNS and role == Qt.ItemDataRole.ToolTipRole:
            source = getattr(self, "_usage_source", None)
            return source.tooltip(node, column) if source is not None and \
                node.kind in (NodeKind.VM, NodeKind.HOST) else None
        if role == SORT_ROLE:
            if column == NAME_COLUMN:
                return f"{node.sort_key[0]}{self._name(node).casefold()}"
            return self._state(node)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._name(node) if column == NAME_COLUMN else self._state(node)
        if role == FILTER_ROLE:
            return f"{self._name(node)} {self._state(node)}"
        if role == Qt.ItemDataRole.DecorationRole and column == NAME_COLUMN:
            return self._icon(node)
        if role == Qt.ItemDataRole.ForegroundRole:
            return _GREY if self._greyed(node) else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node)
        return None

    # ---- what a row shows ----

    def _name(self, node: Node) -> str:
        if node.kind is NodeKind.HOST:
            return self.host_name(node.conn_id)
        return node.name

    def _state(self, node: Node) -> str:
        obj = node.obj
        if node.kind is NodeKind.HOST:
            meta = self._meta.get(node.conn_id)
            return "" if meta is None else _host_state_text(
                meta, obj if isinstance(obj, HostInfo) else None)
        if isinstance(obj, VMInfo):
            return _vm_state_text(obj)
        if isinstance(obj, (NetworkInfo, PoolInfo)):
            return obj.state_label
        if node.kind is NodeKind.GROUP:
            return str(len(node.children))
        return ""

    def _icon(self, node: Node):
        obj = node.obj
        if node.kind is NodeKind.HOST:
            meta = self._meta.get(node.conn_id)
            if meta is not None and meta.maintenance and meta.state is ConnState.CONNECTED:
                return icons.icon("host-maintenance")
            return icons.host_icon(meta.state if meta else ConnState.DISCONNECTED)
        if isinstance(obj, VMInfo):
            return icons.vm_icon(obj.state)
        if isinstance(obj, NetworkInfo):
            return icons.network_icon(obj.active)
        if isinstance(obj, PoolInfo):
            return icons.pool_icon(obj.active)
        return icons.group_icon()

    def _greyed(self, node: Node) -> bool:
        """Objects of a host that is not connected show their last known state, greyed."""
        meta = self._meta.get(node.conn_id)
        if meta is None:
            return False
        if node.kind is NodeKind.HOST:
            return meta.state is ConnState.DISCONNECTED
        return meta.state is not ConnState.CONNECTED

    def _tooltip(self, node: Node) -> str:
        obj = node.obj
        meta = self._meta.get(node.conn_id)
        stale = ""
        if meta is not None and meta.state is not ConnState.CONNECTED:
            stale = "\nLast known state: the host is not connected"
        if node.kind is NodeKind.HOST:
            if meta is None:
                return ""
            lines = [self.host_name(node.conn_id), meta.uri]
            if isinstance(obj, HostInfo) and obj.hypervisor_label:
                lines.append(obj.hypervisor_label)
            dom0 = self._control.get(node.conn_id)
            if dom0 is not None:
                lines.append(f"Control domain: {dom0.vcpus} vCPUs, "
                             f"{dom0.memory_kib // 1024} MiB")
            state = meta.state.label + (f": {meta.reason}" if meta.reason else "")
            lines.append(state)
            if meta.maintenance:
                lines.append("In maintenance mode: VMs are not started here")
            return "\n".join(lines)
        if isinstance(obj, VMInfo):
            state = obj.state.label + (f" ({obj.state_reason})" if obj.state_reason else "")
            lines = [obj.name, state]
            if obj.virtualization:
                lines.append(obj.virtualization)
            return "\n".join(lines) + stale
        if isinstance(obj, NetworkInfo):
            forward = obj.forward or "isolated"
            return f"{obj.name}\n{obj.state_label}, {forward}" + stale
        if isinstance(obj, PoolInfo):
            return f"{obj.name}\n{obj.state_label}, {obj.pool_type}" + stale
        return node.name


@dataclass
class _Plan:
    """The net effect of a batch on one host, worked out before any row signal."""

    removes: dict = field(default_factory=dict)   # ObjectKind -> [Node]
    adds: dict = field(default_factory=dict)      # ObjectKind -> [(Node, record)]
    updates: list = field(default_factory=list)   # [(Node, record)]
    control: VMInfo | None = None
    control_set: bool = False
    moves: int = 0

    def remove(self, kind: ObjectKind, node: Node) -> None:
        self.removes.setdefault(kind, []).append(node)

    def add(self, kind: ObjectKind, node: Node, obj) -> None:
        self.adds.setdefault(kind, []).append((node, obj))

    def count_moves(self, existing: dict) -> None:
        """Roughly how many row signals the plan needs: emptying or filling a parent is
        one; anything else one per row at worst."""
        moves = 0
        for kind, nodes in self.removes.items():
            moves += 1 if len(nodes) >= len(existing[kind]) else len(nodes)
        for kind, entries in self.adds.items():
            left = len(existing[kind]) - len(self.removes.get(kind, ()))
            moves += 1 if left <= 0 else len(entries)
        self.moves = moves


def _fold(pending: _Pending, event: HostEvent) -> None:
    if isinstance(event, HostStateChanged):
        pending.state = event
    elif isinstance(event, InventoryChanged):
        if event.full:
            pending.full = True
            pending.objects = {(c.kind, c.key): c.obj for c in event.changes
                               if c.obj is not None}
        elif pending.full:
            for change in event.changes:
                if change.obj is None:
                    pending.objects.pop((change.kind, change.key), None)
                else:
                    pending.objects[(change.kind, change.key)] = change.obj
        else:
            for change in event.changes:
                pending.objects[(change.kind, change.key)] = change.obj
    # HypervisorEvent: words for the events log, nothing for the tree


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

    def node(self, index: QModelIndex) -> Node | None:
        return index.data(NODE_ROLE) if index.isValid() else None


def iter_nodes(model: QAbstractItemModel, parent: QModelIndex = QModelIndex()
               ) -> Iterable[Node]:
    """Every node a model (or a proxy over it) shows, depth first, in row order."""
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index.data(NODE_ROLE)
        yield from iter_nodes(model, index)


__all__ = ["NODE_ROLE", "FILTER_ROLE", "USAGE_ROLE", "SORT_ROLE", "COLUMNS", "NodeKind",
           "Node", "InventoryModel", "InventoryFilterProxy", "iter_nodes"]
