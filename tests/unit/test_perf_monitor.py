"""PerfMonitor with the real connection manager on libvirt's test driver: a collector
per connected host that follows connect/disconnect/reconnect/remove, history and live
buffers joined into one series, top consumers, watched VMs' details, preferences."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from app import preferences as prefs
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.perf_replay import Load, close_stack, make_perf_stack, open_lab, replay_only


@pytest.fixture
def stack(aloop, tmp_path):
    stack = make_perf_stack(tmp_path)
    yield stack
    aloop.run_until_complete(close_stack(stack))


def running_keys(stack, conn_id):
    host = stack.manager.host(conn_id)
    return [vm.key for vm in host.vms() if vm.state.value == "running"]


def test_sampling_follows_the_connection(aloop, stack):
    changes = []
    stack.monitor.collectorsChanged.connect(lambda: changes.append(1))

    async def scenario():
        conn_id = await open_lab(stack, wait_until)
        collector = stack.monitor.collector(conn_id)
        assert collector.running and changes
        assert collector.vm_buffers.index.keys, "the tick reached the live buffers"
        await stack.manager.disconnect_server(conn_id)
        await wait_until(lambda: not collector.running)
        ticks = []
        stack.monitor.ticked.connect(ticks.append)
        await stack.manager.reconnect(conn_id)
        await wait_until(lambda: conn_id in ticks, timeout=10)
        # Same collector, same buffers (the graphs keep their past), new connection.
        assert stack.monitor.collector(conn_id) is collector and collector.running
        await stack.manager.remove(conn_id)
        assert stack.monitor.collector(conn_id) is None
        await wait_until(lambda: not collector.running)

    aloop.run_until_complete(scenario())


def test_damaged_history_is_reported_in_the_events_log(aloop, tmp_path):
    stack = make_perf_stack(tmp_path, history_warning_file=b"not a database" * 100)
    try:
        messages = [stack.events_log.index(r, 3).data()
                    for r in range(stack.events_log.rowCount())]
        assert any("performance history file was damaged" in m for m in messages)
    finally:
        aloop.run_until_complete(close_stack(stack))


def test_a_sampler_that_dies_is_reported_in_the_events_log(aloop, stack, monkeypatch):
    """A fault outside a tick's handling ends the sampler's loop (the tick handler's own
    faults are caught, see test_stats_sampler); the host's graphs would freeze without a
    word. The fault is injected by making the loop's rest check raise."""
    async def scenario():
        conn_id = await open_lab(stack, wait_until)
        collector = stack.monitor.collector(conn_id)

        def broken(_tick: int) -> bool:
            raise RuntimeError("the sampler's own fault")
        monkeypatch.setattr(collector._sampler, "resting_at", broken)
        await wait_until(lambda: not collector.running, timeout=10)
        return collector, stack.monitor._hosts[conn_id].task

    collector, ended = aloop.run_until_complete(scenario())
    # Kept without its traceback: its frames would tie the app's Qt objects into a
    # reference cycle, which the garbage collector may free on a worker thread (a crash).
    assert ended.exception().__traceback__ is None
    messages = [stack.events_log.index(r, 3).data()
                for r in range(stack.events_log.rowCount())]
    assert any("Live performance sampling stopped: the sampler's own fault" in m
               for m in messages), messages
    assert not collector.running


def test_series_takes_older_points_from_the_history(aloop, stack):
    async def scenario():
        conn_id = await open_lab(stack, wait_until)
        key = running_keys(stack, conn_id)[0]
        uri = stack.manager.host(conn_id).uri
        two_hours_ago = time.time() - 7200
        stack.history.record(two_hours_ago, [key], {"cpu_percent": np.array([42.0])},
                             source=uri)
        stack.history.flush()
        replay = await replay_only(stack, conn_id, {key: Load(cpu_percent=30)})
        for _ in range(3):
            replay.tick()
        return conn_id, key, two_hours_ago

    conn_id, key, old = aloop.run_until_complete(scenario())
    now = time.time() + 10
    t, v = stack.monitor.series(conn_id, key, "cpu_percent", now - 86400, now)
    assert t[0] == pytest.approx(math.floor(old / 60) * 60)  # the 1-minute bucket
    assert v[0] == pytest.approx(42.0)
    assert v[-1] == pytest.approx(30.0, abs=0.5)   # the live tail
    t10, _ = stack.monitor.series(conn_id, key, "cpu_percent", now - 600, now)
    assert t10.min() > now - 600


def test_top_consumers_and_watched_details(aloop, stack):
    async def scenario():
        conn_id = await open_lab(stack, wait_until)
        keys = running_keys(stack, conn_id)[:3]
        loads = {k: Load(cpu_percent=p, disk_rd_bps=d) for k, p, d
                 in zip(keys, (10, 90, 50), (3e6, 1e6, 2e6))}
        replay = await replay_only(stack, conn_id, loads)
        stack.monitor.watch(conn_id, keys[1])
        for _ in range(3):
            replay.tick()
        return conn_id, keys

    conn_id, keys = aloop.run_until_complete(scenario())
    top = stack.monitor.top_consumers(conn_id, "cpu_percent", n=2)
    assert [k for k, _ in top] == [keys[1], keys[2]]
    assert top[0][1] == pytest.approx(90, abs=1)
    disk_top = stack.monitor.top_consumers(conn_id, "disk_bps", n=3)
    assert [k for k, _ in disk_top] == [keys[0], keys[2], keys[1]]
    vcpus = stack.monitor.detail_keys(conn_id, keys[1], "vcpu")
    assert [k[2] for k in vcpus] == ["0", "1"]
    _t, v = stack.monitor.detail_series(conn_id, vcpus[0])
    assert v[-1] == pytest.approx(90, abs=1)
    assert stack.monitor.detail_keys(conn_id, keys[0], "vcpu") == [], "not watched"
    assert stack.monitor.host_latest(conn_id, "vms_disk_rd_bps") == pytest.approx(6e6,
                                                                                  rel=0.01)


def test_preferences_reach_the_running_collectors(aloop, stack):
    conn_id = aloop.run_until_complete(open_lab(stack, wait_until))
    collector = stack.monitor.collector(conn_id)
    assert "disk" in collector.groups
    stack.preferences.set_value(prefs.COLLECT_DISK, False)
    stack.preferences.set_value(prefs.PER_CORE_HOST_CPU, False)
    stack.preferences.set_value(prefs.HISTORY_DAYS, 30)
    assert "disk" not in collector.groups and "net" in collector.groups
    assert collector.per_core is False
    assert stack.history.tiers[-1].retention_s == 30 * 86400
    stack.preferences.set_value(prefs.SAMPLING_INTERVAL, 0.2)  # clamped to the minimum
    assert collector.interval_s == prefs.MIN_INTERVAL_S
    ticks = []
    stack.monitor.ticked.connect(ticks.append)
    aloop.run_until_complete(wait_until(lambda: len(ticks) >= 2, timeout=10))
    assert collector.running


def test_host_cores_are_read_only_while_watched(aloop, stack):
    """Per-core figures cost one libvirt call per host CPU each tick: a host with 64 cores
    would pay 64 calls every 2 s for a graph nobody looks at."""
    conn_id = aloop.run_until_complete(open_lab(stack, wait_until))
    collector = stack.monitor.collector(conn_id)
    assert collector.per_core is False
    stack.monitor.watch(conn_id, None)
    assert collector.per_core is True
    ticks = []
    stack.monitor.ticked.connect(ticks.append)
    aloop.run_until_complete(wait_until(
        lambda: stack.monitor.detail_keys(conn_id, None, "core"), timeout=10))
    stack.preferences.set_value(prefs.PER_CORE_HOST_CPU, False)
    assert collector.per_core is False, "the preference wins over a watching tab"
    stack.preferences.set_value(prefs.PER_CORE_HOST_CPU, True)
    assert collector.per_core is True
    stack.monitor.unwatch(conn_id, None)
    assert collector.per_core is False


def test_a_history_that_cannot_be_written_is_reported_and_sampling_goes_on(aloop, stack):
    """The history refuses writes (SQLite's query_only stands in for a full disk here;
    tests/unit/test_atomic_file.py fills a real one): the Events log says so once, the live
    graphs keep every tick, and it says so again when writing works again."""
    def messages():
        return [stack.events_log.index(r, 3).data()
                for r in range(stack.events_log.rowCount())]

    async def scenario():
        conn_id = await open_lab(stack, wait_until)
        key = running_keys(stack, conn_id)[0]
        replay = await replay_only(stack, conn_id, {key: Load(cpu_percent=30)})
        stack.history._conn.execute("PRAGMA query_only=1")
        for _ in range(3):
            replay.tick()
            stack.history._flush_reporting()
        assert sum("performance history could not be written" in m
                   for m in messages()) == 1
        t, v = stack.monitor.series(conn_id, key, "cpu_percent", time.time() - 600,
                                    time.time() + 10, use_history=False)
        assert len(t) >= 3 and v[-1] == pytest.approx(30.0, abs=0.5)
        stack.history._conn.execute("PRAGMA query_only=0")
        stack.history._flush_reporting()
        replay.tick()
        assert "The performance history is written again." in messages()

    aloop.run_until_complete(scenario())
