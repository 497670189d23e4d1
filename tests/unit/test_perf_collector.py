"""PerfCollector on libvirt's test driver: ticks reach the ring buffers, the history and
the listener; a failed tick leaves a visible gap.

The test driver reports only each VM's state (no counters), so VM rates are NaN here —
which is also what must reach the buffers: a gap, not a zero. The rate arithmetic itself
is covered by test_perf_rates.py and, on a real QEMU guest, by
tests/integration/test_stats_qemu.py.
"""
from __future__ import annotations

import asyncio
import math
from pathlib import Path

import libvirt
import numpy as np
import pytest

from app.perf.collector import PerfCollector
from app.perf.history import HistoryStore

LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"


class FailOnce:
    """The real connection, except that the bulk call fails once, on the 2nd tick (as
    libvirt does after the connection is closed: a real libvirtError from a closed
    connection of the same driver)."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.calls = 0
        self._closed = libvirt.open("test:///default")
        self._closed.close()

    def __getattr__(self, name):
        if name != "getAllDomainStats":
            return getattr(self._conn, name)

        def stats(*args):
            self.calls += 1
            if self.calls == 2:
                return self._closed.getAllDomainStats(*args)
            return self._conn.getAllDomainStats(*args)

        return stats


@pytest.fixture
def lab():
    conn = libvirt.open(f"test://{LAB}")
    yield conn
    conn.close()


def run_until(aloop, collector, predicate, timeout=20.0):
    async def scenario():
        collector.start()
        while not predicate():
            await asyncio.sleep(0.01)
        await collector.stop()

    aloop.run_until_complete(asyncio.wait_for(scenario(), timeout))


def test_ticks_reach_buffers_history_and_listener(aloop, lab, tmp_path):
    history = HistoryStore(tmp_path / "history.sqlite", writer_thread=False).start()
    ticks = []
    collector = PerfCollector(lab, "test:///lab", history=history, interval_s=0.05,
                              listener=ticks.append)
    try:
        run_until(aloop, collector, lambda: len(ticks) >= 3)
    finally:
        collector.close()
    running = {d.UUIDString() for d in lab.listAllDomains(
        libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
    assert set(ticks[-1].vms.keys) == running
    key = sorted(running)[0]
    t, cpu = collector.vm_buffers.series("cpu_percent", key)
    assert len(t) == len(ticks) and np.isnan(cpu).all()  # no counters: gaps, not zeros
    assert list(t) == sorted(t)
    # The host's CPU figures exist (the test driver's are constant: 0 busy → NaN or 0).
    ht, _ = collector.host_buffers.series("cpu_percent", collector.host_key)
    assert len(ht) == len(ticks)
    history.flush()
    assert history.frame_count(0) >= len(ticks)
    history.close()


def test_failed_tick_leaves_a_gap_row(aloop, lab):
    conn = FailOnce(lab)
    errors, ticks = [], []
    collector = PerfCollector(conn, "test:///lab", interval_s=0.05, listener=ticks.append,
                              on_error=errors.append)
    try:
        run_until(aloop, collector, lambda: len(ticks) >= 2)
    finally:
        collector.close()
    assert len(errors) == 1 and isinstance(errors[0], libvirt.libvirtError)
    assert collector.errors == 1
    key = ticks[-1].vms.keys[0]
    t, _ = collector.vm_buffers.series("cpu_percent", key)
    # Tick 1, then a gap row half-way to tick 3 (the failed tick 2 has no row of its
    # own), then tick 3: a graph breaks the line there.
    assert len(t) == 3
    assert t[1] == pytest.approx((t[0] + t[2]) / 2)
    assert ticks[-1].wall == t[2]


def test_a_late_first_tick_is_no_gap_and_a_late_later_one_is(aloop, lab):
    """Ticks the sampler missed (a busy machine) break the line between two samples;
    before the first sample there is nothing to break."""
    collector = PerfCollector(lab, "test:///lab")
    try:
        first = collector._sampler.collect()
        first.skipped_ticks = 3
        collector.feed(first)
        key = collector.latest.vms.keys[0]
        t, _ = collector.vm_buffers.series("cpu_percent", key)
        assert list(t) == [first.wall]
        later = collector._sampler.collect()
        later.skipped_ticks = 1
        collector.feed(later)
        t, values = collector.vm_buffers.series("cpu_percent", key)
        assert len(t) == 3 and t[1] == pytest.approx((first.wall + later.wall) / 2)
        assert math.isnan(values[1])
    finally:
        collector.close()


def test_groups_can_be_switched(aloop, lab):
    collector = PerfCollector(lab, "test:///lab", groups={"cpu", "vcpu"})
    try:
        assert collector.groups == {"cpu", "vcpu", "state"}
        collector.groups = {"cpu", "vcpu", "balloon"}
        assert "disk" not in collector.groups
    finally:
        collector.close()
