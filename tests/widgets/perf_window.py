"""The real main window (the launcher's own Session) on the demo lab, for the tests of the
Performance tab, the tree's usage columns and the Alerts tab. A fixture module: import
``app`` from it.

The test driver reports no counters, so moving numbers come from replayed ticks of real
captured QEMU statistics fed through the real collector (tests/perf_replay.py); a real
guest is in tests/integration/test_perf_qemu.py.
"""
from __future__ import annotations

import argparse

import pytest

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
    # The first two guests report their memory use (a balloon driver), the third not.
    session.loads = {vm.key: Load(cpu_percent=p, disk_rd_bps=d, net_rx_bps=n, used_kib=u)
                     for vm, p, d, n, u in zip(vms, (60, 15, 85), (2e6, 8e6, 1e6),
                                               (1e5, 3e5, 2e5), (65536, 98304, None))}
    session.replay = Replay(session.monitor.collector(conn_id), session.loads)
    yield session
    aloop.run_until_complete(session.shutdown())
    window.close()


def select(session, key, aloop, tab=None):
    """Selects the VM ``key`` (the host: its conn_id) in the tree and shows ``tab`` (the
    Performance tab by default)."""
    window = session.window
    aloop.run_until_complete(wait_until(
        lambda: window.tree.select_node(session.conn_id, key)))
    window.tabs.setCurrentWidget(tab or window.performance_tab)
    aloop.run_until_complete(wait_until(
        lambda: window.performance_tab.conn_id == session.conn_id))
    return window.performance_tab


def curve(tab, graph: str, label: str):
    """(times, values) a line of the Performance tab draws."""
    for title, line, _unit, t, v in tab.shown_data():
        if (title, line) == (graph, label):
            return t, v
    raise AssertionError(f"no line {graph}/{label}: "
                         f"{[(d[0], d[1]) for d in tab.shown_data()]}")
