"""The vectorised statistics tick gives exactly the numbers of the implementation it
replaced (tests/unit/reference_rates.py, kept frozen): on the records captured from a
real QEMU guest and on the cases that make rates lie — a counter reset or wrapped, a VM
appearing or leaving between ticks, fields missing, devices plugged and unplugged,
user-mode NICs, the same instant twice (zero interval). NaN must be NaN in both.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.perf.columns import DomainColumns
from app.perf.rates import DomainRateCalculator
from connectors.libvirt.stats import StatsBatch
from tests.unit import reference_rates as ref

CAPTURE = Path(__file__).parent / "data" / "qemu_domain_stats.json"
FIELDS = ("dt", "state", "vcpus", "cpu_percent", "mem_assigned_kib", "mem_maximum_kib",
          "mem_used_kib", "mem_rss_kib", "disk_rd_bps", "disk_wr_bps", "disk_rd_iops",
          "disk_wr_iops", "net_rx_bps", "net_tx_bps", "vcpu_owner", "vcpu_percent",
          "disk_owner", "disk_rates", "net_owner", "net_rates")
COLUMNS = ("t", "domain_id", "state", "cpu", "vcpu_count", "vcpu_times", "balloon_current",
           "balloon_maximum", "balloon_rss", "balloon_available", "balloon_unused")
U64 = 2**64 - 1


def assert_same_rates(new, old) -> None:
    assert new.keys == old.keys and new.index == old.index
    assert new.t == old.t or (np.isnan(new.t) and np.isnan(old.t))
    assert new.wall == old.wall or (np.isnan(new.wall) and np.isnan(old.wall))
    for name in FIELDS:
        a, b = np.asarray(getattr(new, name)), np.asarray(getattr(old, name))
        assert a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert new.disk_names == old.disk_names and new.net_names == old.net_names


def assert_same_columns(new: DomainColumns, old) -> None:
    assert new.keys == old.keys
    for name in COLUMNS:
        a, b = getattr(new, name), getattr(old, name)
        assert a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    for kind in ("disks", "nets"):
        a, b = getattr(new, kind), getattr(old, kind)
        assert a.names == b.names, kind
        for part in ("reported", "count", "offset", "owner"):
            assert np.array_equal(getattr(a, part), getattr(b, part)), (kind, part)
        assert a.counters.shape == b.counters.shape
        assert np.array_equal(a.counters, b.counters, equal_nan=True), kind


def run_both(ticks: list[tuple[float, list]], max_gap_s: float = 60.0) -> int:
    """Every tick through both calculators; returns how many rates were finite."""
    new, old = DomainRateCalculator(max_gap_s), ref.DomainRateCalculator(max_gap_s)
    finite = 0
    for t, records in ticks:
        batch = StatsBatch(t, 1e9 + t, records, None, 0.0)
        assert_same_columns(DomainColumns.from_records(records, t, 1e9 + t),
                            ref.DomainColumns.from_records(records, t, 1e9 + t))
        a, b = new.update_batch(batch), old.update_batch(batch)
        assert_same_rates(a, b)
        finite += int(np.isfinite(a.cpu_percent).sum() + np.isfinite(a.disk_rates).sum())
    return finite


def _captured() -> list[dict]:
    return json.loads(CAPTURE.read_text())


def _grown(rec: dict, by: int) -> dict:
    out = dict(rec)
    for key, value in rec.items():
        if key.endswith((".time", ".bytes", ".reqs", ".pkts")) and isinstance(value, int):
            out[key] = value + by * (1 + len(key))
    return out


def test_the_captured_qemu_records_over_many_vms_and_ticks():
    """Running, running 2 s later, paused: as a host of 300 VMs for six ticks, with one
    VM restarting, one leaving, one arriving and one losing its balloon figures."""
    running, later, paused = _captured()
    ticks = []
    for k in range(6):
        records = []
        for i in range(300):
            base = (running, later, paused)[i % 3]
            rec = _grown(base, k * (i + 1) * 1000)
            if i == 7 and k >= 3:      # restarted: counters from zero, a new id
                rec = _grown(running, 0)
            if i == 11 and k == 4:
                rec.pop("balloon.rss")
                rec.pop("block.0.rd.bytes")
            records.append((f"vm-{i:03d}", 100 + i + (1000 if i == 7 and k >= 3 else 0),
                            rec))
        if k == 2:
            records = records[1:]      # vm-000 leaves for one tick
        if k >= 4:
            records.append(("newcomer", 5000, _grown(later, k)))
        ticks.append((2.0 * k, records[::-1] if k == 5 else records))  # order changes
    assert run_both(ticks) > 1000


def test_zero_and_negative_intervals_and_long_gaps():
    running, later, _ = _captured()
    ticks = [(10.0, [("a", 1, running)]), (10.0, [("a", 1, later)]),
             (9.0, [("a", 1, _grown(later, 5))]), (200.0, [("a", 1, _grown(later, 9))]),
             (202.0, [("a", 1, _grown(later, 12))])]
    assert run_both(ticks) > 0


def test_no_vms_at_all_and_state_only_records():
    """A host with nothing running, and libvirt's test driver, which reports the state
    only."""
    ticks = [(0.0, []), (2.0, [("a", 1, {"state.state": 1, "state.reason": 0})]),
             (4.0, [("a", 1, {"state.state": 1, "state.reason": 0}),
                    ("b", None, {"state.state": 5})]), (6.0, [])]
    run_both(ticks)


counter = st.one_of(st.integers(min_value=0, max_value=2**40),
                    st.integers(min_value=U64 - 2**20, max_value=U64))  # about to wrap


@st.composite
def record(draw) -> dict:
    rec: dict = {"state.state": draw(st.sampled_from([1, 3, 5]))}
    maybe = lambda: draw(st.booleans())  # noqa: E731
    if maybe():
        rec["cpu.time"] = draw(counter)
    if maybe():
        n = draw(st.integers(min_value=0, max_value=3))
        rec["vcpu.current"] = n
        for i in range(n):
            if draw(st.integers(0, 4)):
                rec[f"vcpu.{i}.time"] = draw(counter)
    for key in ("balloon.current", "balloon.maximum", "balloon.rss", "balloon.available",
                "balloon.unused"):
        if maybe():
            rec[key] = draw(counter)
    if maybe():
        names = draw(st.lists(st.sampled_from(["vda", "vdb", "sda", "hdc"]), unique=True,
                              max_size=3))
        rec["block.count"] = len(names)
        for i, name in enumerate(names):
            if draw(st.integers(0, 6)):
                rec[f"block.{i}.name"] = name
            for field in ("rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs"):
                if draw(st.integers(0, 6)):
                    rec[f"block.{i}.{field}"] = draw(counter)
    if maybe():
        n = draw(st.integers(min_value=0, max_value=2))
        rec["net.count"] = n
        for i in range(n):
            if maybe():  # otherwise a user-mode NIC: nothing but the count
                rec[f"net.{i}.name"] = f"vnet{i}"
                for field in ("rx.bytes", "tx.bytes"):
                    if draw(st.integers(0, 6)):
                        rec[f"net.{i}.{field}"] = draw(counter)
    return rec


@st.composite
def ticks(draw) -> list[tuple[float, list]]:
    """Up to five ticks of up to six VMs: some leave, some arrive, ids change, the
    clock may stand still or jump, and a VM's record may be identical to the last one
    but for a few counters (so that its rates are real numbers)."""
    out: list[tuple[float, list]] = []
    t = 0.0
    last: dict[str, dict] = {}
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        t += draw(st.sampled_from([0.0, 2.0, 2.0, 2.0, 0.5, 90.0, -1.0]))
        keys = draw(st.lists(st.sampled_from("abcdef"), unique=True, max_size=6))
        records = []
        for key in keys:
            if key in last and draw(st.integers(0, 3)):
                rec = _grown(last[key], draw(st.integers(min_value=-5, max_value=10**6)))
            else:
                rec = draw(record())
            last[key] = rec
            records.append((key, draw(st.sampled_from([None, 1, 1, 1, 2])), rec))
        out.append((t, records))
    return out


@settings(max_examples=300, deadline=None)
@given(ticks())
def test_generated_ticks_give_the_reference_numbers(generated):
    run_both(generated)


def test_a_value_libvirt_never_sends_none_is_read_as_unknown_in_both():
    rec = {"state.state": 1, "cpu.time": None, "block.count": 1, "block.0.name": "vda",
           "block.0.rd.bytes": None, "block.0.wr.bytes": 5, "block.0.rd.reqs": 1,
           "block.0.wr.reqs": 2, "net.count": 1, "net.0.name": None, "net.0.rx.bytes": None,
           "net.0.tx.bytes": None}
    run_both([(0.0, [("a", 1, rec)]), (2.0, [("a", 1, dict(rec))])])
