"""Ring buffers for live graphs: bounded, O(1) appends, last-N views."""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.perf.ring import LiveBuffers, Ring, RingTable


def test_ring_keeps_the_newest_values_in_order():
    ring = Ring(4)
    assert len(ring) == 0 and ring.last().tolist() == []
    for v in range(1, 7):
        ring.append(v)
    assert len(ring) == 4
    assert ring.last().tolist() == [3, 4, 5, 6]
    assert ring.last(2).tolist() == [5, 6]
    assert ring.last(99).tolist() == [3, 4, 5, 6]


def test_ring_last_is_a_view_when_contiguous():
    ring = Ring(8)
    for v in range(5):
        ring.append(v)
    view = ring.last(3)
    assert np.shares_memory(view, ring._buf)
    assert not view.flags.writeable  # a graph cannot scribble on the buffer
    ring.append(5)
    ring.append(6)
    ring.append(7)
    ring.append(8)  # wraps
    wrapped = ring.last(3)
    assert wrapped.tolist() == [6, 7, 8]
    assert len(wrapped) == 3  # the copy holds just the asked-for points


def test_ring_extend_across_the_end_and_beyond_capacity():
    ring = Ring(5)
    ring.extend([1, 2, 3])
    ring.extend([4, 5, 6, 7])
    assert ring.last().tolist() == [3, 4, 5, 6, 7]
    ring.extend(range(100))
    assert ring.last().tolist() == [95, 96, 97, 98, 99]


def test_ring_buffer_is_preallocated_and_never_grows():
    ring = Ring(16)
    buf = ring._buf
    for v in range(1000):
        ring.append(v)
    assert ring._buf is buf and ring.capacity == 16


def test_ring_rejects_zero_capacity():
    with pytest.raises(ValueError):
        Ring(0)


def test_table_columns_and_gaps_for_absent_series():
    table = RingTable(3, initial_columns=1)
    table.append(1.0, ["a", "b"], np.array([10, 20]))
    table.append(2.0, ["b"], np.array([21]))            # a absent: a gap
    table.append(3.0, ["c", "a"], np.array([30, 12]))  # columns grow
    t, a = table.column("a")
    assert t.tolist() == [1.0, 2.0, 3.0]
    assert a[0] == 10 and math.isnan(a[1]) and a[2] == 12
    table.append(4.0, ["a", "b", "c"], np.array([13, 23, 33]))
    t, b = table.column("b")
    assert t.tolist() == [2.0, 3.0, 4.0]
    assert b[0] == 21 and math.isnan(b[1]) and b[2] == 23
    assert table.latest("c") == 33
    t, unknown = table.column("zzz", 2)
    assert t.tolist() == [3.0, 4.0] and np.isnan(unknown).all()


def test_live_buffers_share_one_column_lookup():
    buffers = LiveBuffers(10, ["cpu_percent", "net_rx_bps"], initial_columns=2)
    keys = [f"vm{i}" for i in range(5)]
    for tick in range(12):
        buffers.push(float(tick), keys, {"cpu_percent": np.arange(5.0) + tick})
    t, cpu = buffers.series("cpu_percent", "vm3")
    assert t.tolist() == [float(x) for x in range(2, 12)]
    assert cpu.tolist() == [3.0 + x for x in range(2, 12)]
    _, rx = buffers.series("net_rx_bps", "vm3")
    assert np.isnan(rx).all()  # not collected: a gap, not zero
    t, cpu = buffers.series("cpu_percent", "vm3", n=3)
    assert len(t) == len(cpu) == 3
