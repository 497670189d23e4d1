"""Sampling in tiers on a host with many VMs: the hot VMs (on screen, watched, named by an
alert rule) every tick, every VM every FULL_EVERY ticks, and what that means downstream:
cold VMs have real samples at the coarser step and nothing invented in between, their
rates span the time since their previous sample, alerts keep counting across the ticks
that did not sample them, the host's summed figures come from full ticks only.

The sampler runs against libvirt's test driver on a generated host file (it answers
virDomainListGetStats as the bulk call does: state only); the rate tests replay records
captured from a QEMU guest through the real collector (tests/perf_replay.py).
"""
from __future__ import annotations

import asyncio
import math
import uuid

import libvirt
import numpy as np
import pytest

from app.perf.alerts import ALL_VMS, AlertEngine, AlertRule, AlertsModel
from app.perf.collector import PerfCollector
from connectors.libvirt.stats import FULL_EVERY, TIERED_FROM, StatsSampler
from tests.perf_replay import Load, Replay, lab, replay_only  # noqa: F401 (lab: a fixture)

DOMAIN = """<domain type='test'><name>{name}</name><uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
  <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>{state}</test:runstate>
</domain>"""


@pytest.fixture(scope="module")
def big_host(tmp_path_factory):
    """A test-driver host with more VMs than TIERED_FROM; every tenth one shut off."""
    count = TIERED_FROM + 50
    keys = [str(uuid.uuid4()) for _ in range(count)]
    domains = "".join(DOMAIN.format(name=f"vm-{i:04d}", uuid=k, state=5 if i % 10 == 9 else 1)
                      for i, k in enumerate(keys))
    path = tmp_path_factory.mktemp("big") / "host.xml"
    path.write_text(f"<node><cpu><cores>4</cores></cpu><memory>16777216</memory>{domains}"
                    "</node>")
    conn = libvirt.open(f"test://{path}")
    running = [k for i, k in enumerate(keys) if i % 10 != 9]
    stopped = [k for i, k in enumerate(keys) if i % 10 == 9]
    yield conn, running, stopped
    conn.close()


def test_hot_vms_every_tick_everyone_every_full_every_ticks(big_host):
    conn, running, stopped = big_host
    sampler = StatsSampler(conn, host=False)
    first = sampler.collect()
    assert first.full and sorted(r[0] for r in first.records) == sorted(running)
    expected = {dom.name(): dom.UUIDString() for dom in conn.listAllDomains(0)}
    hot = {running[3], running[100], stopped[0], "not-on-this-host"}
    sampler.hot_keys = frozenset(hot)
    batches = [sampler.collect() for _ in range(2 * FULL_EVERY)]
    assert [b.full for b in batches] == ([False] * (FULL_EVERY - 1) + [True]
                                         + [False] * (FULL_EVERY - 1) + [True])
    for batch in batches:
        keys = [r[0] for r in batch.records]
        if batch.full:
            # Every running VM under its own UUID (the UUIDs remembered by name and id
            # are right).
            assert sorted(keys) == sorted(running)
            assert all(r[1] is not None for r in batch.records)
            by_id = {dom.ID(): dom.name() for dom in conn.listAllDomains(
                libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
            assert all(key == expected[by_id[ident]] for key, ident, _ in batch.records)
        else:
            # Only the running hot VMs of this host: a stopped one or another host's is
            # left out, not looked up tick after tick.
            assert sorted(keys) == sorted([running[3], running[100]])
            assert all(r[2]["state.state"] == libvirt.VIR_DOMAIN_RUNNING
                       for r in batch.records)


def test_nothing_hot_asks_for_nothing_between_full_ticks(big_host):
    conn, running, _stopped = big_host
    sampler = StatsSampler(conn, host=False)
    sampler.collect()
    assert sampler.collect().records == []


def test_a_small_host_is_sampled_whole_every_tick():
    conn = libvirt.open("test:///default")
    try:
        sampler = StatsSampler(conn, host=False)
        sampler.hot_keys = frozenset()
        assert all(sampler.collect().full for _ in range(FULL_EVERY + 1))
    finally:
        conn.close()


# ---- through the collector: replayed QEMU records ----

@pytest.fixture
def replay():
    collector = PerfCollector(None, "test://tiers", capacity=50)
    keys = ["hot-vm", "cold-vm"]
    loads = {k: Load(cpu_percent=40.0, disk_rd_bps=1e6) for k in keys}
    collector.hot_keys = {"hot-vm"}
    yield collector, Replay(collector, loads), loads
    collector.close()


def column(collector, metric, key):
    t, v = collector.vm_buffers.series(metric, key)
    return t, v.astype(np.float64)


def test_cold_vms_have_real_samples_at_the_coarser_step(replay):
    collector, rep, loads = replay
    rep.tick()                                    # full: first sample, no rates yet
    for _ in range(3):
        for _ in range(FULL_EVERY - 1):
            rep.tick(only={"hot-vm"})
        rep.tick()                                # full
    _t, hot = column(collector, "cpu_percent", "hot-vm")
    _t, cold = column(collector, "cpu_percent", "cold-vm")
    assert np.isfinite(hot[1:]).all() and np.allclose(hot[1:], 40.0, atol=0.5)
    # The cold VM: a value on each full tick only, NaN (no sample) in between.
    full_rows = np.arange(FULL_EVERY, len(cold), FULL_EVERY)
    assert np.allclose(cold[full_rows], 40.0, atol=0.5)
    assert np.isnan(np.delete(cold, full_rows)).all()
    # Its disk rate spans the time since its previous sample, not one interval.
    _t, disk = column(collector, "disk_rd_bps", "cold-vm")
    assert disk[full_rows] == pytest.approx(1e6, rel=0.01)
    # The tree's column shows its last sample between full ticks.
    rep.tick(only={"hot-vm"})
    assert math.isnan(collector.vm_buffers.tables["cpu_percent"].latest("cold-vm"))
    assert collector.vm_buffers.tables["cpu_percent"].latest(
        "cold-vm", within=FULL_EVERY) == pytest.approx(40.0, abs=0.5)


def test_on_a_full_tick_a_hot_vm_keeps_its_one_interval_rate(replay):
    collector, rep, loads = replay
    rep.tick()
    for _ in range(FULL_EVERY - 1):
        rep.tick(only={"hot-vm"})
    rep.tick()
    for _ in range(FULL_EVERY - 1):
        rep.tick(only={"hot-vm"})
    loads["hot-vm"].cpu_percent = 90.0             # only during the last interval
    loads["cold-vm"].cpu_percent = 90.0
    rep.tick()                                     # full
    tick = collector.latest
    assert tick.full
    i_hot, i_cold = tick.vms.index["hot-vm"], tick.vms.index["cold-vm"]
    assert tick.vms.cpu_percent[i_hot] == pytest.approx(90.0, abs=0.5)
    # The cold VM's figure spans FULL_EVERY intervals: one of them at 90 %.
    expected = (40.0 * (FULL_EVERY - 1) + 90.0) / FULL_EVERY
    assert tick.vms.cpu_percent[i_cold] == pytest.approx(expected, abs=0.5)
    # Per-vCPU detail of the hot VM over the last interval as well.
    assert np.allclose(tick.detail.vcpu_percent_of("hot-vm"), 90.0, atol=0.5)


# ---- monitor and alerts on a real connection, replayed ticks ----

def test_alerts_keep_counting_across_ticks_that_did_not_sample_a_vm(aloop, lab):
    stack, conn_id, (hot, cold) = lab
    engine = AlertEngine(stack.monitor, AlertsModel(), stack.events_log)
    engine.set_rules([AlertRule(ALL_VMS, "cpu_percent", 80.0, 0.25)])   # 15 s
    raised = []
    engine.alertRaised.connect(raised.append)
    loads = {hot: Load(cpu_percent=10), cold: Load(cpu_percent=95)}
    replay = aloop.run_until_complete(replay_only(stack, conn_id, loads))
    replay.tick()
    replay.tick()                                  # cold above since now
    for _ in range(3):
        for _ in range(FULL_EVERY - 1):
            replay.tick(only={hot})
        replay.tick()
    assert [a.key for a in raised] == [cold]


def test_sums_and_top_consumers_come_from_full_ticks(aloop, lab):
    stack, conn_id, (hot, cold) = lab
    loads = {hot: Load(cpu_percent=10, net_rx_bps=1000.0),
             cold: Load(cpu_percent=70, net_rx_bps=5000.0)}
    replay = aloop.run_until_complete(replay_only(stack, conn_id, loads))
    replay.tick()
    replay.tick()
    replay.tick(only={hot})
    assert stack.monitor.latest_tick(conn_id).full is False
    assert stack.monitor.full_tick(conn_id).full
    assert [k for k, _v in stack.monitor.top_consumers(conn_id, "cpu_percent")] == \
        [cold, hot]
    t, sums = stack.monitor.live_series(conn_id, None, "vms_net_rx_bps")
    finite = sums[np.isfinite(sums)]
    # Never the hot VM's traffic alone (1000 B/s) as if it were the host's sum.
    assert len(finite) and np.allclose(finite, 6000.0, rtol=0.01)


def test_hot_sources_reach_the_host_sampler(aloop, lab):
    stack, conn_id, (a, b) = lab
    monitor = stack.monitor
    collector = monitor.collector(conn_id)
    monitor.set_hot("tree", {a})
    monitor.watch(conn_id, b)
    assert collector.hot_keys == {a, b}
    monitor.unwatch(conn_id, b)
    monitor.set_hot("tree", ())
    assert collector.hot_keys == frozenset()


def test_several_hosts_tick_at_different_points_of_the_interval():
    phases = set()
    for uri in ("qemu+ssh://a/system", "qemu+ssh://b/system", "qemu+ssh://c/system"):
        collector = PerfCollector(None, uri, interval_s=2.0)
        collector.spread(True)
        assert 0.0 <= collector.phase_s < 2.0
        phases.add(collector.phase_s)
        again = PerfCollector(None, uri, interval_s=2.0)
        again.spread(True)
        assert again.phase_s == collector.phase_s      # fixed per connection
        collector.spread(False)
        assert collector.phase_s == 0.0
        collector.close()
        again.close()
    assert len(phases) == 3


def test_a_big_host_is_asked_in_chunks_and_nothing_is_lost(big_host):
    conn, running, _stopped = big_host
    spy = CountingConn(conn)
    sampler = StatsSampler(spy, host=False)
    sampler.chunk = 40
    first = sampler.collect()                      # size unknown yet: one bulk call
    assert spy.calls == {"getAllDomainStats": 1}
    for _ in range(FULL_EVERY):
        batch = sampler.collect()
    assert batch.full
    assert sorted(r[0] for r in batch.records) == sorted(r[0] for r in first.records)
    assert spy.calls["domainListGetStats"] == math.ceil(len(running) / 40)
    assert spy.calls["getAllDomainStats"] == 1


class CountingConn:
    """The real connection, counting the statistics calls that pass through it."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.calls: dict[str, int] = {}

    def __getattr__(self, name):
        real = getattr(self._conn, name)
        if name not in ("getAllDomainStats", "domainListGetStats"):
            return real

        def call(*args):
            self.calls[name] = self.calls.get(name, 0) + 1
            return real(*args)
        return call


def run_for_batches(aloop, sampler, count: int) -> list:
    batches = []

    async def scenario():
        sampler.start(batches.append, 0.02)
        while len(batches) < count:
            await asyncio.sleep(0.01)
        await sampler.stop()

    aloop.run_until_complete(asyncio.wait_for(scenario(), 30))
    return batches


def test_a_big_host_nobody_looks_at_rests_between_full_ticks(aloop, big_host):
    conn, running, _stopped = big_host
    sampler = StatsSampler(conn)
    sampler.host_hot = False
    batches = run_for_batches(aloop, sampler, 3)
    # No call at all between full ticks: not even the host's own figures.
    assert all(b.full for b in batches)
    assert sampler._tick >= 2 * FULL_EVERY + 1
    # Once its row is on screen, the host's figures come every tick again.
    sampler.host_hot = True
    assert [b.full for b in run_for_batches(aloop, sampler, FULL_EVERY)].count(False) >= 1


def test_a_hot_vm_keeps_its_host_ticking(aloop, big_host):
    conn, running, _stopped = big_host
    sampler = StatsSampler(conn, host=False)
    sampler.host_hot = False
    sampler.hot_keys = frozenset({running[0]})
    batches = run_for_batches(aloop, sampler, FULL_EVERY + 1)
    assert [b.full for b in batches].count(False) >= FULL_EVERY - 1


def test_hosts_on_screen_or_in_the_tab_are_hot(aloop, lab):
    stack, conn_id, _keys = lab
    monitor = stack.monitor
    collector = monitor.collector(conn_id)
    assert not collector.host_hot
    monitor.set_hot_hosts("tree", {conn_id})
    assert collector.host_hot
    monitor.set_hot_hosts("tree", ())
    monitor.watch(conn_id, None)                   # per-core graphs of the host
    assert collector.host_hot
    monitor.unwatch(conn_id, None)
    assert not collector.host_hot
