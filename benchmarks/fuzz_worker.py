"""One engine fuzzing one target for a fixed time, in its own process (fuzz_campaign.py
starts it): ``python benchmarks/fuzz_worker.py TARGET ENGINE SECONDS OUT.json``.

Engines: ``hypothesis`` (the target's strategies, generation only, no shrinking: a
campaign wants throughput, and a crash is kept as found), ``mutate`` (seeds and the inputs
that reached a new outcome, mutated a few bytes at a time: flips, boundary integers,
cuts, splices), ``atheris`` (libFuzzer's coverage-guided mutation of the same seeds, with
HVConsole's modules instrumented).

Per input: a 1 s deadline (SIGALRM raises inside the parser; libFuzzer's -timeout for
atheris), peak allocation measured with tracemalloc on every ``trace_every``-th input, and
an address-space limit as the backstop for an allocation that would take the machine
down. Any exception the target does not list as a refusal is a crash; its input is saved
under benchmarks/fuzz_crashes/TARGET/.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import resource
import signal
import struct
import sys
import time
import traceback
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEADLINE_S = 1.0
CONFIRM_S = 10.0
CRASHES = Path(__file__).with_name("fuzz_crashes")
ADDRESS_SPACE = 4 << 30
INTERESTING = [0, 1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4095,
               4096, 8192, 32767, 32768, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


class Hang(BaseException):
    """An input ran past its deadline (BaseException: no parser may swallow it)."""


def _alarm(_signum, _frame) -> None:
    raise Hang()


class Runner:
    """Runs inputs against one target and keeps the score."""

    def __init__(self, target, trace_every: int) -> None:
        self.target = target
        self.trace_every = max(1, trace_every)
        self.inputs = 0
        self.refused = 0
        self.crashes: dict[str, dict] = {}   # signature -> first input's report
        self.hangs: list[dict] = []
        self.peak = 0
        self.traced = 0
        self.over_bound: list[dict] = []
        self.outcomes: set[str] = set()
        self.deadline_misses_under_load = 0

    def feed(self, data: bytes) -> bool:
        """Runs one input; True when its outcome (refusal text or success) is new."""
        self.inputs += 1
        tracing = self.inputs % self.trace_every == 0
        if tracing:
            tracemalloc.start()
        signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
        outcome = "ok"
        try:
            self.target.run(data)
        except Hang:
            self._hang(data)
            outcome = "hang"
        except self.target.allowed as exc:
            self.refused += 1
            # Numbers and quoted parts say which input, not which path through the parser.
            outcome = type(exc).__name__ + _VARYING.sub("", str(exc))[:60]
        except BaseException as exc:  # noqa: BLE001 - a crash: anything unlisted
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._crash(data, exc)
            outcome = "crash"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if tracing:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                self.traced += 1
                self.peak = max(self.peak, peak)
                if peak > self.target.memory_bound and len(self.over_bound) < 5:
                    self.over_bound.append({"peak": peak, "input": _save(self.target.name,
                                                                         "alloc", data)})
        new = outcome not in self.outcomes
        self.outcomes.add(outcome)
        return new

    def _crash(self, data: bytes, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f for f in reversed(frames) if "/connectors/" in f.filename
                      or "/app/" in f.filename), frames[-1] if frames else None)
        place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
        signature = f"{type(exc).__name__} at {place}"
        report = self.crashes.setdefault(signature, {
            "signature": signature, "message": str(exc)[:200], "count": 0,
            "input": _save(self.target.name, "crash", data),
            "traceback": traceback.format_exception(exc)[-6:]})
        report["count"] += 1
        if self.target.name.startswith(("rfb", "spice-link")):
            import fuzz_targets
            fuzz_targets._Loop.reset()

    def _hang(self, data: bytes) -> None:
        """A deadline miss is confirmed by running the input again at once: on a busy
        machine (a niced worker among other jobs) a 0.1 s input can wait past 1 s of wall
        time. A hang is an input that again runs past 10 s, or uses more than 1 s of CPU."""
        import fuzz_targets
        fuzz_targets._Loop.reset()   # the loop was interrupted mid-run
        cpu = time.process_time()
        signal.setitimer(signal.ITIMER_REAL, CONFIRM_S)
        try:
            self.target.run(data)
        except Hang:
            fuzz_targets._Loop.reset()
            cpu = -1.0
        except BaseException:  # noqa: BLE001 - its outcome was counted the first time
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if cpu >= 0 and time.process_time() - cpu <= DEADLINE_S:
            self.deadline_misses_under_load += 1
            return
        if len(self.hangs) < 20:
            self.hangs.append({"input": _save(self.target.name, "hang", data)})

    def report(self) -> dict:
        return {"inputs": self.inputs, "refused": self.refused,
                "crashes": list(self.crashes.values()), "hangs": self.hangs,
                "peak_alloc": self.peak, "traced_inputs": self.traced,
                "memory_bound": self.target.memory_bound, "over_bound": self.over_bound,
                "outcomes": len(self.outcomes),
                "deadline_misses_under_load": self.deadline_misses_under_load}


def _save(target: str, kind: str, data: bytes) -> str:
    folder = CRASHES / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{hashlib.sha1(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    return str(path.relative_to(CRASHES.parent.parent))


# ---- engines ---------------------------------------------------------------------------------

def run_hypothesis(runner: Runner, seconds: float) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    end = time.monotonic() + seconds

    @settings(max_examples=200, database=None, deadline=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(runner.target.strategy)
    def chunk(data: bytes) -> None:
        if time.monotonic() < end:
            runner.feed(data)

    while time.monotonic() < end:
        chunk()


def mutate(data: bytes, pool: list[bytes], rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 8))):
        op = rng.randrange(9)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:                       # flip a bit
            pos = min(pos, len(out) - 1)
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and out:                     # a random byte
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op == 2:                             # a boundary integer, either byte order
            value = rng.choice(INTERESTING) & 0xFFFFFFFF
            size, fmt = rng.choice(((1, "B"), (2, "H"), (4, "I")))
            packed = struct.pack(rng.choice("<>") + fmt, value & ((1 << (8 * size)) - 1))
            out[pos:pos + size] = packed
        elif op == 3:                             # cut the rest off
            del out[pos:]
        elif op == 4 and out:                     # remove a span
            del out[pos:pos + rng.randrange(1, 17)]
        elif op == 5:                             # insert random bytes
            out[pos:pos] = os.urandom(rng.randrange(1, 17))
        elif op == 6 and out:                     # repeat a span
            start = rng.randrange(len(out))
            out[pos:pos] = out[start:start + rng.randrange(1, 65)]
        elif op == 7:                             # splice another input in
            other = rng.choice(pool)
            start = rng.randrange(len(other) + 1)
            out[pos:] = other[start:]
        elif op == 8 and out:                     # an ASCII digit or sign (text formats)
            out[min(pos, len(out) - 1)] = rng.choice(b"-0189.:/<>=\"'&;[]\n")
    return bytes(out[:1 << 16])


def run_mutate(runner: Runner, seconds: float) -> None:
    rng = random.Random()
    pool = list(runner.target.seeds) or [b""]
    for seed in pool:
        runner.feed(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(64):
            data = mutate(rng.choice(pool), pool, rng)
            if runner.feed(data) and len(pool) < 4096:
                pool.append(data)   # reached an outcome nothing before did: mutate it too


def run_atheris(target_name: str, seconds: float, out: Path) -> None:
    """libFuzzer owns the process from here on: the report is written from its final
    statistics by the parent (fuzz_campaign.py) when this process exits."""
    import atheris
    with atheris.instrument_imports(include=["connectors", "app"]):
        import fuzz_targets
        target = next(t for t in fuzz_targets.targets() if t.name == target_name)
        target.setup()
        for seed in target.seeds:   # imports every lazily imported module, instrumented
            try:
                target.run(seed)
            except target.allowed:
                pass
    corpus = CRASHES.parent / "fuzz_corpus" / target_name
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in target.seeds:
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    artifacts = CRASHES / target_name
    artifacts.mkdir(parents=True, exist_ok=True)

    def one(data: bytes) -> None:
        try:
            target.run(data)
        except target.allowed:
            pass
    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}", "-timeout=1",
                   f"-rss_limit_mb={ADDRESS_SPACE >> 20}", "-print_final_stats=1",
                   f"-artifact_prefix={artifacts}/atheris-", "-max_len=4096", str(corpus)],
                  one)
    atheris.Fuzz()


def main() -> int:
    target_name, engine, seconds, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), \
        Path(sys.argv[4])
    trace_every = int(os.environ.get("HVCONSOLE_FUZZ_TRACE_EVERY", "8"))
    logging.disable(logging.CRITICAL)   # parsers log what they skip: millions of lines
    if engine == "atheris":
        run_atheris(target_name, seconds, out)
        return 0
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    signal.signal(signal.SIGALRM, _alarm)
    import fuzz_targets
    target = next(t for t in fuzz_targets.targets() if t.name == target_name)
    target.setup()
    runner = Runner(target, trace_every)
    started = time.monotonic()
    (run_hypothesis if engine == "hypothesis" else run_mutate)(runner, seconds)
    report = runner.report()
    report["seconds"] = round(time.monotonic() - started, 1)
    out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
