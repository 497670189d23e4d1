"""The inventory's diff engine: from a host's queued events to the rows that must move.

Plain Python, no Qt: the item model (model.py) executes what is worked out here as row
signals, and tests/unit/test_inventory_diff.py checks it without a Qt application.

Three steps, each cheap at 10,000 VMs:

1. ``HostChanges.fold(event)``: everything queued for one host since the last batch,
   folded into the last connection state and the *net* change per object (a VM started
   and stopped within 50 ms is one update; a full snapshot replaces what came before it).
2. ``plan(...)``: that net change compared with the host's current rows, giving a
   ``Plan``: which nodes go, which come (new nodes, or renamed ones that move to keep the
   order by name), which only get a new record, and the Xen control domain (not a row).
   Nothing is touched yet, so the caller can count the moves first and choose between
   row signals and one model reset.
3. ``insertion_runs`` and ``removal_runs``: for one parent, where the rows go as runs of
   adjacent rows, one row signal each (a snapshot of 10,000 VMs into an empty host is one
   run, not 10,000).
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.inventory.nodes import KIND_OF, Node, record_name, row_among, sort_key_of
from connectors.libvirt.model import (HostEvent, HostStateChanged, InventoryChanged,
                                      InventoryObject, ObjectKind, VMInfo)

ObjectId = tuple[ObjectKind, str]


@dataclass
class HostChanges:
    """Everything queued for one host, folded: the last state and the net object changes.

    ``objects`` maps (kind, key) to the newest record, or to None for "gone"; after a full
    snapshot (``full``) it is the host's whole inventory, and an object absent is gone.
    """

    state: HostStateChanged | None = None
    full: bool = False
    objects: dict[ObjectId, InventoryObject | None] = field(default_factory=dict)

    def fold(self, event: HostEvent) -> None:
        if isinstance(event, HostStateChanged):
            self.state = event
        elif isinstance(event, InventoryChanged):
            if event.full:
                self.full = True
                self.objects = {(c.kind, c.key): c.obj for c in event.changes
                                if c.obj is not None}
            elif self.full:
                for change in event.changes:
                    if change.obj is None:
                        self.objects.pop((change.kind, change.key), None)
                    else:
                        self.objects[(change.kind, change.key)] = change.obj
            else:
                for change in event.changes:
                    self.objects[(change.kind, change.key)] = change.obj
        # HypervisorEvent: words for the events log, nothing for the tree


def fold_queue(queue: Iterable[tuple[str, HostEvent]],
               hosts: Mapping[str, object]) -> dict[str, HostChanges]:
    """The queue folded per host, in the order hosts first appear; events of a host not
    in ``hosts`` (removed while its events were queued) are dropped."""
    folded: dict[str, HostChanges] = {}
    for conn_id, event in queue:
        if conn_id in hosts:
            changes = folded.get(conn_id)
            if changes is None:
                changes = folded[conn_id] = HostChanges()
            changes.fold(event)
    return folded


@dataclass
class Plan:
    """The net effect of a batch on one host, worked out before any row signal."""

    removes: dict[ObjectKind, list[Node]] = field(default_factory=dict)
    adds: dict[ObjectKind, list[tuple[Node, InventoryObject]]] = field(default_factory=dict)
    updates: list[tuple[Node, InventoryObject]] = field(default_factory=list)
    control: VMInfo | None = None    # the control domain, when control_set
    control_set: bool = False
    moves: int = 0                   # roughly how many row signals: see count_moves

    def remove(self, kind: ObjectKind, node: Node) -> None:
        self.removes.setdefault(kind, []).append(node)

    def add(self, kind: ObjectKind, node: Node, obj: InventoryObject) -> None:
        self.adds.setdefault(kind, []).append((node, obj))

    def count_moves(self, existing: Mapping[ObjectKind, Mapping[str, Node]]) -> None:
        """Roughly how many row signals the plan needs: emptying or filling a parent is
        one; anything else one per row at worst."""
        moves = 0
        for kind, nodes in self.removes.items():
            moves += 1 if len(nodes) >= len(existing[kind]) else len(nodes)
        for kind, entries in self.adds.items():
            left = len(existing[kind]) - len(self.removes.get(kind, ()))
            moves += 1 if left <= 0 else len(entries)
        self.moves = moves


def plan(conn_id: str, changes: HostChanges,
         existing: Mapping[ObjectKind, Mapping[str, Node]],
         control: VMInfo | None) -> Plan:
    """What ``changes`` do to a host whose rows are ``existing`` (kind -> key -> Node) and
    whose control domain is ``control``. New objects get new Nodes (not yet in the tree);
    a kept object keeps its Node, so selections and lookups survive a reconnect."""
    result = Plan()
    if changes.full:
        result.control = None
        result.control_set = True
        wanted: dict[ObjectKind, dict[str, InventoryObject]] = {kind: {} for kind in ObjectKind}
        for (kind, key), obj in changes.objects.items():
            if obj is not None:
                wanted[kind][key] = obj
        for kind in ObjectKind:
            for key, gone in existing[kind].items():
                if key not in wanted[kind]:
                    result.remove(kind, gone)
        items: list[tuple[ObjectKind, str, InventoryObject | None]] = [
            (kind, key, obj) for kind in ObjectKind for key, obj in wanted[kind].items()]
    else:
        items = [(kind, key, obj) for (kind, key), obj in changes.objects.items()]
    for kind, key, obj in items:
        node = existing[kind].get(key)
        if obj is None:
            if node is not None:
                result.remove(kind, node)
            elif control is not None and kind is ObjectKind.VM and control.key == key:
                result.control, result.control_set = None, True
            continue
        if isinstance(obj, VMInfo) and obj.is_control_domain:
            result.control, result.control_set = obj, True
            if node is not None:
                result.remove(kind, node)
            continue
        if node is None:
            result.add(kind, Node(KIND_OF[kind], conn_id, key), obj)
        elif node.obj == obj:
            continue
        elif record_name(node.obj) == obj.name and not _changes_server(node.obj, obj):
            result.updates.append((node, obj))
        else:   # renamed (its row moves to keep the order by name), or moved to
            # another member host of a XenAPI pool (started, stopped, migrated)
            result.remove(kind, node)
            result.add(kind, node, obj)
    result.count_moves(existing)
    return result


def _changes_server(old: object, new: InventoryObject) -> bool:
    return isinstance(old, VMInfo) and isinstance(new, VMInfo) and \
        old.server_key != new.server_key


def insertion_runs(children: list[Node], nodes: list[Node]) -> list[tuple[int, list[Node]]]:
    """Where sorted ``nodes`` go among the sorted ``children`` of one parent, as runs of
    rows that land next to each other: (row, run), each row counted after inserting the
    runs before it, so that inserting them in this order keeps the children sorted."""
    positions = [bisect_left(children, node.sort_key, key=sort_key_of) for node in nodes]
    runs: list[tuple[int, list[Node]]] = []
    offset = 0
    start = 0
    while start < len(nodes):
        end = start
        while end < len(nodes) and positions[end] == positions[start]:
            end += 1
        runs.append((positions[start] + offset, nodes[start:end]))
        offset += end - start
        start = end
    return runs


def removal_runs(children: list[Node], nodes: list[Node]) -> list[tuple[int, int]]:
    """The rows of ``nodes`` (some of ``children``) as runs (first, last), last run
    first: removing them in this order leaves the rows of the runs still to go in place."""
    if len(nodes) == len(children):
        return [(0, len(children) - 1)] if children else []
    runs: list[tuple[int, int]] = []
    for row in sorted(row_among(children, node) for node in nodes):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    runs.reverse()
    return runs
