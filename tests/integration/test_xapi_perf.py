"""A pool's performance from its hosts' own RRDs (app/perf/xapi_rrd.py), against the
XAPI simulator: the 1-hour, 1-day and 1-week ranges are backfilled from XAPI's archives
on connect, the live series grows from incremental /rrd_updates, and the PerfMonitor
hands both to the Performance tab as it does for libvirt hosts.

The figures are checked against the same archives read by a bare HTTPS client and
ElementTree (not HVConsole's xport parser)."""
from __future__ import annotations

import http.client
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from app.perf.monitor import PerfMonitor
from app.perf.usage import UsageColumns
from connectors.libvirt.model import VMState
from tests.conftest import wait_until
from tests.integration.test_xapi_pool import Human, connect, outside_session, pinned, \
    pool_stack
from tests.xapi_sim_helpers import insecure_context, start_process

pytestmark = [pytest.mark.integration]


def bare_rrd(address: str, session: str, start: int, step: int) -> dict[str, dict]:
    """{column legend: {time: value}} as the simulator serves them."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=insecure_context())
    conn.request("GET", f"/rrd_updates?session_id={session}&start={start}&cf=AVERAGE"
                        f"&interval={step}&host=true")
    root = ET.fromstring(conn.getresponse().read())
    legend = [e.text for e in root.find("meta/legend")]
    out: dict[str, dict] = {name: {} for name in legend}
    for row in root.find("data"):
        t = int(row.find("t").text)
        for name, v in zip(legend, row.findall("v"), strict=True):
            out[name][t] = float(v.text)
    return out


def test_pool_graphs_are_backfilled_and_then_live(qapp, aloop, tmp_path):
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "1,6")
    try:
        stack = pool_stack(tmp_path, Human())
        monitor = PerfMonitor(stack.manager, stack.events_log)
        feed = monitor.follow_pools()
        ticks: list[str] = []
        monitor.ticked.connect(ticks.append)
        conn_id = connect(aloop, stack, pinned(sim))
        pool = stack.manager.pool(conn_id)
        vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
                  and not v.is_control_domain)
        aloop.run_until_complete(wait_until(lambda: ticks, 30))
        now = time.time()

        admin = outside_session(sim)
        # A day back: XAPI's hourly archive, the same points and values as served.
        t, v = monitor.history_series(conn_id, vm.key, "cpu_percent", now - 86400, now)
        assert len(t) >= 20 and set(np.diff(t)) == {3600.0}
        served = bare_rrd(sim.address, admin.ref, int(now - 86400), 3600)
        cpu = served[f"AVERAGE:vm:{vm.key}:cpu0"]
        assert np.allclose(v, [cpu[int(x)] * 100.0 for x in t])
        # An hour back: the minute archive.
        t, v = monitor.history_series(conn_id, vm.key, "mem_assigned_kib", now - 3600, now)
        assert len(t) >= 50 and set(np.diff(t)) == {60.0}
        assert np.all(v == vm.max_memory_kib)
        # Live: 5-second rows, newest last; the pool's own CPU and memory too.
        t, v = monitor.live_series(conn_id, vm.key, "cpu_percent")
        assert len(t) >= 2 and set(np.diff(t)) == {5.0}
        live = bare_rrd(sim.address, admin.ref, int(t[0]) - 1, 5)
        assert np.allclose(v, [live[f"AVERAGE:vm:{vm.key}:cpu0"][int(x)] * 100.0
                               for x in t])
        host_t, host_cpu = monitor.live_series(conn_id, None, "cpu_percent")
        assert len(host_t) and np.all((host_cpu >= 0) & (host_cpu <= 100))
        assert monitor.vm_latest(conn_id, vm.key, "cpu_percent") == v[-1]
        # The tree's CPU and Memory columns show the same newest figures.
        columns = UsageColumns(monitor, stack.inventory)
        cpu_now, memory_fraction, memory_text = columns.usage(
            stack.inventory.node(conn_id, vm.key))
        assert cpu_now == v[-1] and 0 < memory_fraction <= 1 and memory_text
        pool_cpu, _fraction, pool_text = columns.usage(stack.inventory.host_node(conn_id))
        assert pool_cpu == host_cpu[-1] and pool_text
        # Later ticks add rows (incremental: start = the previous answer's end).
        count = len(ticks)
        aloop.run_until_complete(wait_until(lambda: len(ticks) > count, 20))
        t2, _ = monitor.live_series(conn_id, vm.key, "cpu_percent")
        assert len(np.unique(t2)) == len(t2) and t2[-1] >= t[-1]
        admin.logout()
        aloop.run_until_complete(feed.close())
        aloop.run_until_complete(stack.close())
    finally:
        sim.stop()
