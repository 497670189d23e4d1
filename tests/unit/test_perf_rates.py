"""Counters → rates: the cases that make naive subtraction lie."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.perf.rates import VM_METRICS, DomainRateCalculator, HostRateCalculator
from connectors.libvirt.stats import CpuTimes, DomainSample, HostSample, parse_domain_stats

CAPTURE = Path(__file__).parent / "data" / "qemu_domain_stats.json"
S = 1_000_000_000  # ns per second


def vm(key="a", t=0.0, cpu=0, vcpus=(0,), state=1, domain_id=7, disk=None, net=None,
       **kw) -> DomainSample:
    return DomainSample(key=key, t=t, wall=1e9 + t, state=state, domain_id=domain_id,
                        cpu_time_ns=cpu, vcpu_times_ns=vcpus, disk=disk, net=net, **kw)


def rates_for(*ticks, max_gap_s=60.0):
    calc = DomainRateCalculator(max_gap_s=max_gap_s)
    return [calc.update(list(tick)) for tick in ticks]


def test_cpu_percent_is_share_of_all_vcpus():
    _, r = rates_for([vm(t=0, cpu=0, vcpus=(0, 0))],
                     [vm(t=2, cpu=2 * S, vcpus=(2 * S, 0))])
    # 2 s of CPU over 2 s of wall time on 2 vCPUs: half of the VM.
    assert r.cpu_percent[0] == pytest.approx(50.0)
    assert r.vcpu_percent_of("a").tolist() == pytest.approx([100.0, 0.0])
    assert r.dt[0] == pytest.approx(2.0)


def test_first_sample_is_a_gap_not_zero():
    (r,) = rates_for([vm(t=0, cpu=5 * S)])
    assert math.isnan(r.cpu_percent[0])


def test_paused_vm_is_a_real_zero():
    _, r = rates_for([vm(t=0, cpu=5 * S, vcpus=(5 * S,))],
                     [vm(t=2, cpu=5 * S, vcpus=(5 * S,), state=3)])
    assert r.cpu_percent[0] == 0.0
    assert r.vcpu_percent_of("a").tolist() == [0.0]


def test_restart_with_smaller_counter_is_a_gap():
    _, r, r2 = rates_for([vm(t=0, cpu=100 * S, vcpus=(100 * S,))],
                         [vm(t=2, cpu=1 * S, vcpus=(1 * S,))],
                         [vm(t=4, cpu=2 * S, vcpus=(2 * S,))])
    assert math.isnan(r.cpu_percent[0])
    assert math.isnan(r.vcpu_percent_of("a")[0])
    assert r2.cpu_percent[0] == pytest.approx(50.0)  # and counting resumes after it


def test_restart_detected_by_domain_id_even_if_counter_grew():
    _, r = rates_for([vm(t=0, cpu=1 * S, domain_id=7)],
                     [vm(t=2, cpu=3 * S, domain_id=8)])
    assert math.isnan(r.cpu_percent[0])


@pytest.mark.parametrize("t2", [0.0, -5.0, 61.0], ids=["no-time", "backwards", "too-long"])
def test_clock_jumps_and_long_stalls_are_gaps(t2):
    _, r = rates_for([vm(t=0, cpu=0)], [vm(t=t2, cpu=1 * S)])
    assert math.isnan(r.cpu_percent[0])
    assert math.isnan(r.dt[0])


def test_a_gap_is_not_interpolated():
    # The VM is missing from the middle tick: the tick after it compares with nothing
    # older than its own previous appearance in the calculator (the missing tick).
    _, gap, after = rates_for([vm(t=0, cpu=0)], [vm("b", t=2, cpu=0)],
                              [vm(t=4, cpu=4 * S)])
    assert gap.keys == ["b"]
    assert math.isnan(after.cpu_percent[0])


def test_missing_fields_stay_unknown():
    # The test driver and Xen leave out groups: no invented zeros anywhere.
    bare = DomainSample(key="a", t=0, wall=0, state=1)
    _, r = rates_for([bare], [DomainSample(key="a", t=2, wall=2, state=1)])
    for name in VM_METRICS:
        assert math.isnan(r.metrics()[name][0]), name


def test_memory_figures_pass_through():
    _, r = rates_for([vm(t=0)], [vm(t=2, balloon_current_kib=1024, balloon_maximum_kib=2048,
                                    balloon_rss_kib=900, balloon_available_kib=1000,
                                    balloon_unused_kib=400)])
    assert r.mem_assigned_kib[0] == 1024
    assert r.mem_maximum_kib[0] == 2048
    assert r.mem_rss_kib[0] == 900
    assert r.mem_used_kib[0] == 600


def test_disk_and_net_rates_per_device_and_summed():
    d0 = {"vda": (0, 0, 0, 0), "vdb": (0, 0, 0, 0)}
    d1 = {"vda": (2000, 4000, 20, 40), "vdb": (1000, 0, 10, 0)}
    n0, n1 = {"vnet0": (0, 0)}, {"vnet0": (600, 200)}
    _, r = rates_for([vm(t=0, disk=d0, net=n0)], [vm(t=2, disk=d1, net=n1)])
    assert r.disks_of("a") == {"vda": (1000.0, 2000.0, 10.0, 20.0),
                               "vdb": (500.0, 0.0, 5.0, 0.0)}
    assert (r.disk_rd_bps[0], r.disk_wr_bps[0]) == (1500.0, 2000.0)
    assert (r.disk_rd_iops[0], r.disk_wr_iops[0]) == (15.0, 20.0)
    assert r.nics_of("a") == {"vnet0": (300.0, 100.0)}
    assert (r.net_rx_bps[0], r.net_tx_bps[0]) == (300.0, 100.0)


def test_disk_appearing_and_disappearing():
    t0 = {"vda": (0, 0, 0, 0)}
    t1 = {"vda": (200, 0, 2, 0), "vdb": (10_000, 0, 1, 0)}     # vdb hot-plugged
    t2 = {"vdb": (10_400, 0, 3, 0)}                              # vda unplugged
    _, r1, r2 = rates_for([vm(t=0, disk=t0)], [vm(t=2, disk=t1)], [vm(t=4, disk=t2)])
    d1 = r1.disks_of("a")
    assert d1["vda"][0] == 100.0
    assert math.isnan(d1["vdb"][0])  # new: nothing to compare with yet
    assert r1.disk_rd_bps[0] == 100.0  # the sum counts the disks that have a rate
    assert r2.disks_of("a") == {"vdb": (200.0, 0.0, 1.0, 0.0)}
    assert r2.disk_rd_bps[0] == 200.0


def test_device_counter_reset_is_a_gap_for_that_device():
    _, r = rates_for([vm(t=0, disk={"vda": (5000, 5000, 50, 50)})],
                     [vm(t=2, disk={"vda": (10, 5200, 1, 52)})])
    rd, wr, rd_iops, wr_iops = r.disks_of("a")["vda"]
    assert math.isnan(rd) and math.isnan(rd_iops)
    assert (wr, wr_iops) == (100.0, 1.0)


def test_vm_without_disks_has_zero_disk_io_but_unreported_is_unknown():
    _, r = rates_for([vm("a", t=0, disk={}), vm("b", t=0)],
                     [vm("a", t=2, disk={}), vm("b", t=2)])
    assert r.disk_rd_bps[r.index["a"]] == 0.0
    assert math.isnan(r.disk_rd_bps[r.index["b"]])


def test_vms_reordered_appearing_and_leaving():
    _, r = rates_for([vm("a", t=0, cpu=0), vm("b", t=0, cpu=0, disk={"vda": (0, 0, 0, 0)})],
                     [vm("c", t=2, cpu=0), vm("b", t=2, cpu=1 * S,
                                              disk={"vda": (800, 0, 0, 0)})])
    assert r.keys == ["c", "b"]
    assert math.isnan(r.cpu_percent[0])
    assert r.cpu_percent[1] == pytest.approx(50.0)
    assert r.disks_of("b")["vda"][0] == 400.0


def test_vcpu_hotplug_is_a_gap_per_vcpu_but_not_for_the_total():
    _, r = rates_for([vm(t=0, cpu=0, vcpus=(0,))],
                     [vm(t=2, cpu=2 * S, vcpus=(2 * S, 0))])
    assert r.cpu_percent[0] == pytest.approx(50.0)
    assert np.isnan(r.vcpu_percent_of("a")).all()


def test_captured_qemu_records_give_sane_rates():
    records = json.loads(CAPTURE.read_text())
    s0 = parse_domain_stats("k", records[0], 0.0, 0.0, 5)
    s1 = parse_domain_stats("k", records[1], 2.0, 2.0, 5)
    _, r = rates_for([s0], [s1])
    assert 0.0 <= r.cpu_percent[0] <= 100.0
    assert r.mem_assigned_kib[0] == 131072
    assert list(r.disks_of("k")) == ["vda"]
    assert list(r.nics_of("k")) == ["vnet0"]


def test_host_cpu_and_memory():
    def host(t, idle, busy, per_core=None):
        return HostSample(t=t, wall=t, cpu_total=CpuTimes(busy, 0, idle, 0),
                          cpu_per_core=per_core, mem_total_kib=1000, mem_free_kib=400,
                          mem_cached_kib=100, mem_buffers_kib=50)

    calc = HostRateCalculator()
    first = calc.update(host(0, 0, 0, (CpuTimes(0, 0, 0, 0), None)))
    assert math.isnan(first.cpu_percent)
    r = calc.update(host(2, 3 * S, 1 * S, (CpuTimes(1 * S, 0, 1 * S, 0), None)))
    assert r.cpu_percent == pytest.approx(25.0)
    assert r.cpu_percent_per_core[0] == pytest.approx(50.0)
    assert math.isnan(r.cpu_percent_per_core[1])  # offline core
    assert r.mem_used_kib == 450
    reset = calc.update(host(4, 0, 0, (CpuTimes(0, 0, 0, 0), None)))  # host rebooted
    assert math.isnan(reset.cpu_percent)


def test_host_without_memory_stats_reports_unknown():
    calc = HostRateCalculator()
    r = calc.update(HostSample(0, 0, None, None, None, None, None, None))
    assert math.isnan(r.mem_used_kib) and math.isnan(r.cpu_percent)


def test_hypervisor_memory_without_cache_figures():
    """Xen reports total and free machine memory but no page cache or buffers: used is
    total - free, and the cache stays unknown rather than 0."""
    r = HostRateCalculator().update(HostSample(0, 0, None, None, 3_000_000, 1_000_000,
                                               None, None))
    assert r.mem_used_kib == 2_000_000 and r.mem_free_kib == 1_000_000
    assert math.isnan(r.mem_cached_kib) and math.isnan(r.cpu_percent)


def test_hypervisor_cpu_from_the_domains_summed_cpu_time():
    """No host CPU counters (Xen): busy = the running domains' CPU time, over 2 CPUs."""
    calc = HostRateCalculator()

    def sample(t: float, domains_ns: int) -> HostSample:
        return HostSample(t, t, None, None, None, None, None, None,
                          domains_cpu_ns=domains_ns, cpus=2)

    assert math.isnan(calc.update(sample(10.0, 5_000_000_000)).cpu_percent)
    r = calc.update(sample(12.0, 6_000_000_000))    # 1 s of CPU in 2 s on 2 CPUs
    assert r.cpu_percent == pytest.approx(25.0) and r.dt == pytest.approx(2.0)
    assert np.isnan(r.cpu_percent_per_core).all()
    # A domain ended: the sum went down, which is a gap, not an idle host.
    assert math.isnan(calc.update(sample(14.0, 1_000_000_000)).cpu_percent)
    assert calc.update(sample(16.0, 9_000_000_000)).cpu_percent == 100.0  # clipped


# -- property: whatever the counters do, rates are never negative, never infinite --------

counter = st.one_of(st.none(), st.integers(min_value=0, max_value=2**62))
dev_names = st.sampled_from(["vda", "vdb", "sda"])
sample_st = st.builds(
    lambda key, dt, cpu, vcpus, did, disk, net: (key, dt, cpu, vcpus, did, disk, net),
    st.sampled_from(["a", "b", "c"]),
    st.floats(min_value=-10, max_value=100, allow_nan=False),
    counter,
    st.one_of(st.none(), st.lists(counter, max_size=3).map(tuple)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=3)),
    st.one_of(st.none(), st.dictionaries(dev_names, st.tuples(counter, counter, counter,
                                                              counter), max_size=3)),
    st.one_of(st.none(), st.dictionaries(st.sampled_from(["vnet0", "vnet1"]),
                                         st.tuples(counter, counter), max_size=2)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(sample_st, max_size=4), min_size=1, max_size=6))
def test_rates_are_never_negative_or_infinite_and_shapes_are_stable(ticks):
    calc = DomainRateCalculator()
    now = 0.0
    for tick in ticks:
        samples, seen = [], set()
        for key, dt, cpu, vcpus, did, disk, net in tick:
            if key in seen:
                continue
            seen.add(key)
            samples.append(DomainSample(key=key, t=now + dt, wall=now, state=1,
                                        domain_id=did, cpu_time_ns=cpu, vcpu_times_ns=vcpus,
                                        disk=disk, net=net))
        now += 2.0
        r = calc.update(samples)
        n = len(samples)
        for name, values in r.metrics().items():
            assert values.shape == (n,), name
            assert not np.isinf(values).any(), name
            assert not (values < 0).any(), name
        for flat in (r.vcpu_percent, r.disk_rates, r.net_rates):
            assert not np.isinf(flat).any() and not (flat < 0).any()
        assert r.vcpu_percent.shape[0] == sum(len(s.vcpu_times_ns or ()) for s in samples)
        assert r.disk_rates.shape == (sum(len(s.disk or {}) for s in samples), 4)
        assert r.net_rates.shape == (sum(len(s.net or {}) for s in samples), 2)
        assert (r.cpu_percent[np.isfinite(r.cpu_percent)] <= 100).all()


# -- the fast path (raw records, column-wise) gives exactly what the object path gives --

def _raw_record(draw, tick: int) -> dict:
    rec = {"state.state": draw(st.sampled_from([1, 3, 5]))}
    maybe = lambda: draw(st.booleans())  # noqa: E731
    value = lambda: draw(st.integers(min_value=0, max_value=2**50))  # noqa: E731
    if maybe():
        rec["cpu.time"] = value()
    if maybe():
        n = draw(st.integers(min_value=0, max_value=3))
        rec["vcpu.current"] = n
        for i in range(n):
            if maybe() or tick:
                rec[f"vcpu.{i}.time"] = value()
    for key in ("balloon.current", "balloon.maximum", "balloon.rss", "balloon.available",
                "balloon.unused"):
        if maybe():
            rec[key] = value()
    if maybe():
        names = draw(st.lists(st.sampled_from(["vda", "vdb", "sda", "hdc"]), unique=True,
                              max_size=3))
        rec["block.count"] = len(names)
        for i, name in enumerate(names):
            rec[f"block.{i}.name"] = name
            for field in ("rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs"):
                if maybe() or maybe():
                    rec[f"block.{i}.{field}"] = value()
    if maybe():
        n = draw(st.integers(min_value=0, max_value=2))
        rec["net.count"] = n
        for i in range(n):
            if maybe():  # otherwise a user-mode NIC: nothing but the count
                rec[f"net.{i}.name"] = f"vnet{i}"
                for field in ("rx.bytes", "tx.bytes"):
                    if maybe() or maybe():
                        rec[f"net.{i}.{field}"] = value()
    return rec


@st.composite
def raw_ticks(draw):
    ticks = []
    for tick in range(draw(st.integers(min_value=1, max_value=3))):
        keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True,
                             max_size=4))
        records = [(k, draw(st.sampled_from([None, 1, 2])), _raw_record(draw, tick))
                   for k in keys]
        ticks.append(records)
    return ticks


def _same(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return x.shape == y.shape and np.array_equal(x, y, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(raw_ticks())
def test_record_path_equals_sample_path(ticks):
    from connectors.libvirt.stats import StatsBatch

    fast, slow = DomainRateCalculator(), DomainRateCalculator()
    for i, records in enumerate(ticks):
        batch = StatsBatch(t=2.0 * i, wall=100.0 + 2 * i, records=records, host=None,
                           elapsed_s=0.0)
        a = fast.update_batch(batch)
        b = slow.update(batch.domains)
        assert a.keys == b.keys
        for name in VM_METRICS + ("dt", "state", "vcpus", "mem_maximum_kib"):
            assert _same(getattr(a, name), getattr(b, name)), name
        for key in a.keys:
            assert _same(a.vcpu_percent_of(key), b.vcpu_percent_of(key))
            da, db = a.disks_of(key), b.disks_of(key)
            assert list(da) == list(db) and _same(list(da.values()), list(db.values()))
            na, nb = a.nics_of(key), b.nics_of(key)
            assert list(na) == list(nb) and _same(list(na.values()), list(nb.values()))


def test_record_path_on_the_captured_qemu_records():
    from connectors.libvirt.stats import StatsBatch

    captured = json.loads(CAPTURE.read_text())
    calc = DomainRateCalculator()
    calc.update_batch(StatsBatch(0.0, 0.0, [("k", 5, captured[0])], None, 0.0))
    r = calc.update_batch(StatsBatch(2.0, 2.0, [("k", 5, captured[1])], None, 0.0))
    expected = (captured[1]["cpu.time"] - captured[0]["cpu.time"]) / 2e9 / 2 * 100
    assert r.cpu_percent[0] == pytest.approx(min(expected, 100.0))
    assert list(r.disks_of("k")) == ["vda"] and list(r.nics_of("k")) == ["vnet0"]
    rx = (captured[1]["net.0.rx.bytes"] - captured[0]["net.0.rx.bytes"]) / 2
    assert r.net_rx_bps[0] == pytest.approx(rx)
