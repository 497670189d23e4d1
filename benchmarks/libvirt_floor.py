"""The floor of the inventory benchmarks: what libvirt itself costs to read the same hosts,
with no UI, no app model and no parsing of ours. Prints one JSON line.

For each URI, in a thread of its own (as many threads as hosts, all started at once):
open the connection, ``listAllDomains``, ``XMLDesc`` of each domain, one
``getAllDomainStats``. ``floor_read_s`` is the time from starting the threads to the last
one done (``floor_read_cpu_s``: the CPU time of all threads meanwhile, a figure that a
machine shared with other work disturbs less); ``floor_rss_mb`` the process's resident
memory then (Python, libvirt and the test driver's own copy of every domain).
``floor_tick_cpu_s``: the CPU time of one statistics round bare (``getAllDomainStats``
with every group the app's sampler asks, one call per host), the median of three: what
sampling costs at the least, whatever Python does with the answer.

With ``--from-start PARENT_T0`` it measures instead what a bare Python process takes from
its start to having read everything (``floor_from_start_s``): the parent passes the
``time.time()`` of just before it spawned this process, and importing libvirt counts.

Run by benchmarks/inventory_scale.py and benchmarks/inventory_one_host.py in a
subprocess of their own (``run_floor``), so that neither process's memory nor threads
colour the other's figures.
"""
from __future__ import annotations

import time

STARTED = time.time()   # before any import of note: --from-start counts them

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve()


def read_host(uri: str, opened: list) -> None:
    """Everything the app reads of one host at connect time, bare; the connection and
    its domain count go to ``opened``."""
    import libvirt
    conn = libvirt.open(uri)
    domains = conn.listAllDomains(0)
    for dom in domains:
        dom.XMLDesc(0)
    conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
    opened.append((conn, len(domains)))


def read_all(uris: list[str]) -> tuple[float, float, int, list]:
    """(seconds, CPU seconds of all threads, domains, connections) to read every host
    from a thread per host."""
    opened: list = []
    threads = [threading.Thread(target=read_host, args=(uri, opened)) for uri in uris]
    start, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - start, time.process_time() - cpu,
            sum(n for _c, n in opened), [c for c, _n in opened])


def tick_cpu_s(conns: list) -> float:
    """The CPU time of one bare statistics round over every host (median of three)."""
    import libvirt
    flags = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
             | libvirt.VIR_DOMAIN_STATS_VCPU | libvirt.VIR_DOMAIN_STATS_BALLOON
             | libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_INTERFACE)
    rounds = []
    for _ in range(3):
        cpu = time.process_time()
        for conn in conns:
            conn.getAllDomainStats(flags)
        rounds.append(time.process_time() - cpu)
    return sorted(rounds)[1]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run_floor(uris: list[str], from_start: bool = False) -> dict:
    """The floor measured in a fresh Python process (this file run as a script)."""
    cmd = [sys.executable, str(HERE), *uris]
    if from_start:
        cmd[2:2] = ["--from-start", repr(time.time())]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uris", nargs="+")
    parser.add_argument("--from-start", type=float, metavar="PARENT_T0")
    args = parser.parse_args()
    if args.from_start is not None:
        import libvirt  # noqa: F401  (counted: the app imports it too)
        seconds, _cpu, domains, _conns = read_all(args.uris)
        done = time.time()
        print(json.dumps({"floor_from_start_s": round(done - args.from_start, 3),
                          "floor_from_start_cpu_s": round(time.process_time(), 3),
                          "floor_import_s": round(STARTED - args.from_start, 3),
                          "floor_read_s": round(seconds, 3), "domains": domains,
                          "floor_rss_mb": round(rss_mb(), 1)}))
        return
    import libvirt  # noqa: F401
    seconds, cpu, domains, conns = read_all(args.uris)
    rss = rss_mb()
    print(json.dumps({"floor_read_s": round(seconds, 3), "floor_read_cpu_s": round(cpu, 3),
                      "domains": domains,
                      "floor_rss_mb": round(rss, 1),
                      "floor_tick_cpu_s": round(tick_cpu_s(conns), 4)}))


if __name__ == "__main__":
    main()
