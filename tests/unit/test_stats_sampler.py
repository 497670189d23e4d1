"""StatsSampler against libvirt's real test driver, and the record parser on a record
captured from a QEMU guest under qemu:///system.

libvirt 9.0's test driver answers virConnectGetAllDomainStats with the "state" group only
(cpu, vcpu, balloon, block and interface come back empty) and has no
virNodeGetMemoryStats; so the driver tests check the bulk call, the tick loop and that
missing figures stay None, and the parser tests use the captured QEMU record
(tests/unit/data/qemu_domain_stats.json: running, running 2 s later, paused).

``Spy`` wraps the real connection to count and time the calls it passes through (every
call still reaches libvirt); where it adds a delay, that is the "slow host".
"""
from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
import time
from pathlib import Path

import libvirt
import pytest

from connectors.libvirt.stats import (
    DEFAULT_GROUPS, DomainSample, SamplerBusy, StatsSampler, parse_domain_stats)

DATA = Path(__file__).parent / "data" / "qemu_domain_stats.json"
LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"


class Spy:
    """Passes every call to the real virConnect, counting them; optionally slow."""

    def __init__(self, conn, delay_s: float = 0.0) -> None:
        self._conn = conn
        self.delay_s = delay_s
        self.calls: list[tuple[str, tuple]] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def __getattr__(self, name):
        real = getattr(self._conn, name)

        def call(*args):
            with self._lock:
                self.calls.append((name, args))
                self.running += 1
                self.max_running = max(self.max_running, self.running)
            try:
                if name == "getAllDomainStats" and self.delay_s:
                    time.sleep(self.delay_s)
                return real(*args)
            finally:
                with self._lock:
                    self.running -= 1

        return call

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)


@pytest.fixture
def lab_conn():
    conn = libvirt.open(f"test://{LAB}")
    yield conn
    conn.close()


@pytest.fixture
def default_conn():
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


def test_one_bulk_call_per_tick_for_all_vms(aloop, lab_conn):
    spy = Spy(lab_conn)
    sampler = StatsSampler(spy, per_core=False)
    try:
        batch = aloop.run_until_complete(sampler.sample_once())
    finally:
        sampler.close()
    running = {d.UUIDString() for d in lab_conn.listAllDomains(
        libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
    assert len(running) > 1
    assert {s.key for s in batch.domains} == running  # active only, by default
    assert spy.count("getAllDomainStats") == 1
    # Nothing per VM went over the connection: only the bulk call and the host figures
    # (node info and free memory where the driver has no node memory statistics).
    assert {name for name, _ in spy.calls} <= {"getAllDomainStats", "getCPUStats",
                                               "getMemoryStats", "getInfo",
                                               "getFreeMemory"}


def test_inactive_vms_on_request(aloop, lab_conn):
    sampler = StatsSampler(lab_conn, active_only=False, host=False)
    try:
        batch = aloop.run_until_complete(sampler.sample_once())
    finally:
        sampler.close()
    assert len(batch.domains) == len(lab_conn.listAllDomains(0))
    off = [s for s in batch.domains if s.state == libvirt.VIR_DOMAIN_SHUTOFF]
    assert off and all(s.domain_id is None for s in off)


def test_test_driver_reports_state_only_and_nothing_is_invented(aloop, default_conn):
    sampler = StatsSampler(default_conn)
    try:
        batch = aloop.run_until_complete(sampler.sample_once())
    finally:
        sampler.close()
    (dom,) = batch.domains
    assert dom.key == default_conn.lookupByName("test").UUIDString()
    assert dom.state == libvirt.VIR_DOMAIN_RUNNING
    assert dom.domain_id == default_conn.lookupByName("test").ID()
    assert dom.cpu_time_ns is None and dom.vcpu_times_ns is None
    assert dom.balloon_current_kib is None and dom.disk is None and dom.net is None
    assert dom.t == batch.t and batch.elapsed_s >= 0
    host = batch.host
    assert host.cpu_total is not None and host.cpu_total.idle is not None
    assert host.cpu_per_core is not None and any(c is not None for c in host.cpu_per_core)
    # The test driver has no node memory statistics (nor has Xen's): total and free come
    # from the node info and free-memory calls, and nothing stands in for the cache.
    assert host.mem_total_kib == default_conn.getInfo()[1] * 1024
    assert host.mem_free_kib == default_conn.getFreeMemory() // 1024
    assert host.mem_cached_kib is None and host.mem_buffers_kib is None


def test_prepare_runs_in_the_worker_and_rides_on_the_batch(aloop, default_conn):
    from app.perf.rates import DomainRateCalculator

    calc = DomainRateCalculator()
    threads = []

    def prepare(batch):
        threads.append(threading.current_thread())
        return calc.update_batch(batch)

    sampler = StatsSampler(default_conn, prepare=prepare)
    try:
        first = aloop.run_until_complete(sampler.sample_once())
        second = aloop.run_until_complete(sampler.sample_once())
    finally:
        sampler.close()
    assert threading.main_thread() not in threads and len(threads) == 2
    key = default_conn.lookupByName("test").UUIDString()
    assert first.prepared.keys == second.prepared.keys == [key]
    assert second.prepared.dt[0] == pytest.approx(second.t - first.t)
    assert math.isnan(second.prepared.cpu_percent[0])  # the test driver has no cpu.time


def test_groups_choose_the_stats_flags(aloop, default_conn):
    spy = Spy(default_conn)
    sampler = StatsSampler(spy, groups=DEFAULT_GROUPS - {"disk", "net"}, host=False)
    try:
        aloop.run_until_complete(sampler.sample_once())
        sampler.groups = {"cpu"}
        aloop.run_until_complete(sampler.sample_once())
    finally:
        sampler.close()
    (first, flags1), (second, flags2) = [args for _, args in spy.calls]
    assert not first & (libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_INTERFACE)
    assert first & libvirt.VIR_DOMAIN_STATS_VCPU and first & libvirt.VIR_DOMAIN_STATS_BALLOON
    assert second == libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_STATE
    assert flags1 & libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
    with pytest.raises(ValueError, match="unknown statistics group"):
        StatsSampler(default_conn, groups={"cpu", "gpu"})


def run_until(aloop, sampler, interval_s, done, timeout_s, on_error=None) -> list:
    """Runs the sampler's tick loop until done(batches) holds, stops and closes it; the
    batches it delivered."""
    batches = []

    async def scenario():
        sampler.start(batches.append, interval_s, on_error=on_error)
        while not done(batches):
            await asyncio.sleep(0.01)
        await sampler.stop()

    try:
        aloop.run_until_complete(asyncio.wait_for(scenario(), timeout_s))
    finally:
        sampler.close()
    return batches


def test_run_ticks_until_stopped(aloop, default_conn):
    sampler = StatsSampler(default_conn)
    batches = run_until(aloop, sampler, 0.05, lambda b: len(b) >= 3, 20)
    assert not sampler.running
    assert [b.t for b in batches] == sorted(b.t for b in batches)
    assert len({b.t for b in batches}) == len(batches)


def test_slow_host_never_overlaps_and_the_gap_is_visible(aloop, default_conn):
    spy = Spy(default_conn, delay_s=0.3)
    sampler = StatsSampler(spy, host=False)
    batches = run_until(aloop, sampler, 0.05, lambda b: len(b) >= 3, 30)
    assert spy.max_running == 1
    # Fewer samples than the interval asks for, and each batch says so.
    assert all(b.skipped_ticks > 0 for b in batches[1:])
    assert all(later.t - earlier.t >= 0.3 for earlier, later in itertools.pairwise(batches))


def test_timeout_then_busy_until_the_stuck_call_returns(aloop, default_conn):
    spy = Spy(default_conn, delay_s=0.6)
    sampler = StatsSampler(spy, host=False, timeout_s=0.1)

    async def scenario():
        with pytest.raises(asyncio.TimeoutError):
            await sampler.sample_once()
        with pytest.raises(SamplerBusy):  # no second call stacked on a stuck host
            await sampler.sample_once()
        deadline = time.monotonic() + 10
        while True:  # once the stuck call has returned, ticks work again
            try:
                spy.delay_s = 0
                return await sampler.sample_once()
            except SamplerBusy:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

    try:
        batch = aloop.run_until_complete(asyncio.wait_for(scenario(), 30))
    finally:
        sampler.close()
    assert batch.domains and spy.max_running == 1


def test_errors_are_reported_and_the_loop_goes_on(aloop):
    conn = libvirt.open("test:///default")
    sampler = StatsSampler(conn, host=False)
    errors = []
    conn.close()  # every call now fails with a libvirtError
    batches = run_until(aloop, sampler, 0.02, lambda _b: len(errors) >= 3, 20,
                        on_error=errors.append)
    assert not batches
    assert all(isinstance(e, libvirt.libvirtError) for e in errors)


def test_a_failing_tick_handler_is_reported_and_the_loop_goes_on(aloop, default_conn):
    sampler = StatsSampler(default_conn, host=False)
    handled, errors = [], []

    def handler(batch):
        handled.append(batch)
        if len(handled) == 1:
            raise ValueError("a bug in the app's handling of one tick")

    async def scenario():
        sampler.start(handler, 0.02, on_error=errors.append)
        while len(handled) < 3:
            await asyncio.sleep(0.01)
        await sampler.stop()

    try:
        aloop.run_until_complete(asyncio.wait_for(scenario(), 20))
    finally:
        sampler.close()
    assert [type(e) for e in errors] == [ValueError]


# -- the parser, on records captured from a real QEMU guest -----------------------------

@pytest.fixture(scope="module")
def captured():
    return json.loads(DATA.read_text())


def test_parse_captured_qemu_record(captured):
    running = captured[0]
    s = parse_domain_stats("uuid", running, 10.0, 1e9, 3)
    assert isinstance(s, DomainSample)
    assert (s.key, s.t, s.wall, s.domain_id) == ("uuid", 10.0, 1e9, 3)
    assert s.state == libvirt.VIR_DOMAIN_RUNNING
    assert s.cpu_time_ns == running["cpu.time"]
    assert s.vcpu_times_ns == (running["vcpu.0.time"], running["vcpu.1.time"])
    assert s.balloon_current_kib == running["balloon.current"]
    assert s.balloon_maximum_kib == running["balloon.maximum"]
    assert s.balloon_rss_kib == running["balloon.rss"]
    assert s.balloon_available_kib is None  # the guest has no balloon driver
    assert s.disk == {"vda": (running["block.0.rd.bytes"], running["block.0.wr.bytes"],
                              running["block.0.rd.reqs"], running["block.0.wr.reqs"])}
    assert s.net == {"vnet0": (running["net.0.rx.bytes"], running["net.0.tx.bytes"])}


def test_parse_paused_record(captured):
    s = parse_domain_stats("uuid", captured[2], 0, 0)
    assert s.state == libvirt.VIR_DOMAIN_PAUSED
    assert s.cpu_time_ns is not None


def test_parse_partial_records_gives_none_not_zero(captured):
    record = dict(captured[0])
    for key in ("cpu.time", "balloon.rss", "vcpu.1.time", "block.0.wr.reqs"):
        del record[key]
    s = parse_domain_stats("uuid", record, 0, 0)
    assert s.cpu_time_ns is None and s.balloon_rss_kib is None
    assert s.vcpu_times_ns[1] is None and s.vcpu_times_ns[0] is not None
    assert s.disk["vda"][3] is None and s.disk["vda"][0] is not None


def test_parse_shut_off_disk_and_user_mode_nic():
    # A disk of an inactive VM has a name but no I/O counters; a user-mode NIC has no
    # host device and libvirt reports only net.count for it.
    s = parse_domain_stats("uuid", {"state.state": 5, "block.count": 1,
                                    "block.0.name": "vda", "net.count": 1}, 0, 0)
    assert s.disk == {"vda": (None, None, None, None)}
    assert s.net == {}
    assert s.vcpu_times_ns is None and s.cpu_time_ns is None


class OldServer(Spy):
    """A libvirtd older than 4.5, as far as NOWAIT goes: the flag is passed on as a bit
    the test driver does not know, so the real driver answers "unsupported flags"."""

    def __getattr__(self, name):
        call = super().__getattr__(name)
        if name != "getAllDomainStats":
            return call

        def stats(stats_flags, flags):
            if flags & libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT:
                flags = (flags & ~libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT) | 1 << 20
            return call(stats_flags, flags)

        return stats


def test_older_server_without_nowait_is_asked_again_without_it(aloop, default_conn):
    spy = OldServer(default_conn)
    sampler = StatsSampler(spy, host=False)
    try:
        first = aloop.run_until_complete(sampler.sample_once())
        second = aloop.run_until_complete(sampler.sample_once())
    finally:
        sampler.close()
    assert len(first.records) == len(second.records) == 1
    flags = [args[1] for name, args in spy.calls]
    # Rejected once, then never asked with NOWAIT again.
    assert len(flags) == 3 and flags[1] == flags[2]
    assert not flags[2] & libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT


def test_per_domain_records_where_a_driver_has_no_bulk_call(default_conn):
    """Xen's libxl driver lacks virConnectGetAllDomainStats; the records built from
    virDomainGetInfo carry what it does report and leave the rest out (not zero)."""
    from connectors.libvirt.stats import per_domain_stats

    records = per_domain_stats(default_conn)
    assert [dom.name() for dom, _ in records] == ["test"]
    (dom, record), = records
    state, maximum, current, vcpus, cpu_time = dom.info()
    reported = record.pop("cpu.time")
    assert 0 < reported <= cpu_time  # the test driver's CPU time runs with the clock
    assert record == {"state.state": state, "balloon.current": current,
                      "balloon.maximum": maximum, "vcpu.current": vcpus}
    sample = parse_domain_stats(dom.UUIDString(), dict(record, **{"cpu.time": reported}),
                                1.0, 1.0)
    assert sample.cpu_time_ns == reported and sample.balloon_current_kib == current
    assert sample.disk is None and sample.net is None and sample.balloon_rss_kib is None
    everything = per_domain_stats(default_conn, active_only=False)
    assert len(everything) == len(default_conn.listAllDomains())
