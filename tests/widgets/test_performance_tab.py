"""The Performance tab, the tree's usage columns and the Alerts tab in the real main window
(the launcher's own Session) on the demo lab (libvirt's test driver).

The test driver reports no counters, so moving numbers come from replayed ticks of real
captured QEMU statistics fed through the real collector (tests/perf_replay.py); a real
guest is in tests/integration/test_perf_qemu.py.
"""
from __future__ import annotations

import argparse
import csv
import math
import time

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QImage

from app.inventory import CPU_COLUMN, MEMORY_COLUMN, NODE_ROLE, USAGE_ROLE, NodeKind
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.perf_replay import LAB, Load, Replay
from widgets.launcher import Session


@pytest.fixture
def app(qtbot, qapp, aloop):
    qapp.setQuitOnLastWindowClosed(False)
    session = Session(argparse.Namespace(connect=[], show_domain=None, screenshot=None,
                                         debug=False))
    window = session.build()
    window.resize(1400, 900)
    window.show()
    conn_id = session.manager.open(f"test://{LAB}", save=False, demo=True)
    ticks = []
    session.monitor.ticked.connect(ticks.append)

    async def loaded():
        await wait_until(lambda: session.manager.host(conn_id).state == ConnState.CONNECTED,
                         timeout=15)
        await wait_until(lambda: conn_id in ticks, timeout=15)
        await session.monitor.collector(conn_id).stop()   # replayed ticks from here on
        await wait_until(lambda: len(session.inventory.vms(conn_id)) > 3)
    aloop.run_until_complete(loaded())
    session.conn_id = conn_id
    vms = [vm for vm in session.manager.host(conn_id).vms() if vm.state.value == "running"]
    session.loads = {vm.key: Load(cpu_percent=p, disk_rd_bps=d, net_rx_bps=n)
                     for vm, p, d, n in zip(vms, (60, 15, 85), (2e6, 8e6, 1e6),
                                            (1e5, 3e5, 2e5))}
    session.replay = Replay(session.monitor.collector(conn_id), session.loads)
    yield session
    aloop.run_until_complete(session.shutdown())
    window.close()


def select(session, key, aloop):
    window = session.window
    aloop.run_until_complete(wait_until(
        lambda: window.tree.select_node(session.conn_id, key)))
    window.tabs.setCurrentWidget(window.performance_tab)
    aloop.run_until_complete(wait_until(
        lambda: window.performance_tab.conn_id == session.conn_id))
    return window.performance_tab


def curve(tab, graph: str, label: str):
    for title, line, _unit, t, v in tab.shown_data():
        if (title, line) == (graph, label):
            return t, v
    raise AssertionError(f"no line {graph}/{label}: "
                         f"{[(d[0], d[1]) for d in tab.shown_data()]}")


def test_vm_graphs_show_the_ticks_with_units(app, aloop):
    key = list(app.loads)[0]
    tab = select(app, key, aloop)
    for _ in range(4):
        app.replay.tick()
    assert [s.title for s in tab.specs] == ["CPU", "Memory", "Disk throughput",
                                            "Disk IOPS", "Network"]
    t, v = curve(tab, "CPU", "CPU")
    assert v[-1] == pytest.approx(60, abs=1)
    assert math.isnan(v[0]) or len(v) >= 3   # the first replayed tick has no rate: a gap
    assert curve(tab, "Disk throughput", "Read")[1][-1] == pytest.approx(2e6, rel=0.01)
    assert curve(tab, "Memory", "RSS (host)")[1][-1] == pytest.approx(200_000 * 1024)
    text = tab.readout_at(0, t[-1])
    assert text.startswith("CPU at ") and "CPU: 60.0 %" in text
    net = tab.readout_at(4, t[-1])
    assert "Received: 97.7 KiB/s" in net


def test_per_vcpu_lines_on_demand(app, aloop):
    key = list(app.loads)[2]
    tab = select(app, key, aloop)
    app.replay.tick()
    assert [c.label for c in tab.specs[0].curves] == ["CPU"]
    tab.vcpu_box.setChecked(True)
    tab.disk_box.setChecked(True)
    app.replay.tick()
    app.replay.tick()
    assert [c.label for c in tab.specs[0].curves] == ["CPU", "vCPU 0", "vCPU 1"]
    assert curve(tab, "CPU", "vCPU 1")[1][-1] == pytest.approx(85, abs=1)
    assert "vda read" in [c.label for c in tab.specs[2].curves]
    tab.vcpu_box.setChecked(False)
    assert [c.label for c in tab.specs[0].curves] == ["CPU"]


def test_export_csv_and_png(app, aloop, tmp_path):
    key = list(app.loads)[0]
    tab = select(app, key, aloop)
    for _ in range(3):
        app.replay.tick()
    path = tmp_path / "shown.csv"
    rows = tab.export_csv(str(path))
    with path.open() as fh:
        table = list(csv.reader(fh))
    header = table[0]
    assert header[0] == "time" and "CPU: CPU (%)" in header
    assert "Disk throughput: Read (B/s)" in header
    assert len(table) == rows + 1 and rows >= 3
    cpu = header.index("CPU: CPU (%)")
    assert float(table[-1][cpu]) == pytest.approx(60, abs=1)
    png = tmp_path / "graph.png"
    assert tab.save_png(str(png))
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 300 and image.height() > 300
    assert len({image.pixel(x, y) for x in range(0, image.width(), 7)
                for y in range(0, image.height(), 7)}) > 3, "not a blank picture"


def test_longer_ranges_come_from_the_history(app, aloop):
    key = list(app.loads)[1]
    uri = app.manager.host(app.conn_id).uri
    old = time.time() - 3 * 3600
    app.monitor.history.record(old, [key], {"cpu_percent": np.array([33.0])}, source=uri)
    app.monitor.history.flush()
    tab = select(app, key, aloop)
    app.replay.tick()
    app.replay.tick()
    t, _v = curve(tab, "CPU", "CPU")
    assert t.min() > time.time() - 700
    tab.set_range(86400.0)
    aloop.run_until_complete(wait_until(tab.history_ready))
    t, v = curve(tab, "CPU", "CPU")
    assert t.min() < time.time() - 3 * 3600 + 120
    assert 33.0 in np.round(v, 3)
    assert v[-1] == pytest.approx(15, abs=1)   # the live tail is still there
    x_min, x_max = tab.plots[0].vb.viewRange()[0]
    assert x_max - x_min == pytest.approx(86400, rel=0.01)


def test_pause_keeps_the_picture(app, aloop):
    key = list(app.loads)[0]
    tab = select(app, key, aloop)
    app.replay.tick()
    app.replay.tick()
    tab.set_paused(True)
    before = curve(tab, "CPU", "CPU")[0].copy()
    app.replay.tick()
    assert np.array_equal(curve(tab, "CPU", "CPU")[0], before)
    tab.set_paused(False)
    assert len(curve(tab, "CPU", "CPU")[0]) == len(before) + 1


def test_host_tab_top_consumers_select_the_vm(app, aloop):
    tab = select(app, app.conn_id, aloop)
    for _ in range(3):
        app.replay.tick()
    assert [s.title for s in tab.specs] == ["CPU", "Memory", "Disk (all VMs)",
                                            "Network (all VMs)"]
    assert curve(tab, "Disk (all VMs)", "Read")[1][-1] == pytest.approx(11e6, rel=0.01)
    host = app.manager.host(app.conn_id)
    names = [tab.top_table.item(r, 0).text() for r in range(tab.top_table.rowCount())]
    by_cpu = sorted(app.loads, key=lambda k: -app.loads[k].cpu_percent)
    assert names == [host.vm(k).name for k in by_cpu]
    tab.top_by.setCurrentIndex(tab.top_by.findData("disk_bps"))
    assert tab.top_table.item(0, 0).text() == host.vm(list(app.loads)[1]).name
    tab.top_table.cellClicked.emit(0, 0)
    selected = app.window.tree.selected_nodes()
    assert [(n.kind, n.key) for n in selected] == [(NodeKind.VM, list(app.loads)[1])]


def test_tree_columns_bars_sorting_and_narrow_updates(app, aloop):
    tree = app.window.tree
    inventory = app.inventory
    changed = []
    inventory.dataChanged.connect(lambda a, b, roles: changed.append((a.column(),
                                                                      b.column())))
    app.replay.tick()
    app.replay.tick()
    # Repaints are gathered (one pass for the hosts that ticked within half a second).
    aloop.run_until_complete(wait_until(lambda: changed))
    assert set(changed) == {(CPU_COLUMN, MEMORY_COLUMN)}
    hot = list(app.loads)[2]
    index = inventory.index_of(app.conn_id, hot, CPU_COLUMN)
    assert index.data() == "85 %"
    assert index.data(USAGE_ROLE) == pytest.approx(0.85, abs=0.01)
    memory = inventory.index_of(app.conn_id, hot, MEMORY_COLUMN)
    assert memory.data().endswith("MiB") and 0 < memory.data(USAGE_ROLE) <= 1
    tree.sortByColumn(CPU_COLUMN, Qt.SortOrder.DescendingOrder)
    proxy = tree.model()
    host_index = proxy.index(0, 0)
    first_vms = [proxy.index(r, 0, host_index).data(NODE_ROLE).key for r in range(3)]
    assert first_vms == sorted(app.loads, key=lambda k: -app.loads[k].cpu_percent)
    app.loads[hot].cpu_percent = 1
    app.replay.tick()
    aloop.run_until_complete(wait_until(
        lambda: proxy.index(0, 0, host_index).data(NODE_ROLE).key != hot))  # re-sorted
    tree.viewport().repaint()   # the bar delegate paints without error


def test_preferences_dialog_pages(app, aloop):
    from app import preferences as prefs
    from widgets.dialogs.preferences import PAGES, PreferencesDialog
    dialog = app.window.show_preferences()
    try:
        assert [p.title for p in dialog.pages][:2] == ["Performance", "Alerts"]
        assert len(dialog.pages) == len(PAGES)
        page = dialog.page("Performance")
        page.interval.setValue(5)
        page.collect_net.setChecked(False)
        alerts = dialog.page("Alerts")
        alerts.add_button.click()
        dialog.accept()
        assert app.preferences.interval_s == 5.0
        assert "net" not in app.monitor.collector(app.conn_id).groups
        assert len(app.alert_engine.rules) == 1
        assert app.alert_engine.rules[0].describe() == \
            "CPU usage above 90 % for 5 min"
    finally:
        app.preferences.set_value(prefs.SAMPLING_INTERVAL, 2.0)
        app.preferences.set_value(prefs.COLLECT_NET, True)
        app.preferences.set_value(prefs.ALERT_RULES, [])


def test_host_cores_are_sampled_only_while_shown(app, aloop):
    collector = app.monitor.collector(app.conn_id)
    tab = select(app, app.conn_id, aloop)
    assert collector.per_core is False
    tab.core_box.setChecked(True)
    assert collector.per_core is True
    select(app, list(app.loads)[0], aloop)
    assert collector.per_core is False, "leaving the host's graphs stops the per-core calls"


def test_vms_on_screen_are_the_tree_s_hot_ones(app, aloop):
    """The VM rows painted in the tree are handed to the monitor as hot (sampled every
    tick on a host with many VMs); once the host is collapsed they are no longer."""
    tree = app.window.tree
    collector = app.monitor.collector(app.conn_id)
    app.usage_columns.window_s = 0.3     # replayed ticks come faster than real ones
    on_screen = {vm.key for vm in app.manager.host(app.conn_id).vms()}

    def tick_and_paint():
        app.replay.tick()
        tree.viewport().repaint()

    def hot_is(expected):
        tick_and_paint()
        return collector.hot_keys == expected

    # The host is selected (the Performance tab shows it, no VM): only the tree's rows.
    aloop.run_until_complete(wait_until(lambda: hot_is(on_screen), timeout=15))
    tree.collapseAll()
    aloop.run_until_complete(wait_until(lambda: hot_is(frozenset()), timeout=15))
