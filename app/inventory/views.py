"""The ways the tree can group VMs (View menu): by server (the inventory itself), by
folder (nested), by tag (a VM under each of its tags), by a custom field's value, by state.

Plain Python: ``View.paths(vm)`` says under which group paths a VM is listed, and
``build`` turns every VM into the sorted group tree the grouped model shows. A VM that
has no tag, folder or value for the field is listed under one last group that says so,
so no VM ever drops out of a view.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Iterable

from connectors.libvirt.model import VMInfo

from .nodes import Node

NO_FOLDER = "Not in a folder"
UNTAGGED = "No tags"

Path = tuple[str, ...]


class ViewKind(enum.Enum):
    SERVER = "server"
    FOLDER = "folder"
    TAG = "tag"
    FIELD = "field"
    STATE = "state"


@dataclass(frozen=True)
class View:
    kind: ViewKind = ViewKind.SERVER
    field_name: str = ""            # for ViewKind.FIELD

    @property
    def key(self) -> str:
        """How the choice is remembered: "folder", "field:owner"."""
        return f"field:{self.field_name}" if self.kind is ViewKind.FIELD else self.kind.value

    @classmethod
    def from_key(cls, key: str) -> View:
        if key.startswith("field:") and key[6:].strip():
            return cls(ViewKind.FIELD, key[6:].strip())
        try:
            kind = ViewKind(key)
        except ValueError:
            return cls()
        return cls() if kind is ViewKind.FIELD else cls(kind)

    @property
    def label(self) -> str:
        if self.kind is ViewKind.FIELD:
            return f"By {self.field_name}"
        return "By " + self.kind.value.capitalize()

    @property
    def none_group(self) -> str:
        """The last group: VMs without a folder, tag or value."""
        if self.kind is ViewKind.FOLDER:
            return NO_FOLDER
        if self.kind is ViewKind.TAG:
            return UNTAGGED
        return f"No {self.field_name}"

    def paths(self, vm: VMInfo) -> list[Path]:
        """The groups this VM is listed under (one path per group, outermost first)."""
        kind = self.kind
        if kind is ViewKind.FOLDER:
            # VMInfo.folder is normalised when read ("" or "/a/b"): a split suffices.
            return [tuple(vm.folder[1:].split("/"))] if vm.folder else [(self.none_group,)]
        if kind is ViewKind.TAG:
            return [(tag,) for tag in vm.tags] or [(self.none_group,)]
        if kind is ViewKind.STATE:
            return [(vm.state.label,)]
        if kind is ViewKind.FIELD:
            for name, value in vm.custom_fields:
                if name == self.field_name:
                    return [(value,)]
            return [(self.none_group,)]
        return []


@dataclass(eq=False)
class Group:
    """A group row: its title, its path from the top, subgroups and VM rows (both
    sorted), and its parent (None at the top)."""

    title: str
    path: Path
    parent: Group | None = None
    groups: list[Group] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)
    last: bool = False              # the "No tags" group: listed after the others
    total: int = 0                  # VMs in it and below (a VM counted once per row)

    @property
    def children_count(self) -> int:
        return len(self.groups) + len(self.leaves)


@dataclass(eq=False)
class Leaf:
    """A VM's row in one group (a VM with two tags has two). ``node`` is the inventory's
    Node, which is what selection and commands get."""

    node: Node
    parent: Group


GroupKey = Callable[[str], tuple[int, object, str]]


def text_order(title: str) -> tuple[int, object, str]:
    return (0, title.casefold(), title)


def build(view: View, nodes: Iterable[Node],
          order: GroupKey = text_order) -> tuple[Group, dict[tuple[str, str], list[Leaf]]]:
    """The root group of the view over these VM nodes, and each VM's rows by
    (conn_id, key). ``order`` sorts the groups of one level (a number field sorts 2
    before 10)."""
    root = Group("", ())
    by_path: dict[Path, Group] = {(): root}
    leaves: dict[tuple[str, str], list[Leaf]] = {}
    none_title = view.none_group if view.kind is not ViewKind.STATE else None
    for node in nodes:
        vm = node.obj
        if not isinstance(vm, VMInfo):
            continue
        for path in view.paths(vm):
            group = _group(by_path, path, none_title)
            leaf = Leaf(node, group)
            group.leaves.append(leaf)
            leaves.setdefault((node.conn_id, node.key), []).append(leaf)
    for group in by_path.values():
        group.groups.sort(key=lambda g: (g.last, order(g.title)))
        group.leaves.sort(key=lambda leaf: leaf.node.sort_key)
    _count(root)
    return root, leaves


def _group(by_path: dict[Path, Group], path: Path, none_title: str | None) -> Group:
    found = by_path.get(path)
    if found is not None:
        return found
    parent = _group(by_path, path[:-1], none_title)
    group = Group(path[-1], path, parent,
                  last=len(path) == 1 and none_title is not None and path[0] == none_title)
    parent.groups.append(group)
    by_path[path] = group
    return group


def _count(group: Group) -> int:
    group.total = len(group.leaves) + sum(_count(g) for g in group.groups)
    return group.total


def signature(root: Group) -> list[tuple[Path, tuple[tuple[str, str], ...]]]:
    """The shape of a built view: which rows in which order. Two builds with the same
    signature differ only in what rows show, not in which rows there are."""
    out = []
    stack = [root]
    while stack:
        group = stack.pop()
        out.append((group.path, tuple((leaf.node.conn_id, leaf.node.key)
                                      for leaf in group.leaves)))
        stack.extend(reversed(group.groups))
    return out
