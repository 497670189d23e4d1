"""What the inventory holds: one Node per row, and what it keeps of each connection.

Plain Python (no Qt): the diff engine plans with these, the item model hands them to views
as the index's internal pointer, and every other part of the program receives them as the
selection (a command's ``can_run(nodes)``, a tab's ``set_node(node)``).

A row's place among its siblings is decided by its ``sort_key`` alone, so a row is found
by bisection in its parent's sorted children instead of a walk (10,000 VMs under one host).
"""
from __future__ import annotations

import enum
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TypeAlias

from connectors.libvirt.model import (ConnState, HostInfo, InventoryObject, NetworkInfo,
                                      ObjectKind, PoolInfo, ServerInfo, VMInfo)

NETWORKS_GROUP = "Networks"
STORAGE_GROUP = "Storage"

Record: TypeAlias = VMInfo | NetworkInfo | PoolInfo | ServerInfo | HostInfo
"""What a row stands for: an object's record, or a host's HostInfo (None before the first
connect, and for a group)."""

SortKey: TypeAlias = tuple[int, str, str, str]
"""(rank, folded name, name, key): objects (rank 0) by name, ignoring case first, then the
groups after them in a fixed order; the key last, so that equal names keep one order."""


class NodeKind(enum.Enum):
    HOST = "host"
    VM = "vm"
    GROUP = "group"
    NETWORK = "network"
    POOL = "pool"
    SERVER = "server"     # a member host of a XenAPI pool: its resident VMs under it


# A host's objects: the kind of row each becomes and, for all but VMs, the group it is
# listed under (a host's direct children are its VMs, then these groups in this order).
KIND_OF: dict[ObjectKind, NodeKind] = {ObjectKind.VM: NodeKind.VM,
                                       ObjectKind.NETWORK: NodeKind.NETWORK,
                                       ObjectKind.POOL: NodeKind.POOL,
                                       ObjectKind.SERVER: NodeKind.SERVER}
GROUP_OF: dict[ObjectKind, str] = {ObjectKind.NETWORK: NETWORKS_GROUP,
                                   ObjectKind.POOL: STORAGE_GROUP}
GROUP_RANK: dict[str, int] = {NETWORKS_GROUP: 1, STORAGE_GROUP: 2}


@dataclass(eq=False, slots=True)
class Node:
    """One row of the tree. Identity matters (Qt indexes point at it), hence eq=False.
    Slots: 10,000 of them each carried an attribute dict of their own (1.3 MB).

    ``key`` is the object's UUID; for a host it is its conn_id, for a group its title.
    ``obj`` is the latest record (VMInfo, NetworkInfo, PoolInfo, HostInfo or None); a
    batch replaces it, never mutates it, so holders of an old record can compare.
    """

    kind: NodeKind
    conn_id: str
    key: str
    obj: Record | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    sort_key: SortKey = (0, "", "", "")

    @property
    def name(self) -> str:
        """The object's name; a group's title; a host's conn_id (the presenter names a
        host row). Asked for every row the filter matches: no calls beyond this one."""
        obj = self.obj
        if obj is None or self.kind is NodeKind.GROUP or isinstance(obj, HostInfo):
            return self.key
        return obj.name or self.key


@dataclass
class HostFacts:
    """What the tree shows of a connection besides its HostInfo: how the user named it, the
    state the tree shows (as of the last batch), and a Xen host's control domain (Dom0),
    which is the host itself and so not one of its VM rows."""

    uri: str
    display_name: str
    demo: bool = False
    state: ConnState = ConnState.CONNECTING
    reason: str = ""
    control_domain: VMInfo | None = None
    maintenance: bool = False   # app.maintenance: nothing is to be started there


def record_name(obj: Record | None) -> str:
    """An object's name; "" for a HostInfo (a host row is named by the presenter) or none."""
    if obj is None or isinstance(obj, HostInfo):
        return ""
    return obj.name


def object_sort_key(obj: InventoryObject, key: str) -> SortKey:
    """A pool's member hosts (rank -1) come before its halted VMs, as in XenCenter."""
    name = obj.name or key
    return (-1 if isinstance(obj, ServerInfo) else 0, name.casefold(), name, key)


def group_sort_key(title: str) -> SortKey:
    return (GROUP_RANK[title], title.casefold(), title, title)


def sort_key_of(node: Node) -> SortKey:
    return node.sort_key


def row_among(siblings: list[Node], node: Node) -> int:
    """The row of ``node`` in its parent's sorted children (bisection)."""
    row = bisect_left(siblings, node.sort_key, key=sort_key_of)
    if row < len(siblings) and siblings[row] is node:
        return row
    return siblings.index(node)     # only if a sort key was changed in place
