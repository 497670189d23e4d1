"""The tree's CPU and Memory columns in the real main window on the demo lab, with
replayed ticks of real captured QEMU statistics (tests/perf_replay.py): the numbers, the
bars as painted, the tooltips, sorting, and which rows are sampled every tick.

One meaning per column: Memory is what an object uses of what it has (a guest's own use of
its assigned memory; a server's used memory of its total), never the QEMU process's RSS.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.inventory import CPU_COLUMN, MEMORY_COLUMN, NODE_ROLE, USAGE_ROLE
from tests.conftest import wait_until
from tests.widgets.perf_window import app  # noqa: F401 (fixture)


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
    memory = inventory.index_of(app.conn_id, list(app.loads)[1], MEMORY_COLUMN)
    assert memory.data() == "96.0 MiB" and memory.data(USAGE_ROLE) == pytest.approx(0.75)
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


def bar_pixels(app, key, column):
    """Per pixel along the bar painted under a cell of the tree: the colours of the bar's
    rows there (the cell's text may be painted over some of them)."""
    tree = app.window.tree
    proxy = tree.model()
    source = app.inventory.index_of(app.conn_id, key, column)
    rect = tree.visualRect(proxy.mapFromSource(source))
    image = tree.viewport().grab().toImage()
    rows = range(rect.bottom() - 6, rect.bottom() - 2)   # the delegate's 4-pixel bar
    left, right = rect.left() + 3, rect.right() - 3
    return [[QColor(image.pixel(x, y)) for y in rows] for x in range(left + 1, right - 1)]


def is_green(column) -> bool:
    return any(c.green() > 150 and c.red() < 160 and c.blue() < 130 for c in column)


def green_share(columns) -> float:
    return sum(map(is_green, columns)) / max(1, len(columns))


def test_memory_column_is_the_guests_use_of_its_memory(app, aloop):
    used, unknown = list(app.loads)[0], list(app.loads)[2]
    for _ in range(2):
        app.replay.tick()
    inventory = app.inventory
    cell = inventory.index_of(app.conn_id, used, MEMORY_COLUMN)
    aloop.run_until_complete(wait_until(lambda: cell.data() == "64.0 MiB"))
    assert cell.data(USAGE_ROLE) == pytest.approx(0.5)
    assert cell.data(Qt.ItemDataRole.ToolTipRole) == (
        "Used by the guest: 64.0 MiB of 128.0 MiB assigned (50 %)\n"
        "Held on the host by the VM's process (RSS): 195.3 MiB")
    pixels = bar_pixels(app, used, MEMORY_COLUMN)
    half = len(pixels) // 2
    assert green_share(pixels[:half - 2]) > 0.9 and green_share(pixels[half + 2:]) == 0, \
        "half a bar"
    # A guest that does not report its use: no figure, no bar; the tooltip says why.
    cell = inventory.index_of(app.conn_id, unknown, MEMORY_COLUMN)
    assert cell.data() == "–"
    assert cell.data(USAGE_ROLE) != cell.data(USAGE_ROLE) or cell.data(USAGE_ROLE) is None
    tip = cell.data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("The guest does not report its memory use")
    assert "Assigned: 128.0 MiB" in tip and "(RSS): 195.3 MiB" in tip
    assert green_share(bar_pixels(app, unknown, MEMORY_COLUMN)) == 0, "no bar"
    header = inventory.headerData(MEMORY_COLUMN, Qt.Orientation.Horizontal,
                                  Qt.ItemDataRole.ToolTipRole)
    assert "of its assigned memory" in header and "Server: used memory of its total" in header
    assert inventory.headerData(CPU_COLUMN, Qt.Orientation.Horizontal,
                                Qt.ItemDataRole.ToolTipRole)


def test_memory_column_of_a_server_is_its_used_memory_of_its_total(app, aloop):
    """The demo's test driver has no memory statistics (its row says so); a real host's
    are replayed (total, free, cached, buffers in KiB)."""
    inventory = app.inventory
    app.replay.tick()
    cell = inventory.index_of(app.conn_id, app.conn_id, MEMORY_COLUMN)
    assert not cell.data()
    assert "reports no memory use" in cell.data(Qt.ItemDataRole.ToolTipRole)
    app.monitor.collector(app.conn_id).host_memory_use_known = True
    app.replay.host_memory_kib = (24_000_000, 20_000_000, 3_000_000, 50_000)
    app.replay.tick()
    aloop.run_until_complete(wait_until(lambda: cell.data() == "927.7 MiB"))
    assert cell.data(USAGE_ROLE) == pytest.approx(950_000 / 24_000_000)
    tip = cell.data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Used: 927.7 MiB of 22.9 GiB (4 %)\n"
                          "Free: 19.1 GiB, cache and buffers: 2.9 GiB\n"
                          "From the host's memory statistics")
    pixels = bar_pixels(app, app.conn_id, MEMORY_COLUMN)
    assert is_green(pixels[0]) and green_share(pixels[len(pixels) // 10:]) == 0, \
        "a bar of 4 %"
