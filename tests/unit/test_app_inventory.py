"""The inventory model fed the connector's own records: batching, snapshots, removal,
greying, the control domain and the filter box."""
from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from app.inventory import (FILTER_ROLE, NAME_COLUMN, NODE_ROLE, InventoryFilterProxy,
                           InventoryModel, NodeKind, iter_nodes)
from connectors.libvirt.model import (Change, ConnState, HostInfo, HostStateChanged,
                                      HypervisorEvent, InventoryChanged, NetworkInfo,
                                      ObjectKind, PoolInfo, VMInfo, VMState)


def vm(name, state=VMState.SHUTOFF, key=None, dom0=False, reason=""):
    return VMInfo(key=key or f"uuid-{name}", name=name, state=state, state_reason=reason,
                  domain_type="kvm", os_type="hvm", arch="x86_64",
                  virtualization="Hardware-assisted (KVM)", vcpus=1, max_vcpus=2,
                  memory_kib=1024, max_memory_kib=2048, persistent=True, autostart=False,
                  managed_save=False, is_control_domain=dom0)


def net(name, active=True):
    return NetworkInfo(key=f"net-{name}", name=name, active=active, persistent=True,
                       autostart=False)


def pool(name, state="running"):
    return PoolInfo(key=f"pool-{name}", name=name, state=state, pool_type="dir",
                    persistent=True, autostart=False)


INFO = HostInfo(uri="test:///default", hostname="kvm1.example.org", driver="TEST",
                hypervisor_label="Test driver", hypervisor_version="1", libvirt_version="9",
                arch="x86_64", cpu_model="", cpus=4, sockets=1, cores=4, threads=1,
                mhz=1000, memory_kib=1 << 20)

_KIND = {VMInfo: ObjectKind.VM, NetworkInfo: ObjectKind.NETWORK, PoolInfo: ObjectKind.POOL}


def change(obj, key=None):
    if obj is None:
        return Change(ObjectKind.VM, key, None)
    return Change(_KIND[type(obj)], obj.key, obj)


def full(*objs):
    return InventoryChanged(tuple(change(o) for o in objs), full=True)


def partial(*changes):
    return InventoryChanged(tuple(changes))


@pytest.fixture
def model(qapp):
    model = InventoryModel()
    # Qt's own checker: fails the test on any inconsistent index, parent or row signal.
    model._tester = QAbstractItemModelTester(
        model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    batches = []
    model.batchApplied.connect(batches.append)
    model.batches = batches
    return model


def connect(model, conn="c1", objs=()):
    model.add_host(conn, "test:///default", "localhost")
    model.apply(conn, HostStateChanged(ConnState.CONNECTING))
    model.apply(conn, full(*objs))
    model.apply(conn, HostStateChanged(ConnState.CONNECTED, host=INFO))
    model.flush()
    return model.index(model.host_ids().index(conn), 0)


def child_names(model, parent):
    return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]


def test_host_shows_its_vms_sorted_then_networks_and_storage(model):
    host = connect(model, objs=[vm("web"), vm("Db"), vm("app"), net("default"),
                                pool("images")])
    assert host.data() == "kvm1.example.org"
    assert model.index(0, 1).data() == "Test driver"
    assert host.data(NODE_ROLE).kind is NodeKind.HOST and host.data(NODE_ROLE).obj is INFO
    assert child_names(model, host) == ["app", "Db", "web", "Networks", "Storage"]
    networks = model.index(3, 0, host)
    assert networks.data(NODE_ROLE).kind is NodeKind.GROUP
    assert child_names(model, networks) == ["default"]
    assert model.index(0, 1, networks).data() == "Active"
    web = model.node("c1", "uuid-web")
    assert web.kind is NodeKind.VM and web.obj.name == "web" and web.parent.kind is \
        NodeKind.HOST
    assert model.index(2, 1, host).data() == "Shut off"
    assert not model.index(2, 0, host).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert "Hardware-assisted (KVM)" in model.index(2, 0, host).data(
        Qt.ItemDataRole.ToolTipRole)
    assert model.summary() == (1, 1, 3, False)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(2)] == \
        ["Name", "State"]


def test_host_row_before_connecting_and_while_reconnecting(model):
    model.add_host("c1", "qemu+ssh://root@kvm2/system", "kvm2")
    assert model.index(0, 0).data() == "kvm2"
    assert model.index(0, 1).data() == "Connecting…"
    model.apply("c1", HostStateChanged(ConnState.RECONNECTING, "keepalive timed out"))
    assert model.index(0, 1).data() == "Connecting…", "nothing changes before the batch"
    model.flush()
    assert model.index(0, 1).data() == "Reconnecting: keepalive timed out"
    assert model.host_state("c1") == (ConnState.RECONNECTING, "keepalive timed out")


def test_a_storm_of_1000_events_is_one_batch(model, qtbot):
    vms = [vm(f"vm-{i:04d}") for i in range(1000)]
    host = connect(model, objs=vms)
    assert len(model.batches) == 1
    changed = []
    model.dataChanged.connect(lambda tl, br, roles: changed.append((tl.row(), br.row())))
    with qtbot.waitSignal(model.batchApplied, timeout=2000) as blocker:
        for v in vms:
            model.apply("c1", partial(change(replace(v, state=VMState.RUNNING))))
            model.apply("c1", HypervisorEvent(ObjectKind.VM, v.key, v.name, "Started"))
    assert len(model.batches) == 2, "1,000 events were applied as one batch"
    assert len(blocker.args[0]) == 1000
    assert changed == [(0, 999)], "one dataChanged for the whole run of rows"
    assert {model.index(r, 1, host).data() for r in range(1000)} == {"Running"}


def test_full_snapshot_replaces_the_hosts_children(model):
    host = connect(model, objs=[vm("a"), vm("b"), net("n1")])
    a_node = model.node("c1", "uuid-a")
    model.apply("c1", full(vm("a", VMState.RUNNING), vm("c"), pool("p")))
    model.flush()
    assert child_names(model, host) == ["a", "c", "Storage"]
    assert model.node("c1", "uuid-b") is None and model.node("c1", "net-n1") is None
    assert model.node("c1", "uuid-a") is a_node, "a kept VM keeps its node (and selection)"
    assert a_node.obj.state is VMState.RUNNING
    assert {("c1", "uuid-b"), ("c1", "uuid-c"), ("c1", "uuid-a")} <= model.batches[-1]


def test_unchanged_snapshot_moves_no_rows(model):
    vms = [vm(f"v{i}") for i in range(50)]
    connect(model, objs=vms)
    moved = []
    model.rowsInserted.connect(lambda *a: moved.append("in"))
    model.rowsRemoved.connect(lambda *a: moved.append("out"))
    model.modelReset.connect(lambda: moved.append("reset"))
    model.apply("c1", full(*vms))
    model.flush()
    assert moved == []


def test_partial_changes_insert_update_remove_and_rename(model):
    host = connect(model, objs=[vm("b"), vm("d")])
    model.apply("c1", partial(change(vm("c")), change(vm("a"))))
    model.apply("c1", partial(change(None, key="uuid-d")))
    model.apply("c1", partial(change(vm("z", key="uuid-b"))))   # b renamed to z
    model.flush()
    assert child_names(model, host) == ["a", "c", "z"]
    assert model.node("c1", "uuid-b").obj.name == "z"
    model.apply("c1", partial(change(net("lan"))))
    model.flush()
    assert child_names(model, host) == ["a", "c", "z", "Networks"]
    model.apply("c1", partial(Change(ObjectKind.NETWORK, "net-lan", None)))
    model.flush()
    assert child_names(model, host) == ["a", "c", "z"], "an empty group is not shown"


def test_a_large_scattered_batch_is_one_reset_and_keeps_order(model):
    host = connect(model, objs=[vm(f"v{i:05d}") for i in range(0, 4000, 2)])
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    model.apply("c1", partial(*(change(vm(f"v{i:05d}")) for i in range(1, 4000, 2))))
    model.flush()
    assert resets == [1]
    names = child_names(model, host)
    assert names == [f"v{i:05d}" for i in range(4000)]


def test_remove_host_drops_it_and_ignores_its_queued_events(model):
    connect(model, "c1", [vm("a")])
    connect(model, "c2", [vm("b")])
    model.apply("c1", partial(change(vm("late"))))
    model.remove_host("c1")
    model.flush()
    assert model.rowCount() == 1 and model.host_ids() == ["c2"]
    assert model.node("c1", "uuid-a") is None and model.node("c1", "c1") is None
    assert model.summary() == (1, 1, 1, False)


def test_vms_of_a_host_that_is_not_connected_are_greyed_with_their_last_state(model):
    host = connect(model, objs=[vm("a", VMState.RUNNING), net("n")])
    a = model.index(0, 0, host)
    assert a.data(Qt.ItemDataRole.ForegroundRole) is None
    greyed = []
    model.dataChanged.connect(lambda tl, br, roles: greyed.append(tl.parent()))
    model.apply("c1", HostStateChanged(ConnState.RECONNECTING, "libvirtd went away"))
    model.flush()
    assert a.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(0, 1, host).data() == "Running", "the last known state stays"
    assert "not connected" in a.data(Qt.ItemDataRole.ToolTipRole)
    assert host in greyed, "views were told the VM rows changed"
    networks = model.index(1, 0, host)
    assert model.index(0, 0, networks).data(Qt.ItemDataRole.ForegroundRole) is not None
    model.apply("c1", HostStateChanged(ConnState.CONNECTED, host=INFO))
    model.flush()
    assert a.data(Qt.ItemDataRole.ForegroundRole) is None


def test_the_control_domain_is_not_a_vm_row(model):
    dom0 = vm("Domain-0", VMState.RUNNING, key="00000000-0000-0000-0000-000000000000",
              dom0=True)
    host = connect(model, objs=[dom0, vm("guest")])
    assert child_names(model, host) == ["guest"]
    assert model.control_domain("c1") == dom0
    assert model.summary()[2] == 1
    model.apply("c1", partial(change(replace(dom0, memory_kib=4096))))
    model.flush()
    assert model.control_domain("c1").memory_kib == 4096
    assert child_names(model, host) == ["guest"]
    model.apply("c1", full(vm("guest")))
    model.flush()
    assert model.control_domain("c1") is None


def test_filter_proxy_matches_name_or_state_and_keeps_parents(model):
    connect(model, objs=[vm("web-01", VMState.RUNNING), vm("web-02"),
                         vm("db", VMState.PAUSED), net("webnet")])
    proxy = InventoryFilterProxy()
    proxy.setSourceModel(model)
    QAbstractItemModelTester(proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)

    def shown(kind=NodeKind.VM):
        return sorted(n.obj.name for n in iter_nodes(proxy) if n.kind is kind)

    proxy.set_filter_text("WEB")
    assert shown() == ["web-01", "web-02"]
    assert shown(NodeKind.NETWORK) == ["webnet"]
    assert proxy.rowCount() == 1, "the host of the matches stays visible"
    proxy.set_filter_text("paused")
    assert shown() == ["db"]
    model.apply("c1", partial(change(vm("web-02", VMState.PAUSED))))
    model.flush()
    assert shown() == ["db", "web-02"], "a state change re-filters"
    assert model.index(0, 0, model.index(0, 0)).data(FILTER_ROLE) == "db Paused"
    proxy.set_filter_text("")
    assert shown() == ["db", "web-01", "web-02"]


def test_timer_applies_queued_events_without_a_flush_call(model, qtbot):
    model.add_host("c1", "test:///default", "localhost")
    with qtbot.waitSignal(model.batchApplied, timeout=2000):
        model.apply("c1", full(vm("a")))
    assert model.rowCount(model.index(0, 0)) == 1
    assert model.pending() == 0


def test_demo_host_is_marked(model):
    model.add_host("d", "test:///lab.xml", "Demo lab", demo=True)
    model.add_host("e", "test:///other.xml", "localhost", demo=True)
    model.apply("d", HostStateChanged(ConnState.CONNECTED, host=INFO))
    model.flush()
    assert model.index(0, 0).data() == "Demo lab", "not the test driver's host name"
    assert model.index(1, 0).data() == "localhost (demo)"
    assert model.summary() == (2, 1, 0, True)


def test_ten_thousand_vms_in_one_snapshot(model):
    """Scale, not speed: the benchmark times it; here only correctness at that size."""
    vms = [vm(f"vm-{i:05d}", key=f"k{i}") for i in range(10_000)]
    host = connect(model, objs=reversed(vms))
    assert model.rowCount(host) == 10_000
    assert model.index(9_999, 0, host).data() == "vm-09999"
    node = model.node("c1", "k1234")
    assert model.index(1234, 0, host).data(NODE_ROLE) is node
    assert model.parent(model.index(1234, 0, host)) == host
    assert not model.parent(QModelIndex()).isValid()


def test_the_model_says_when_a_snapshot_landed_and_when_a_server_went(model):
    """What the process's collector policy (app/gc_policy.py) listens to."""
    snapshots, removed = [], []
    model.snapshotApplied.connect(snapshots.append)
    model.hostRemoved.connect(removed.append)
    connect(model, objs=[vm("a"), vm("b"), net("n")])
    assert snapshots == [5], "host, two VMs, the Networks group and its network"
    model.apply("c1", partial(change(vm("c"))))
    model.flush()
    assert snapshots == [5], "a partial change is no snapshot"
    model.remove_host("c1")
    assert removed == ["c1"]


def test_sorting_by_name_orders_the_servers_too(model):
    """Clicking the Name header sorts every level: the servers as well as their VMs (a
    server's row once had no sort key and sorting crashed the program)."""
    connect(model, "c1", [vm("b"), vm("a")])
    model.add_host("c2", "test:///other", "Another")
    proxy = InventoryFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(NAME_COLUMN, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, 0).data() for r in range(2)] == ["Another", "kvm1.example.org"]
    host = proxy.index(1, 0)
    assert [proxy.index(r, 0, host).data() for r in range(2)] == ["a", "b"]
    proxy.sort(NAME_COLUMN, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 0).data() for r in range(2)] == ["kvm1.example.org", "Another"]
