"""The Performance tab in the real main window (the launcher's own Session) on the demo
lab (libvirt's test driver): graphs by the values they plot, the hover read-out, and how
the charts are laid out at 1280×800 and 1024×700.

The test driver reports no counters, so moving numbers come from replayed ticks of real
captured QEMU statistics fed through the real collector (tests/perf_replay.py); a real
guest is in tests/integration/test_perf_qemu.py.
"""
from __future__ import annotations

import asyncio
import csv
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from app.inventory import NodeKind
from tests.conftest import wait_until
from tests.perf_replay import Load, Replay
from tests.widgets.perf_window import app, curve, select  # noqa: F401 (fixture)
from widgets.perf.readout import stamp

def test_vm_graphs_show_the_ticks_with_units(app, aloop):
    key = list(app.loads)[0]
    tab = select(app, key, aloop)
    for _ in range(4):
        app.replay.tick()
    assert [s.title for s in tab.specs] == ["CPU", "Memory", "Disk throughput",
                                            "Disk IOPS", "Network"]
    t, v = curve(tab, "CPU", "CPU")
    assert v[-1] == pytest.approx(60, abs=1)
    assert np.isnan(v[0]) or len(v) >= 3   # the first replayed tick has no rate: a gap
    assert curve(tab, "Disk throughput", "Read")[1][-1] == pytest.approx(2e6, rel=0.01)
    assert curve(tab, "Memory", "Held on host")[1][-1] == pytest.approx(200_000 * 1024)
    text = tab.readout_at(0, t[-1])
    assert text.startswith("CPU at ") and "CPU: 60.0 %" in text
    net = tab.readout_at(4, t[-1])
    assert "Received: 97.7 KiB/s" in net


def test_per_vcpu_lines_on_demand_leave_the_drawn_lines_alone(app, aloop):
    key = list(app.loads)[2]
    tab = select(app, key, aloop)
    for _ in range(3):
        app.replay.tick()
    assert [c.label for c in tab.specs[0].curves] == ["CPU"]
    cpu_item = tab.charts[0].curves[0].item
    before = [d[3:] for d in tab.shown_data()]
    tab.vcpu_box.setChecked(True)
    tab.disk_box.setChecked(True)
    # Ticking the boxes adds lines; what was drawn is drawn the same (and by the same item).
    after = [d[3:] for d in tab.shown_data()]
    assert len(after) == len(before)
    for (t0, v0), (t1, v1) in zip(before, after):
        np.testing.assert_array_equal(t0, t1)
        np.testing.assert_array_equal(v0, v1)
    app.replay.tick()
    app.replay.tick()
    assert [c.label for c in tab.specs[0].curves] == ["CPU", "vCPU 0", "vCPU 1"]
    assert tab.charts[0].curves[0].item is cpu_item
    t, v = curve(tab, "CPU", "CPU")
    np.testing.assert_array_equal(t[:len(before[0][0])], before[0][0])
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


def test_host_cores_are_sampled_only_while_shown(app, aloop):
    collector = app.monitor.collector(app.conn_id)
    tab = select(app, app.conn_id, aloop)
    assert collector.per_core is False
    tab.core_box.setChecked(True)
    assert collector.per_core is True
    select(app, list(app.loads)[0], aloop)
    assert collector.per_core is False, "leaving the host's graphs stops the per-core calls"


# ---- a step stays a step, a gap stays a gap ----

def replay_step_and_gap(app, key):
    """500 s of replayed 2-second ticks ending now: CPU 0 % then, from 400 s ago, 50 %; the
    VM off for 30 s from 300 s ago. Both are older than the live buffers' 3 minutes, so
    the 10-minute graph draws them from the history."""
    load = Load(cpu_percent=0.0)
    start = time.time() - 500
    replay = Replay(app.monitor.collector(app.conn_id), {key: load}, wall=start)
    for i in range(250):
        wall = start + 2 * (i + 1)
        load.cpu_percent = 50.0 if wall >= start + 100 else 0.0
        load.running = not (start + 200 <= wall < start + 230)
        replay.tick()
    app.monitor.history.flush()
    return start + 100, (start + 200, start + 230)


def assert_step_and_gap(t, v, step_at, gap):
    known = np.isfinite(v)
    tk, vk = t[known], v[known]
    assert len(tk) > 200, "every 2-second sample is drawn, not minute averages"
    assert not ((vk > 5) & (vk < 45)).any(), f"a ramp: {vk[(vk > 5) & (vk < 45)]}"
    low = tk[(vk < 5) & (tk < step_at)]
    high = tk[(vk > 45) & (tk >= step_at - 2)]
    assert len(low) and len(high)
    assert high.min() - low.max() <= 2.5, "0 % and 50 % are neighbours: a step"
    inside = (tk > gap[0]) & (tk < gap[1] - 0.5)
    assert not inside.any(), "no point while the VM was off"
    assert np.isnan(v[(t > gap[0] - 2) & (t < gap[1] + 2)]).any(), \
        "the line breaks there (a NaN), it is not drawn across"
    assert ((tk > gap[0] - 5) & (tk < gap[0])).any() and \
        ((tk >= gap[1]) & (tk < gap[1] + 6)).any(), "data on both sides of the gap"


def test_a_step_and_a_gap_survive_switching_ranges(app, aloop):
    key = list(app.loads)[0]
    step_at, gap = replay_step_and_gap(app, key)
    tab = select(app, key, aloop)
    aloop.run_until_complete(wait_until(tab.history_ready, timeout=15))
    t, v = curve(tab, "CPU", "CPU")
    assert_step_and_gap(t, v, step_at, gap)
    tab.set_range(3600.0)
    aloop.run_until_complete(wait_until(tab.history_ready, timeout=15))
    tab.set_range(600.0)
    aloop.run_until_complete(wait_until(tab.history_ready, timeout=15))
    t2, v2 = curve(tab, "CPU", "CPU")
    assert_step_and_gap(t2, v2, step_at, gap)
    np.testing.assert_array_equal(t2, t)
    np.testing.assert_array_equal(v2, v)
    tab.core_box.setChecked(True)       # not shown for a VM; nothing may change
    tab.vcpu_box.setChecked(True)
    np.testing.assert_array_equal(curve(tab, "CPU", "CPU")[1], v)


# ---- the hover read-out ----

def move_pointer(widget, pos: QPoint) -> None:
    """Moves the mouse pointer to ``pos`` of ``widget`` the way the window system does
    (through the window: Qt then also sends enter and leave events)."""
    window = widget.window()
    QTest.mouseMove(window.windowHandle(), widget.mapTo(window, pos))


def look_at(tab, t) -> None:
    """Pause and show the time of ``t``: replayed ticks run ahead of the clock (2 s
    each), beyond the right edge of a graph that follows the present."""
    tab.set_paused(True)
    tab.plots[0].setXRange(t[0] - 10, t[-1] + 10, padding=0)


def pointer_to(chart, t: float, y: float = 50.0) -> None:
    """Moves the mouse pointer over ``chart`` at time t (and value y)."""
    asyncio.get_event_loop().run_until_complete(asyncio.sleep(0.1))   # laid out
    scene = chart.plot.vb.mapViewToScene(QPointF(t, y))
    pos = chart.view.mapFromScene(scene)
    move_pointer(chart.view.viewport(), QPoint(pos.x(), pos.y()))


def test_readout_follows_the_pointer_and_is_emptied_when_it_leaves(app, aloop):
    key = list(app.loads)[0]
    tab = select(app, key, aloop)
    for _ in range(4):
        app.replay.tick()
    t, _v = curve(tab, "CPU", "CPU")
    assert tab.readout.text() == ""
    look_at(tab, t)
    pointer_to(tab.charts[0], t[-2])
    assert tab.readout.text().startswith(f"CPU at {stamp(t[-2])} — CPU: 60.0 %")
    assert all(chart.hover_line.isVisible() for chart in tab.charts)
    move_pointer(app.window.tree.viewport(), QPoint(20, 20))   # off the graphs
    assert tab.readout.text() == ""
    assert not any(chart.hover_line.isVisible() for chart in tab.charts)


def test_readout_does_not_follow_to_another_object(app, aloop):
    key = list(app.loads)[0]
    tab = select(app, key, aloop)
    for _ in range(3):
        app.replay.tick()
    t, _v = curve(tab, "CPU", "CPU")
    look_at(tab, t)
    pointer_to(tab.charts[1], t[-1], 1e8)
    assert tab.readout.text().startswith("Memory at ")
    select(app, app.conn_id, aloop)           # the host, from the tree
    assert tab.key is None
    assert tab.readout.text() == ""
    assert not any(chart.hover_line.isVisible() for chart in tab.charts)
    look_at(tab, t)
    pointer_to(tab.charts[0], t[-1])
    assert tab.readout.text().startswith("CPU at ")
    select(app, list(app.loads)[1], aloop)
    assert tab.readout.text() == ""


def test_readout_gives_every_line_at_one_instant(app, aloop):
    """Per-vCPU lines begin when the box is ticked: before that instant they have no
    data there, rather than a value from another time."""
    key = list(app.loads)[1]
    tab = select(app, key, aloop)
    for _ in range(4):
        app.replay.tick()
    tab.vcpu_box.setChecked(True)
    app.loads[key].cpu_percent = 40
    for _ in range(3):
        app.replay.tick()
    t, v = curve(tab, "CPU", "CPU")
    early = t[np.isfinite(v)][0]
    text = tab.readout_at(0, early + 0.4)
    assert text == (f"CPU at {stamp(early)} — CPU: 15.0 %, vCPU 0: no data, "
                    f"vCPU 1: no data")
    text = tab.readout_at(0, t[-1] - 0.3)
    assert text == f"CPU at {stamp(t[-1])} — CPU: 40.0 %, vCPU 0: 40.0 %, vCPU 1: 40.0 %"
    before = tab.readout_at(0, t[0] - 120)
    assert before == f"CPU at {stamp(t[0] - 120)}: no data"


# ---- how the charts look ----

def axis_labels(axis) -> list:
    """(rect, text) of the tick labels pyqtgraph draws on ``axis``."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in texts]


def plot_left_edge(chart) -> int:
    vb = chart.plot.vb
    top_left = chart.view.mapFromScene(vb.sceneBoundingRect().topLeft())
    return chart.view.mapToGlobal(top_left).x()


@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)])
def test_vm_charts_are_readable(app, aloop, size):
    key = list(app.loads)[0]
    app.window.resize(*size)
    tab = select(app, key, aloop)
    for _ in range(4):
        app.replay.tick()
    aloop.run_until_complete(asyncio.sleep(0.3))   # layout and repaint at the new size
    tab.refresh()
    titles = [chart.title.text() for chart in tab.charts]
    assert titles == ["CPU (%)", "Memory (MiB)", "Disk throughput (MiB/s)",
                      "Disk IOPS (IO/s)", "Network (KiB/s)"]
    columns = {}
    for chart in tab.charts:
        assert not chart.plot.autoBtn.isVisible(), "no pyqtgraph 'A' button"
        # The legend is above the plot, whole (never over the lines, never cut).
        legend = chart.legend
        assert legend.mapTo(chart, QPoint(0, legend.height())).y() <= chart.view.y()
        assert legend.heightForWidth(legend.width()) <= legend.height()
        for label in (c.label for c in chart.spec.curves):
            assert label.replace(" ", "&nbsp;") in legend.text()
        for axis_name in ("left", "bottom"):
            labels = axis_labels(chart.plot.getAxis(axis_name))
            assert len(labels) >= 2, (chart.spec.title, axis_name, labels)
            rects = [r for r, _text in labels]
            for i, a in enumerate(rects):
                for b in rects[i + 1:]:
                    assert not a.intersects(b), (chart.spec.title, axis_name, labels)
        texts = [text for _r, text in axis_labels(chart.left_axis)]
        assert "0" in texts, (chart.spec.title, texts)
        if chart.spec.unit == "%":
            assert "100" in texts
        columns.setdefault(chart.x(), []).append(plot_left_edge(chart))
    # Charts one above the other share their time axis' position.
    for edges in columns.values():
        assert len(set(edges)) == 1, columns
    assert len(columns) == (2 if size[0] == 1280 else 1)


def test_a_vm_without_disks_or_nics_has_no_disk_or_network_graphs(app, aloop):
    """A VM defined on the demo host (its private test-driver copy) with no disk and no
    network interface."""
    conn = app.manager.host(app.conn_id).sampling_handle()[0]
    dom = conn.defineXML("<domain type='test'><name>bare</name><memory>131072</memory>"
                         "<os><type>hvm</type></os></domain>")
    dom.create()
    key = dom.UUIDString()
    aloop.run_until_complete(wait_until(
        lambda: app.inventory.node(app.conn_id, key) is not None, timeout=10))
    tab = select(app, key, aloop)
    assert [chart.title.text() for chart in tab.charts] == ["CPU (%)", "Memory (MiB)"]
    assert tab.vcpu_box.isVisibleTo(tab)
    assert not tab.disk_box.isVisibleTo(tab) and not tab.nic_box.isVisibleTo(tab)
    select(app, list(app.loads)[0], aloop)
    assert len(tab.charts) == 5 and tab.disk_box.isVisibleTo(tab)


def test_host_memory_graph_and_general_tab_agree(app, aloop):
    """One source for a server's memory: the General tab's figures are the Performance
    graph's newest points. The demo's test driver has no memory statistics, so the host's
    are replayed (total, free, cached, buffers in KiB) as a real host reports them."""
    collector = app.monitor.collector(app.conn_id)
    collector.host_memory_use_known = True
    app.replay.host_memory_kib = (24_000_000, 20_000_000, 3_000_000, 50_000)
    tab = select(app, app.conn_id, aloop)
    for _ in range(3):
        app.replay.tick()
    t, _v = curve(tab, "Memory", "Free")
    text = tab.readout_at(1, t[-1])
    assert text.endswith("Total: 22.9 GiB, Used: 927.7 MiB, Free: 19.1 GiB, "
                         "Cache: 2.9 GiB")
    general = app.window.general_tab
    app.window.tabs.setCurrentWidget(general)

    def memory() -> dict:
        return dict(next(rows for header, rows in general.sections() if header == "Memory"))
    assert memory()["Total"] == "22.9 GiB"
    assert memory()["Used"] == "927.7 MiB (4 %)"
    assert memory()["Free"] == "19.1 GiB"
    assert "memory statistics" in memory()[""]        # says what it measures
    app.replay.host_memory_kib = (24_000_000, 10_000_000, 3_000_000, 50_000)
    app.replay.tick()
    assert memory()["Free"] == "9.5 GiB", "live, every tick"
    shown = [label.text() for label in general.findChildren(QLabel)]
    assert "9.5 GiB" in shown and "19.1 GiB" not in shown
