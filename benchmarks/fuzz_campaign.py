"""Fuzz campaign: every parser HVConsole feeds with outside bytes, for minutes each.

Run (outside CI; CPU heavy, one core per worker):
    .venv/bin/python benchmarks/fuzz_campaign.py                 # 10 minutes per parser
    .venv/bin/python benchmarks/fuzz_campaign.py --minutes 1 --only rfb-encodings
    nice -n 19 .venv/bin/python benchmarks/fuzz_campaign.py --minutes 2 --out result.json

Each parser (benchmarks/fuzz_targets.py: RFB handshakes and encodings, SPICE link and
channels, SPICE display, console URIs, .vv files, domain/network/pool/capabilities XML,
known_hosts lines, connections.json, the preferences file) gets its time split between
engines, each in a process of its own (benchmarks/fuzz_worker.py): hypothesis with the
suite's strategies, seed mutation, and atheris (libFuzzer coverage guidance) when it is
installed (`pip install .[fuzz]`). Prints one JSON document: per parser the inputs tried
and their rate, the crashes (deduplicated by exception and place, input saved under
benchmarks/fuzz_crashes/), the inputs that ran past the 1 s deadline, the peak traced
allocation against the parser's bound, and for protocol parsers how many minutes one
million inputs take at the measured rate. Exit status 1 when anything was found.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

GOAL = 1_000_000   # inputs per protocol parser per campaign
GRACE_S = 60       # a worker this far past its time is stuck: killed, counted as a hang


def engines() -> list[str]:
    found = ["hypothesis", "mutate"]
    if importlib.util.find_spec("atheris") is not None:
        found.append("atheris")
    return found


def run_worker(target: str, engine: str, seconds: float, nice: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="hvconsole-fuzz-") as scratch:
        out = Path(scratch) / "report.json"
        env = dict(os.environ, HVCONSOLE_FUZZ_SCRATCH=scratch, QT_QPA_PLATFORM="offscreen")
        command = [sys.executable, str(HERE / "fuzz_worker.py"), target, engine,
                   str(seconds), str(out)]
        if nice:
            command = ["nice", "-n", str(nice), *command]
        started = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=seconds + GRACE_S)
        except subprocess.TimeoutExpired:
            return {"inputs": 0, "crashes": [], "hangs": [{"input": None, "note":
                    f"the {engine} worker stopped answering; killed"}],
                    "seconds": round(time.monotonic() - started, 1)}
        elapsed = round(time.monotonic() - started, 1)
        if engine == "atheris":
            return _libfuzzer_report(target, done, elapsed)
        if done.returncode != 0 or not out.exists():
            return {"inputs": 0, "seconds": elapsed, "hangs": [], "crashes": [{
                "signature": f"worker died (exit {done.returncode})", "count": 1,
                "message": done.stderr[-400:]}]}
        return json.loads(out.read_text())


def _libfuzzer_report(target: str, done: subprocess.CompletedProcess, elapsed: float
                      ) -> dict:
    """libFuzzer's final statistics and, when it stopped on a finding, the artifact."""
    log = done.stderr
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    if runs is None:
        counts = re.findall(r"#(\d+)\s", log)
        runs_n = int(counts[-1]) if counts else 0
    else:
        runs_n = int(runs.group(1))
    rss = re.search(r"stat::peak_rss_mb:\s*(\d+)", log)
    report: dict = {"inputs": runs_n, "seconds": elapsed, "crashes": [], "hangs": [],
                    "peak_rss_mb": int(rss.group(1)) if rss else None,
                    "coverage_edges": _last_int(r"cov: (\d+)", log)}
    artifact = re.search(r"Test unit written to (\S+)", log)
    if "ALARM: working on the last Unit" in log or "-timeout" in log and artifact \
            and "timeout-" in artifact.group(1):
        report["hangs"].append({"input": artifact.group(1) if artifact else None})
    elif done.returncode not in (0,) and artifact:
        tail = [line for line in log.splitlines() if line.strip()][-12:]
        report["crashes"].append({"signature": _python_signature(log), "count": 1,
                                  "input": artifact.group(1), "traceback": tail})
    return report


def _last_int(pattern: str, text: str) -> int | None:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else None


def _python_signature(log: str) -> str:
    errors = re.findall(r"^(\w+(?:Error|Exception)\w*):", log, re.MULTILINE)
    places = re.findall(r'File "([^"]+)", line (\d+)', log)
    ours = [p for p in places if "/connectors/" in p[0] or "/app/" in p[0]]
    where = ours[-1] if ours else (places[-1] if places else ("?", "?"))
    return f"{errors[-1] if errors else 'crash'} at {Path(where[0]).name}:{where[1]}"


def merge(target, runs: dict[str, dict]) -> dict:
    inputs = sum(r.get("inputs", 0) for r in runs.values())
    seconds = sum(r.get("seconds", 0) for r in runs.values()) or 1.0
    rate = inputs / seconds
    entry = {
        "parser": target.name, "protocol": target.protocol, "inputs": inputs,
        "seconds": round(seconds, 1), "inputs_per_s": round(rate),
        "crashes": [c for r in runs.values() for c in r.get("crashes", [])],
        "hangs": [h for r in runs.values() for h in r.get("hangs", [])],
        "deadline_misses_under_load": sum(r.get("deadline_misses_under_load", 0)
                                          for r in runs.values()),
        "peak_alloc_bytes": max((r.get("peak_alloc", 0) for r in runs.values()), default=0),
        "memory_bound_bytes": target.memory_bound,
        "over_bound": [o for r in runs.values() for o in r.get("over_bound", [])],
        "engines": runs,
    }
    if target.protocol:
        entry["minutes_for_1M"] = round(GOAL / rate / 60, 1) if rate else None
        entry["reached_1M"] = inputs >= GOAL
    return entry


def markdown(documents: list[dict]) -> str:
    """The table of docs/reliability.md from one or more reports (later ones win)."""
    rows: dict[str, dict] = {}
    for document in documents:
        for entry in document["parsers"]:
            rows[entry["parser"]] = entry
    lines = ["| Parser | Inputs | s | Inputs/s | hypothesis / mutation / atheris | "
             "Crashes | Runs past 1 s | Peak alloc / bound | 1M inputs takes |",
             "|---|---:|---:|---:|---|---|---|---|---|"]
    for entry in rows.values():
        engines = " / ".join(f"{entry['engines'][e].get('inputs', 0):,}"
                             if e in entry["engines"] else "–"
                             for e in ("hypothesis", "mutate", "atheris"))
        crashes = ", ".join(c["signature"] for c in entry["crashes"]) or "none"
        minutes = (f"{entry['minutes_for_1M']} min" if entry.get("minutes_for_1M")
                   else "–")
        lines.append(
            f"| {entry['parser']}{' (protocol)' if entry['protocol'] else ''} "
            f"| {entry['inputs']:,} | {entry['seconds']:.0f} | {entry['inputs_per_s']:,} "
            f"| {engines} | {crashes} | {len(entry['hangs'])} "
            f"| {entry['peak_alloc_bytes'] / 2**20:.1f} / "
            f"{entry['memory_bound_bytes'] / 2**20:.0f} MiB | {minutes} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="time per parser, split between the engines (default 10)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="fuzz only this parser (repeatable); --list shows the names")
    parser.add_argument("--engine", action="append", default=[],
                        choices=["hypothesis", "mutate", "atheris"],
                        help="use only this engine (repeatable)")
    parser.add_argument("--nice", type=int, default=0, help="run the workers under nice -n")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument("--list", action="store_true", help="list the parsers and exit")
    parser.add_argument("--table", type=Path, nargs="+", metavar="REPORT",
                        help="print the Markdown table of earlier JSON reports and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown([json.loads(p.read_text()) for p in args.table]))
        return 0

    import fuzz_targets
    targets = fuzz_targets.targets()
    if args.list:
        for t in targets:
            print(f"{t.name}{'  (protocol)' if t.protocol else ''}")
        return 0
    unknown = set(args.only) - {t.name for t in targets}
    if unknown:
        parser.error(f"no parser named {', '.join(sorted(unknown))}; see --list")
    chosen = [t for t in targets if not args.only or t.name in args.only]
    use = [e for e in engines() if not args.engine or e in args.engine]
    if "atheris" in args.engine and "atheris" not in use:
        parser.error("atheris is not installed (pip install '.[fuzz]')")
    share = args.minutes * 60 / len(use)
    results = []
    for target in chosen:
        runs = {}
        for engine in use:
            print(f"fuzz_campaign: {target.name} with {engine} for {share:.0f} s",
                  file=sys.stderr, flush=True)
            runs[engine] = run_worker(target.name, engine, share, args.nice)
        results.append(merge(target, runs))
    document = {"minutes_per_parser": args.minutes, "engines": use,
                "deadline_s": 1.0, "cpu": os.cpu_count(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "parsers": results}
    text = json.dumps(document, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    found = any(r["crashes"] or r["hangs"] or r["over_bound"] for r in results)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
