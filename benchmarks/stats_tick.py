"""CPU cost of one statistics tick for N VMs, against its floor: prints one JSON line.

What a tick is here: what HVConsole does in its own process with one bulk statistics
answer, through the code the app runs: ``StatsSampler.collect`` (the libvirt calls, then
each domain's key from its handle) and ``PerfCollector.feed`` (libvirt's dicts read
column-wise, rates against the previous tick, the hot VMs' own rates laid over them, the
ring buffers, the tick queued for the history).

Where the records come from: a libvirt test-driver connection with N running domains
answers the calls for real (real virDomain handles, libvirt's own chunked calls), but its
driver reports only the state (libvirt 9.0). So each answer's dicts are swapped, outside
the measured time, for copies of a record captured from a real QEMU guest under
qemu:///system (tests/unit/data/qemu_domain_stats.json: 2 vCPUs, balloon, one disk, one
NIC), with counters that grow differently per VM and tick.

The floor, measured in the same run and tick by tick (so the machine's load hits both
alike): the bare libvirt call (one ``getAllDomainStats`` of every domain) and the minimal
parse of its answer into plain numbers (each handle's domain id, and each counter the
rates use as one float array: one ``np.fromiter`` per key). Reported:

- ``tick_cpu_ms`` / ``floor_tick_cpu_ms`` / ``ratio_tick``: HVConsole's work on the answer
  against the minimal parse (the part HVConsole decides: target ``target_tick_cpu_ms``
  15 ms and ``target_ratio_tick`` 1.5);
- ``call_cpu_ms`` / ``floor_call_cpu_ms`` / ``ratio_call``: the sampler's calls
  (listDomainsID + chunks of 500) against one bare call. The test driver runs in this
  process, so this includes the driver's own work, which a remote libvirtd would do;
- ``sample_cpu_ms`` / ``floor_sample_cpu_ms`` / ``ratio_sample``: both together.

Parts of the floor: ``floor_numbers_ms`` (ids and counters into arrays) and
``floor_release_ms`` (libvirt-python frees every handle of the answer, one call each
that gives up the GIL: the tick pays it too, when its records are let go).

Parts of ``tick_cpu_ms``: ``keying_ms`` (the handles' ids and names → UUID keys, the
kept handles' bookkeeping and letting the answer's handles go) and ``feed_ms`` (reading
the dicts, the rate math, the rings, the history queue; profiled: rings 2 ms and the
queue 0.2 ms of it at 10,000 VMs).
``history_flush_ms_per_full_tick`` is the writer thread's share of a flush (off the UI
thread but CPU all the same).

Idle CPU: with more than 200 VMs the sampler asks for every VM every 5th tick and only
for the hot ones (``--hot``: the rows on screen) in between. ``idle_cpu_pct`` = (one full
tick + 4 hot ticks + the history flush of those 5 ticks) / (5 × interval), in percent of
one core, with the in-process driver's share; ``idle_cpu_pct_untiered`` = every tick full.

Every figure is the median over ``--ticks`` full ticks (after a first tick that has
nothing to compare with); ``*_spread`` = (max − min) / median of the ticks.

Run: ``.venv/bin/python benchmarks/stats_tick.py --json`` (``--quick``: 1,000 VMs)
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from operator import itemgetter
from pathlib import Path

import libvirt
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.perf.collector import PerfCollector  # noqa: E402
from app.perf.history import HistoryStore  # noqa: E402
from connectors.libvirt.stats import (FULL_EVERY, GROUP_FLAGS, StatsBatch,  # noqa: E402
                                      StatsSampler)

CAPTURE = REPO / "tests" / "unit" / "data" / "qemu_domain_stats.json"
COUNTERS = ("cpu.time", "cpu.user", "cpu.system", "vcpu.0.time", "vcpu.1.time",
            "block.0.rd.bytes", "block.0.wr.bytes", "block.0.rd.reqs", "block.0.wr.reqs",
            "net.0.rx.bytes", "net.0.tx.bytes", "net.0.rx.pkts", "net.0.tx.pkts")
# What the rates read of the captured record: the floor parses exactly these.
FLOOR_KEYS = ("state.state", "cpu.time", "vcpu.current", "vcpu.0.time", "vcpu.1.time",
              "balloon.current", "balloon.maximum", "balloon.rss", "block.count",
              "block.0.rd.bytes", "block.0.wr.bytes", "block.0.rd.reqs", "block.0.wr.reqs",
              "net.count", "net.0.rx.bytes", "net.0.tx.bytes")
ALL_GROUPS = 0
for _flag in GROUP_FLAGS.values():
    ALL_GROUPS |= _flag
LIST_FLAGS = (libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
              | libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
TARGET_TICK_MS = 15.0
TARGET_RATIO_TICK = 1.5

DOMAIN = ("<domain type='test'><name>perf-stats-{i:05d}</name><uuid>{uuid}</uuid>"
          "<memory unit='MiB'>1024</memory><vcpu>2</vcpu>"
          "<os><type arch='x86_64'>hvm</type></os></domain>\n")


def write_host(directory: Path, n: int) -> str:
    """A test-driver file with ``n`` running domains; its URI."""
    path = directory / "host.xml"
    with path.open("w") as f:
        f.write("<node><cpu><cores>16</cores></cpu><memory>268435456</memory>\n")
        f.writelines(DOMAIN.format(i=i, uuid=uuid.uuid4()) for i in range(n))
        f.write("</node>\n")
    return f"test://{path}"


def replayed(template: dict, vms: range | list[int], tick: int) -> dict[str, dict]:
    """Tick ``tick``'s records of VMs number ``vms`` by name: the capture, counters
    advanced."""
    out = {}
    for i in vms:
        rec = dict(template)
        for key in COUNTERS:
            rec[key] = template[key] + tick * (1000 + i % 997) * 1_000
        rec["net.0.name"] = f"vnet{i}"
        out[f"perf-stats-{i:05d}"] = rec
    return out


class ReplayingConnection:
    """The test-driver connection, its bulk answers' dicts swapped for ``records`` (the
    QEMU replay) as they come back. Measures the real calls' CPU (``call_s``); the swap
    is not counted."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self._conn = conn
        self.records: dict[str, dict] = {}
        self.call_s = self.swap_s = 0.0
        # The driver's own state dicts, freed between ticks: a real answer has no second
        # set of dicts to free.
        self.replaced: list[list[dict]] = []

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    def _swap(self, answer: list) -> list:
        c0 = time.process_time()
        # Fresh copies in the answer's order, as libvirt-python builds its dicts: reading
        # dicts in another order than they were made in costs cache misses it never has.
        swapped = [(dom, dict(self.records[dom.name()])) for dom, _state in answer]
        self.replaced.append(list(map(itemgetter(1), answer)))
        self.swap_s += time.process_time() - c0
        return swapped

    def listAllDomains(self, flags: int = 0) -> list:  # noqa: N802 (libvirt\'s name)
        c0 = time.process_time()
        listed = self._conn.listAllDomains(flags)
        self.call_s += time.process_time() - c0
        return listed

    def listDomainsID(self) -> list:  # noqa: N802 (libvirt's name)
        c0 = time.process_time()
        ids = self._conn.listDomainsID()
        self.call_s += time.process_time() - c0
        return ids

    def lookupByID(self, ident: int) -> libvirt.virDomain:  # noqa: N802 (libvirt's name)
        c0 = time.process_time()
        try:
            return self._conn.lookupByID(ident)
        finally:
            self.call_s += time.process_time() - c0

    def getAllDomainStats(self, stats: int = 0, flags: int = 0) -> list:  # noqa: N802 (libvirt\'s name)
        c0 = time.process_time()
        answer = self._conn.getAllDomainStats(stats, flags)
        self.call_s += time.process_time() - c0
        return self._swap(answer)

    def domainListGetStats(self, doms: list, stats: int = 0, flags: int = 0) -> list:  # noqa: N802 (libvirt\'s name)
        c0 = time.process_time()
        answer = self._conn.domainListGetStats(doms, stats, flags)
        self.call_s += time.process_time() - c0
        return self._swap(answer)


def minimal_parse(answer: list) -> list[np.ndarray]:
    """The floor's parse: plain numbers only, no keys, no rates, no checks."""
    doms = list(map(itemgetter(0), answer))
    dicts = list(map(itemgetter(1), answer))
    n = len(dicts)
    out = [np.fromiter(map(libvirt.virDomain.ID, doms), np.float64, n)]
    out += [np.fromiter(map(itemgetter(key), dicts), np.float64, n) for key in FLOOR_KEYS]
    return out


class Tick:
    """One connection's tick: the sampler's worker job, then PerfCollector.feed (the
    rates with the hot VMs' overlay, the ring buffers, the history queue), each timed.
    The collector's own sampler is not started: it only carries the hot keys."""

    def __init__(self, conn: ReplayingConnection, history: HistoryStore,
                 interval: float) -> None:
        self.conn = conn
        self.sampler = StatsSampler(conn, host=False)
        self.collector = PerfCollector(conn, "bench", history=history, interval_s=interval,
                                       capacity=90)

    def set_hot(self, keys: frozenset[str]) -> None:
        self.sampler.hot_keys = keys
        self.collector.hot_keys = keys

    def run(self) -> dict[str, float]:
        self.conn.call_s = self.conn.swap_s = 0.0
        c0 = time.process_time()
        batch: StatsBatch = self.sampler.collect()
        c1 = time.process_time()
        self.collector.feed(batch)
        c2 = time.process_time()
        call = self.conn.call_s
        latest = self.collector.latest
        assert latest is not None
        return {"full": batch.full, "vms": len(latest.vms.keys), "call": call,
                "keying": c1 - c0 - call - self.conn.swap_s, "feed": c2 - c1,
                "cpu_percent_0": float(latest.vms.cpu_percent[0]) if latest.vms.keys else 0.0}

    def close(self) -> None:
        self.sampler.close()
        self.collector.close()


def run(n: int, ticks: int, interval: float, hot: int) -> dict:
    template = json.loads(CAPTURE.read_text())[0]
    tmp = tempfile.TemporaryDirectory(prefix="perf-stats-bench-")
    uri = write_host(Path(tmp.name), n)
    real = libvirt.open(uri)
    conn = ReplayingConnection(real)
    history = HistoryStore(Path(tmp.name) / "history.sqlite", writer_thread=False).start()
    tick = Tick(conn, history, interval)
    names = {dom.UUIDString(): dom.name() for dom in real.listAllDomains(0)}
    keys = sorted(names)
    step = max(1, n // hot) if hot else n
    tick.set_hot(frozenset(keys[::step][:hot]))
    hot_vms = sorted(int(names[key].rsplit("-", 1)[1]) for key in tick.sampler.hot_keys)

    full: list[dict[str, float]] = []
    floors: list[dict[str, float]] = []
    hot_ticks: list[dict[str, float]] = []
    flush_ms: list[float] = []
    for k in range(ticks + 1):
        for j in range(FULL_EVERY):
            conn.records = replayed(template, range(n) if j == 0 else hot_vms,
                                    k * FULL_EVERY + j)
            gc.collect()
            got = tick.run()
            conn.replaced.clear()
            assert got["full"] == (j == 0), "the sampler's tiers are not as expected"
            if k:
                (full if j == 0 else hot_ticks).append(got)
            if j == 0 and k:
                floors.append(floor_of(real, conn.records))
        c0 = time.process_time()
        history.flush()   # the writer thread's work for those FULL_EVERY ticks
        if k:
            flush_ms.append((time.process_time() - c0) * 1e3)
        del conn.records
    assert 0 < full[-1]["cpu_percent_0"] <= 100, "rates were not computed"
    history.close()
    tick.close()
    real.close()
    tmp.cleanup()
    return report(n, interval, hot, full, hot_ticks, floors, flush_ms)


def floor_of(real: libvirt.virConnect, records: dict[str, dict]) -> dict[str, float]:
    """The bare call, then the minimal parse and letting the handles go (the driver's
    state dicts and the replayed ones are freed outside the measured time)."""
    gc.collect()
    c0 = time.process_time()
    answer = real.getAllDomainStats(ALL_GROUPS, LIST_FLAGS)
    c1 = time.process_time()
    states = list(map(itemgetter(1), answer))
    answer = [(dom, dict(records[dom.name()])) for dom, _state in answer]
    dicts = list(map(itemgetter(1), answer))
    c2 = time.process_time()
    minimal_parse(answer)
    c3 = time.process_time()
    del answer
    c4 = time.process_time()
    del states, dicts
    return {"call": c1 - c0, "parse": c4 - c2, "numbers": c3 - c2, "release": c4 - c3}


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1e3, 2)


def _spread(values: list[float]) -> float:
    mid = statistics.median(values)
    return round((max(values) - min(values)) / mid, 2) if mid else 0.0


def report(n, interval, hot, full, hot_ticks, floors, flush_ms) -> dict:
    tick_s = [f["keying"] + f["feed"] for f in full]
    call_s = [f["call"] for f in full]
    floor_tick_s = [f["parse"] for f in floors]
    floor_call_s = [f["call"] for f in floors]
    sample_s = [a + b for a, b in zip(tick_s, call_s, strict=True)]
    floor_sample_s = [a + b for a, b in zip(floor_tick_s, floor_call_s, strict=True)]
    hot_s = [h["call"] + h["keying"] + h["feed"] for h in hot_ticks]
    tick_ms, floor_tick_ms = _ms(tick_s), _ms(floor_tick_s)
    ratio_tick = round(statistics.median(
        [a / b for a, b in zip(tick_s, floor_tick_s, strict=True)]), 2)
    ratio_call = round(statistics.median(
        [a / b for a, b in zip(call_s, floor_call_s, strict=True)]), 2)
    ratio_sample = round(statistics.median(
        [a / b for a, b in zip(sample_s, floor_sample_s, strict=True)]), 2)
    cycle_ms = (_ms(sample_s) + (FULL_EVERY - 1) * _ms(hot_s)
                + statistics.median(flush_ms))
    untiered_ms = _ms(sample_s) + statistics.median(flush_ms)
    return {
        "vms": n, "ticks": len(full), "interval_s": interval, "hot_vms": hot,
        "tick_cpu_ms": tick_ms, "floor_tick_cpu_ms": floor_tick_ms,
        "ratio_tick": ratio_tick, "tick_cpu_ms_spread": _spread(tick_s),
        "target_tick_cpu_ms": TARGET_TICK_MS, "met_tick_cpu_ms": tick_ms <= TARGET_TICK_MS,
        "target_ratio_tick": TARGET_RATIO_TICK, "met_ratio_tick": ratio_tick <= TARGET_RATIO_TICK,
        "call_cpu_ms": _ms(call_s), "floor_call_cpu_ms": _ms(floor_call_s),
        "ratio_call": ratio_call,
        "sample_cpu_ms": _ms(sample_s), "floor_sample_cpu_ms": _ms(floor_sample_s),
        "ratio_sample": ratio_sample,
        "floor_numbers_ms": _ms([f["numbers"] for f in floors]),
        "floor_release_ms": _ms([f["release"] for f in floors]),
        "keying_ms": _ms([f["keying"] for f in full]),
        "feed_ms": _ms([f["feed"] for f in full]),
        "history_flush_ms_per_full_tick": round(statistics.median(flush_ms), 2),
        "hot_tick_cpu_ms": _ms(hot_s),
        "idle_cpu_pct": round(cycle_ms / (FULL_EVERY * interval * 1e3) * 100, 2),
        "idle_cpu_pct_untiered": round(untiered_ms / (interval * 1e3) * 100, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10000)
    parser.add_argument("--ticks", type=int, default=7)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--hot", type=int, default=40,
                        help="VMs sampled every tick (rows on screen, watched)")
    parser.add_argument("--quick", action="store_true", help="1,000 VMs, 3 ticks")
    parser.add_argument("--json", action="store_true", help="print one JSON line (default)")
    args = parser.parse_args(argv)
    if args.quick:
        args.vms, args.ticks = 1000, 3
    print(json.dumps(run(args.vms, args.ticks, args.interval, args.hot)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
