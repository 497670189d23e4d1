"""The inventory's diff engine on its own, with no Qt: what a host's queued events come to
(folding), which rows that changes (planning) and how rows move in runs.

The item model's tests (test_app_inventory.py) check the same through row signals and a
view's eyes; these pin down the decisions, at sizes and orders the model's tests do not
reach cheaply.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from app.inventory.diff import (HostChanges, fold_queue, insertion_runs, plan,
                                removal_runs)
from app.inventory.nodes import Node, NodeKind, object_sort_key
from connectors.libvirt.model import (Change, ConnState, HostStateChanged, HypervisorEvent,
                                      InventoryChanged, NetworkInfo, ObjectKind, VMInfo,
                                      VMState)

ROOT = Path(__file__).resolve().parents[2]


def vm(name, state=VMState.SHUTOFF, key=None, dom0=False):
    return VMInfo(key=key or f"uuid-{name}", name=name, state=state, state_reason="",
                  domain_type="kvm", os_type="hvm", arch="x86_64", virtualization="",
                  vcpus=1, max_vcpus=1, memory_kib=1024, max_memory_kib=1024,
                  persistent=True, autostart=False, managed_save=False,
                  is_control_domain=dom0)


def net(name):
    return NetworkInfo(key=f"net-{name}", name=name, active=True, persistent=True,
                       autostart=False)


def full(*objs):
    return InventoryChanged(tuple(Change(kind_of(o), o.key, o) for o in objs), full=True)


def partial(*objs, gone=()):
    changes = [Change(kind_of(o), o.key, o) for o in objs]
    changes += [Change(ObjectKind.VM, key, None) for key in gone]
    return InventoryChanged(tuple(changes))


def kind_of(obj):
    return ObjectKind.VM if isinstance(obj, VMInfo) else ObjectKind.NETWORK


def rows(*objs, conn="c1"):
    """A host's current rows as the model keeps them: kind -> key -> Node."""
    existing = {kind: {} for kind in ObjectKind}
    for obj in objs:
        node = Node(NodeKind.VM if isinstance(obj, VMInfo) else NodeKind.NETWORK, conn,
                    obj.key, obj, sort_key=object_sort_key(obj, obj.key))
        existing[kind_of(obj)][obj.key] = node
    return existing


def folded(*events):
    changes = HostChanges()
    for event in events:
        changes.fold(event)
    return changes


def names(entries):
    return sorted(obj.name for _, obj in entries)


# ---- folding ----

def test_a_start_and_a_stop_in_one_batch_are_one_change_to_the_last_record():
    a = vm("a")
    changes = folded(partial(replace(a, state=VMState.RUNNING)),
                     HypervisorEvent(ObjectKind.VM, a.key, a.name, "Started"),
                     partial(replace(a, state=VMState.SHUTOFF, state_reason="destroyed")))
    assert changes.objects == {(ObjectKind.VM, a.key): replace(a, state_reason="destroyed")}
    assert changes.state is None and not changes.full


def test_the_last_connection_state_wins():
    changes = folded(HostStateChanged(ConnState.RECONNECTING, "keepalive"),
                     HostStateChanged(ConnState.CONNECTED))
    assert changes.state == HostStateChanged(ConnState.CONNECTED)


def test_a_snapshot_replaces_what_was_queued_before_it_and_absorbs_what_follows():
    changes = folded(partial(vm("early")), full(vm("a"), vm("b")),
                     partial(vm("c"), gone=["uuid-a"]))
    assert changes.full
    assert sorted(obj.name for obj in changes.objects.values()) == ["b", "c"], \
        "after a snapshot a removal simply drops the object: absent is gone"


def test_events_of_a_removed_host_are_dropped_and_hosts_keep_their_order():
    queue = [("c2", partial(vm("x"))), ("gone", partial(vm("y"))), ("c1", partial(vm("z")))]
    result = fold_queue(queue, {"c1": None, "c2": None})
    assert list(result) == ["c2", "c1"]


# ---- planning ----

def test_a_first_snapshot_adds_every_object_and_no_control_domain():
    dom0 = vm("Domain-0", dom0=True, key="0000")
    result = plan("c1", folded(full(vm("b"), vm("a"), dom0, net("lan"))), rows(), None)
    assert names(result.adds[ObjectKind.VM]) == ["a", "b"]
    assert names(result.adds[ObjectKind.NETWORK]) == ["lan"]
    assert result.control == dom0 and result.control_set, "Dom0 is the host, not a row"
    assert not result.removes and not result.updates
    assert result.moves == 2, "filling an empty parent is one row signal per kind"


def test_an_unchanged_snapshot_plans_nothing():
    objs = [vm(f"v{i}") for i in range(50)]
    result = plan("c1", folded(full(*objs)), rows(*objs), None)
    assert not result.adds and not result.removes and not result.updates
    assert result.moves == 0


def test_a_snapshot_removes_what_it_no_longer_lists_and_keeps_the_nodes_of_the_rest():
    a, b = vm("a"), vm("b")
    existing = rows(a, b, net("old"))
    running = replace(a, state=VMState.RUNNING)
    result = plan("c1", folded(full(running)), existing, None)
    assert [n.key for n in result.removes[ObjectKind.VM]] == [b.key]
    assert [n.key for n in result.removes[ObjectKind.NETWORK]] == ["net-old"]
    assert result.updates == [(existing[ObjectKind.VM][a.key], running)], \
        "a kept VM keeps its node (the user's selection points at it)"
    assert result.control is None and result.control_set, \
        "a snapshot without a control domain clears it"


def test_a_rename_moves_the_row_a_state_change_does_not():
    a, b = vm("a"), vm("b")
    existing = rows(a, b)
    result = plan("c1", folded(partial(replace(a, name="z"),
                                       replace(b, state=VMState.PAUSED))), existing, None)
    node_a = existing[ObjectKind.VM][a.key]
    assert result.removes[ObjectKind.VM] == [node_a]
    assert result.adds[ObjectKind.VM] == [(node_a, replace(a, name="z"))], \
        "the same node comes back at its new place"
    assert [obj.state for _, obj in result.updates] == [VMState.PAUSED]


def test_the_control_domain_is_never_a_row_and_goes_when_it_is_gone():
    dom0 = vm("Domain-0", dom0=True, key="0000")
    result = plan("c1", folded(partial(replace(dom0, memory_kib=4096))), rows(), dom0)
    assert result.control.memory_kib == 4096 and not result.adds
    result = plan("c1", folded(partial(gone=["0000"])), rows(), dom0)
    assert result.control_set and result.control is None
    result = plan("c1", folded(partial(gone=["unknown"])), rows(), dom0)
    assert not result.control_set, "another object's removal leaves Dom0 alone"


def test_moves_count_one_signal_per_row_when_rows_land_among_others():
    existing = rows(*(vm(f"v{i:03d}") for i in range(0, 100, 2)))
    result = plan("c1", folded(partial(*(vm(f"v{i:03d}") for i in range(1, 100, 2)))),
                  existing, None)
    assert result.moves == 50
    gone = plan("c1", folded(partial(gone=[f"uuid-v{i:03d}" for i in range(0, 100, 2)])),
                existing, None)
    assert gone.moves == 1, "emptying a parent is one signal"


# ---- rows in runs ----

def nodes_named(*names_):
    return [Node(NodeKind.VM, "c1", n, vm(n), sort_key=object_sort_key(vm(n), n))
            for n in names_]


def test_insertions_come_in_runs_of_adjacent_rows_that_keep_the_order():
    children = nodes_named("b", "d", "f")
    new = nodes_named("a", "c", "c2", "g", "h")
    runs = insertion_runs(children, new)
    assert [(row, [n.key for n in run]) for row, run in runs] == \
        [(0, ["a"]), (2, ["c", "c2"]), (6, ["g", "h"])]
    for row, run in runs:
        children[row:row] = run
    assert [n.key for n in children] == ["a", "b", "c", "c2", "d", "f", "g", "h"]


def test_ten_thousand_rows_into_an_empty_parent_are_one_run():
    new = nodes_named(*(f"vm-{i:05d}" for i in range(10_000)))
    runs = insertion_runs([], new)
    assert len(runs) == 1 and runs[0][0] == 0 and len(runs[0][1]) == 10_000


def test_removals_come_in_runs_last_first():
    children = nodes_named(*"abcdefg")
    runs = removal_runs(children, [children[i] for i in (5, 1, 2, 6)])
    assert runs == [(5, 6), (1, 2)]
    for first, last in runs:
        del children[first:last + 1]
    assert [n.key for n in children] == ["a", "d", "e"]
    everything = nodes_named(*"xyz")
    assert removal_runs(everything, list(everything)) == [(0, 2)]


def test_the_diff_engine_runs_in_a_python_without_qt():
    """Its own module, not a part of the Qt model: imported with Qt made unimportable (and
    without the package's __init__, which re-exports the model), in a fresh interpreter."""
    code = ("import sys, types\n"
            "for name in ('PySide6', 'shiboken6'): sys.modules[name] = None\n"
            "import app\n"
            "package = types.ModuleType('app.inventory')\n"
            "package.__path__ = ['app/inventory']\n"
            "sys.modules['app.inventory'] = package\n"
            "import app.inventory.diff, app.inventory.nodes\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
