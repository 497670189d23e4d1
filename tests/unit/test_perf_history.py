"""The on-disk performance history: tiers, pruning, reopening, SIGKILL, damaged files."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.perf.history import DEFAULT_TIERS, HistoryStore, Tier, default_path

REPO = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0  # a wall-clock time on a minute and 10-minute boundary


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def store(tmp_path, clock, **kw) -> HistoryStore:
    kw.setdefault("writer_thread", False)
    return HistoryStore(tmp_path / "history.sqlite", clock=clock, **kw)


def feed(h: HistoryStore, clock: Clock, seconds: float, step: float = 2.0, value=None):
    """Record one tick per ``step`` for VMs a and b (cpu = tick number for a, 2× for b)."""
    end = clock.t + seconds
    i = 0
    while clock.t < end:
        v = float(i) if value is None else value
        h.record(clock.t, ["a", "b"], {"cpu_percent": np.array([v, 2 * v])})
        clock.t += step
        i += 1


def test_default_path_is_in_the_xdg_data_dir():
    assert default_path() == Path(os.environ["XDG_DATA_HOME"]) / "hvconsole" / "history.sqlite"


def test_full_resolution_and_consolidated_tiers(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    feed(h, clock, 120)  # 60 ticks over two minutes, flushed once at the end
    h.flush()
    t, avg, mx = h.series("a", "cpu_percent", T0, T0 + 120)
    assert len(t) == 60 and avg.tolist() == mx.tolist() == [float(i) for i in range(60)]
    t, avg, mx = h.series("a", "cpu_percent", T0, T0 + 120, tier=1)
    assert t.tolist() == [T0, T0 + 60]
    assert avg.tolist() == [14.5, 44.5] and mx.tolist() == [29.0, 59.0]
    t, avg, mx = h.series("b", "cpu_percent", T0, T0 + 600, tier=2)
    assert t.tolist() == [T0] and avg[0] == pytest.approx(59.0) and mx[0] == 118.0
    h.close()


def test_buckets_spanning_flushes_merge_exactly(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    for _ in range(6):  # six flushes inside one minute
        feed(h, clock, 10, value=None)
        h.flush()
    _, avg, mx = h.series("a", "cpu_percent", T0, T0 + 59, tier=1)
    # Each 10 s chunk records 0..4: average 2, maximum 4, whatever the flush pattern.
    assert avg.tolist() == [pytest.approx(2.0)] and mx.tolist() == [4.0]
    h.close()


def test_gaps_are_not_recorded_as_values(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    h.record(T0, ["a"], {"cpu_percent": np.array([np.nan])})
    h.record(T0 + 2, ["a"], {"cpu_percent": np.array([4.0])})
    h.flush()
    t, avg, _ = h.series("a", "cpu_percent", T0 - 1, T0 + 10)
    assert t.tolist() == [T0 + 2]
    _, avg, _ = h.series("a", "cpu_percent", T0 - 1, T0 + 10, tier=1)
    assert avg.tolist() == [4.0]
    h.close()


def test_query_picks_the_tier_by_range(tmp_path):
    clock = Clock(T0 + 3 * 24 * 3600)
    h = store(tmp_path, clock)
    now = clock.t
    assert h.tier_for(now - 300) == 0
    assert h.tier_for(now - 3600) == 1
    assert h.tier_for(now - 6 * 24 * 3600) == 2
    assert h.tier_for(now - 60 * 24 * 3600) == 2
    h.close()


def test_a_span_reads_the_finest_tier_that_keeps_all_of_it(tmp_path):
    """A 10-minute graph reads every sample even when its start, taken a moment earlier,
    is by now a little more than 10 minutes old (reading by age gave minute averages)."""
    clock = Clock()
    h = store(tmp_path, clock)
    feed(h, clock, 600)
    h.flush()
    t_from = clock.t - 600
    clock.t += 0.01                 # the read runs a moment later, in a worker thread
    assert h.tier_for(t_from) == 1
    assert h.tier_for_span(600) == 0
    t, avg, _mx = h.series("a", "cpu_percent", t_from, clock.t, h.tier_for_span(600))
    assert len(t) == 300 and np.all(np.diff(t) == 2.0)
    assert [h.tier_for_span(s) for s in (3600, 86400, 7 * 86400, 30 * 86400)] == [1, 1, 2, 2]


def test_closing_waits_for_a_read_under_way_and_later_reads_find_nothing(tmp_path):
    """A graph's history is read in a worker thread while the app may be closing the
    store: sqlite3 crashes the process when a connection closes under a running read."""
    import threading
    clock = Clock()
    h = store(tmp_path, clock)
    feed(h, clock, 600)
    h.flush()
    stop = threading.Event()
    reads = []

    def reader():
        while not stop.is_set():
            reads.append(len(h.series("a", "cpu_percent", T0, clock.t, 0)[0]))
    thread = threading.Thread(target=reader)
    thread.start()
    while not reads and thread.is_alive():
        threading.Event().wait(0.001)
    h.close()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert reads[0] == 300 and reads[-1] == 0


def test_each_tier_is_pruned_to_its_retention(tmp_path):
    tiers = (Tier("full", 0, 60), Tier("1min", 60, 300), Tier("10min", 600, 1800))
    clock = Clock()
    h = store(tmp_path, clock, tiers=tiers)
    counts = []
    for _ in range(40):  # 40 minutes of 2 s samples, flushed every minute
        feed(h, clock, 60)
        h.flush()
        counts.append(h.frame_count())
    # Bounded: one frame per step and metric (both VMs share it) within each retention,
    # plus the bucket being filled and the one at the retention edge.
    bound = (60 / 2 + 1) + (300 / 60 + 2) + (1800 / 600 + 2)
    assert max(counts[-10:]) <= bound
    assert counts[-1] == counts[-2]  # steady state: as many pruned as added
    full_t, _, _ = h.series("a", "cpu_percent", 0, clock.t, tier=0)
    assert full_t.min() >= clock.t - 60 - 2
    h.close()


def test_reopen_keeps_the_data_and_series(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    feed(h, clock, 20)
    h.close()  # close flushes
    again = store(tmp_path, clock)
    t, avg, _ = again.series("a", "cpu_percent", T0, T0 + 20)
    assert len(t) == 10 and avg[-1] == 9.0
    feed(again, clock, 4)  # continues the same series after a restart
    again.flush()
    t, _, _ = again.series("a", "cpu_percent", T0, T0 + 30)
    assert len(t) == 12
    again.close()


def test_writer_thread_flushes_on_its_own(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock, writer_thread=True, flush_interval_s=0.05)
    try:
        feed(h, clock, 10)
        reader = sqlite3.connect(tmp_path / "history.sqlite", timeout=10)
        import time
        deadline = time.monotonic() + 10
        while reader.execute("SELECT COUNT(*) FROM frames WHERE tier=0").fetchone()[0] < 5:
            assert time.monotonic() < deadline, "the writer thread never flushed"
            time.sleep(0.02)
        reader.close()
    finally:
        h.close()


CHILD = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {repo!r})
    from app.perf.history import HistoryStore
    t0 = {t0!r}
    h = HistoryStore({path!r}, clock=lambda: t0, writer_thread=False)
    i = 0
    while True:
        h.record(t0 + i, ["vm"], {{"cpu_percent": np.array([float(i)])}})
        if i % 5 == 4:
            h.flush()
            print(i, flush=True)  # everything up to i is committed
        i += 1
""")


def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path):
    path = tmp_path / "history.sqlite"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO), t0=T0,
                                                                 path=str(path))],
                             stdout=subprocess.PIPE, text=True)
    try:
        flushed = [int(child.stdout.readline()) for _ in range(20)]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    last = flushed[-1]
    h = HistoryStore(path, clock=lambda: T0, writer_thread=False)
    assert h.warning is None
    t, avg, _ = h.series("vm", "cpu_percent", T0, T0 + 10_000)
    assert len(t) >= last + 1  # every committed sample is there (maybe a later flush too)
    assert avg[: last + 1].tolist() == [float(i) for i in range(last + 1)]
    h.close()


@pytest.mark.parametrize("damage", ["header", "middle", "truncated"])
def test_damaged_file_is_moved_aside_and_reported(tmp_path, damage):
    clock = Clock()
    h = store(tmp_path, clock)
    feed(h, clock, 600)
    h.close()
    path = tmp_path / "history.sqlite"
    size = path.stat().st_size
    with open(path, "r+b") as f:
        if damage == "header":
            f.write(os.urandom(200))
        elif damage == "middle":
            f.seek(size // 2)
            f.write(b"\xde\xad\xbe\xef" * 1024)
        else:
            f.truncate(size // 3)
    again = store(tmp_path, clock)  # must not raise
    assert again.warning and "damaged" in again.warning
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("history.sqlite.corrupt-")]
    assert len(moved) == 1 and moved[0].name in again.warning
    feed(again, clock, 10)  # and the fresh store works
    again.flush()
    t, _, _ = again.series("a", "cpu_percent", clock.t - 20, clock.t)
    assert len(t) == 5
    again.close()


def test_default_tiers_are_the_documented_ones():
    assert [(t.step_s, t.retention_s) for t in DEFAULT_TIERS] == [
        (0, 600), (60, 86400), (600, 7 * 86400)]


def test_restart_inside_a_bucket_keeps_it_exact(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    feed(h, clock, 20, value=10.0)  # 10 samples of 10 in the first minute
    h.close()
    again = store(tmp_path, clock)
    feed(again, clock, 10, value=40.0)  # 5 samples of 40 in the same minute
    again.flush()
    _, avg, mx = again.series("a", "cpu_percent", T0, T0 + 59, tier=1)
    assert avg.tolist() == [pytest.approx((10 * 10 + 5 * 40) / 15)] and mx.tolist() == [40.0]
    feed(again, clock, 10, value=40.0)  # later flushes rewrite, not double-count
    again.flush()
    _, avg, _ = again.series("a", "cpu_percent", T0, T0 + 59, tier=1)
    assert avg.tolist() == [pytest.approx((10 * 10 + 10 * 40) / 20)]
    again.close()


def test_sources_ticking_at_the_same_instant_keep_their_own_frames(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    h.record(T0, ["vm1"], {"cpu_percent": np.array([1.0])}, source="qemu+ssh://one/system")
    h.record(T0, ["vm2"], {"cpu_percent": np.array([2.0])}, source="qemu+ssh://two/system")
    h.flush()
    assert h.series("vm1", "cpu_percent", T0, T0)[1].tolist() == [1.0]
    assert h.series("vm2", "cpu_percent", T0, T0)[1].tolist() == [2.0]
    h.close()


def test_a_vm_that_appears_later_has_no_invented_past(tmp_path):
    clock = Clock()
    h = store(tmp_path, clock)
    h.record(T0, ["a"], {"cpu_percent": np.array([1.0])})
    h.record(T0 + 2, ["a", "late"], {"cpu_percent": np.array([1.0, 7.0])})
    h.flush()
    t, avg, _ = h.series("late", "cpu_percent", T0 - 10, T0 + 10)
    assert t.tolist() == [T0 + 2] and avg.tolist() == [7.0]
    h.close()
