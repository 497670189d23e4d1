"""CPU cost of one statistics tick for N VMs: prints one JSON line with ``tick_cpu_ms``.

A tick here is what HVConsole does with one bulk virConnectGetAllDomainStats answer:
read the records column-wise (StatsBatch → DomainColumns.from_records), turn them into
rates against the previous tick, and append the per-VM rates to the live ring buffers.
``--via-samples`` measures the object-per-VM path (DomainSample) instead. The records
are copies of one captured from a real QEMU guest under qemu:///system (tests/unit/data/
qemu_domain_stats.json: 2 vCPUs, balloon, one disk, one NIC), with counters that grow
differently per VM and tick. The libvirt call itself (RPC + libvirtd's work) is not
included: it runs in a worker thread and depends on the host.

``tick_cpu_ms`` is the median process CPU time (time.process_time) of ``--ticks``
steady-state ticks (after a first tick that has nothing to compare with), and the parts
``parse_ms`` (batch, plus DomainSample objects with --via-samples), ``rates_ms``
(column extraction and rate math), ``buffers_ms`` show where it goes. Outside the tick
(on the UI thread, then on the history writer thread): ``history_record_ms`` (queueing
the tick for the history) and ``history_flush_ms_per_tick`` (its share of a flush).

Run: ``.venv/bin/python benchmarks/stats_tick.py --vms 10000 --json``
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.perf.history import HistoryStore  # noqa: E402
from app.perf.rates import VM_METRICS, DomainRateCalculator  # noqa: E402
from app.perf.ring import LiveBuffers  # noqa: E402
from connectors.libvirt.stats import StatsBatch  # noqa: E402

CAPTURE = REPO / "tests" / "unit" / "data" / "qemu_domain_stats.json"
COUNTERS = ("cpu.time", "cpu.user", "cpu.system", "vcpu.0.time", "vcpu.1.time",
            "block.0.rd.bytes", "block.0.wr.bytes", "block.0.rd.reqs", "block.0.wr.reqs",
            "net.0.rx.bytes", "net.0.tx.bytes", "net.0.rx.pkts", "net.0.tx.pkts")


class FakeDomain:
    """Stands in for virDomain: the two local accessors the sampler uses."""

    __slots__ = ("_uuid", "_id")

    def __init__(self, i: int) -> None:
        self._uuid = f"00000000-0000-4000-8000-{i:012d}"
        self._id = i + 1

    def UUIDString(self) -> str:
        return self._uuid

    def ID(self) -> int:
        return self._id


def make_records(n: int, tick: int, template: dict) -> list[tuple[FakeDomain, dict]]:
    records = []
    for i in range(n):
        rec = dict(template)
        for key in COUNTERS:
            rec[key] = template[key] + tick * (1000 + i % 997) * 1_000
        rec["net.0.name"] = f"vnet{i}"
        records.append((FakeDomain(i), rec))
    return records


def run(n: int, ticks: int, interval: float, via_samples: bool = False) -> dict:
    template = json.loads(CAPTURE.read_text())[0]
    calc = DomainRateCalculator()
    buffers = LiveBuffers(300, VM_METRICS, initial_columns=n)
    parse_ms, rates_ms, buffers_ms, total_ms, record_ms = [], [], [], [], []
    tmp = tempfile.TemporaryDirectory(prefix="hvconsole-bench-")
    history = HistoryStore(Path(tmp.name) / "history.sqlite", writer_thread=False).start()
    for k in range(ticks + 1):
        # Only one tick's records exist at a time, as when libvirt hands them over.
        raw = make_records(n, k, template)
        t = 1000.0 + k * interval
        wall = time.time()
        c0 = time.process_time()
        # What StatsSampler.collect does with the bulk answer.
        batch = StatsBatch(t, wall, [(dom.UUIDString(), dom.ID(), rec) for dom, rec in raw],
                           None, 0.0)
        if via_samples:  # the object-per-VM path, for comparison
            samples = batch.domains
        c1 = time.process_time()
        rates = calc.update(samples) if via_samples else calc.update_batch(batch)
        c2 = time.process_time()
        buffers.push(rates.t, rates.keys, rates.metrics())
        c3 = time.process_time()
        history.record(rates.wall, rates.keys, rates.metrics(), source="bench")
        c4 = time.process_time()
        del raw, batch
        if k == 0:
            continue  # nothing to compare with yet
        parse_ms.append((c1 - c0) * 1e3)
        rates_ms.append((c2 - c1) * 1e3)
        buffers_ms.append((c3 - c2) * 1e3)
        total_ms.append((c3 - c0) * 1e3)
        record_ms.append((c4 - c3) * 1e3)
    c0 = time.process_time()
    history.flush()  # what the writer thread does every 10 s, here for all ticks at once
    flush_ms = (time.process_time() - c0) * 1e3
    history.close()
    tmp.cleanup()
    assert 0 < float(rates.cpu_percent[0]) <= 100, "rates were not computed"
    return {
        "vms": n,
        "ticks": ticks,
        "path": "samples" if via_samples else "records",
        "tick_cpu_ms": round(statistics.median(total_ms), 2),
        "tick_cpu_ms_max": round(max(total_ms), 2),
        "parse_ms": round(statistics.median(parse_ms), 2),
        "rates_ms": round(statistics.median(rates_ms), 2),
        "buffers_ms": round(statistics.median(buffers_ms), 2),
        "ring_mb": round(buffers.nbytes / 2**20, 1),
        "history_record_ms": round(statistics.median(record_ms), 2),
        "history_flush_ms_per_tick": round(flush_ms / (ticks + 1), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10000)
    parser.add_argument("--ticks", type=int, default=7)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--via-samples", action="store_true",
                        help="parse into DomainSample objects first (the slower path)")
    parser.add_argument("--json", action="store_true", help="print one JSON line (default)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.vms, args.ticks, args.interval, args.via_samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
