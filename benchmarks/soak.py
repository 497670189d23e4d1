"""A compressed soak of the whole app: does anything grow while nothing changes in kind?

The real main window (offscreen, the launcher's own Session.build) holds ``--vms``
test-driver VMs over ``--hosts`` connections, with statistics sampling and the history on,
while a driver thread on the hypervisor side pauses or resumes one VM every
``--event-interval`` (100 ms: a steady stream of lifecycle events, each travelling
libvirt's event loop → inventory → tree). On top, the real test guest runs under
qemu:///system with its VGA text console scrolling (a shell loop printing the date, typed
in with virDomainSendKey) and the app's Console tab shows it: a console session receiving
screen updates for the whole run.

Every ``--sample-s`` (60 s) one JSON record (printed on stderr, and appended to ``--out``
as it comes, so a long run can be followed): resident memory, Python objects tracked by
the cycle collector, Qt wrappers among them (QObject instances) and Qt's own count of the
window's QObject children and of widgets, asyncio tasks, threads, the history file's
frames per tier and bytes, events sent, statistics ticks and console frames seen, and the
longest UI-loop stall of that minute (the scale benchmark's probe; the census itself is
left out of it). The final JSON line says:

- ``rss_growth_after_warmup_percent``: RSS at the end against RSS after ``--warmup-min``
  (10 minutes by default: the history's full-resolution tier fills for 10 minutes, so
  memory that follows it is expected to grow until then);
- ``qobjects_growth``, ``widgets_growth``, ``tasks_growth``, ``gc_objects_growth``:
  the same counts at the end minus after the warm-up;
- ``history_frames_by_tier`` against ``history_frame_bound_by_tier`` (metrics × sources ×
  retention/step): the soak shortens the coarse tiers' retention (``--coarse-retention-min``)
  so that each tier reaches its bound within the run and pruning is seen at work;
- ``events_sent`` / ``states_mismatched``: after the stream stops, every VM's state in the
  app's inventory is compared with the driver's (0: no event lost);
- ``console_frames``: screen updates the console received (a stuck console stays flat).

Run (about an hour; ``nice`` on a shared machine):
``nice .venv/bin/python benchmarks/soak.py --minutes 60 --out /tmp/soak.jsonl``
Needs libvirtd (qemu:///system) and the test guest for the console; ``--no-console``
soaks the test-driver part alone.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import re
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.inventory_scale import StallProbe, rss_mb, write_hosts  # noqa: E402
from benchmarks.window_harness import private_dirs, run_window, show_console  # noqa: E402

GUEST_PREFIX = "hvconsole-soak-"
class LifecycleStream:
    """The hypervisor side: one VM paused or resumed every ``interval`` seconds, round-robin
    over every VM of every host, from a thread of its own (as another libvirt client
    would). Calls go through the app's own test-driver connections, because a test:///FILE
    driver is private to the connection that opened it."""

    def __init__(self, conns: list, interval: float) -> None:
        self.domains = [dom for conn in conns for dom in conn.listAllDomains()]
        self.interval = interval
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-lifecycle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import libvirt
        i = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            dom = self.domains[i % len(self.domains)]
            i += 1
            try:
                if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
                    dom.resume()
                else:
                    dom.suspend()
                self.sent += 1
            except libvirt.libvirtError as err:
                if len(self.errors) < 20:
                    self.errors.append(str(err))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))


class ScrollingGuest:
    """The real test guest under qemu:///system with a VNC display, its shell printing the
    date four times a second so the console's screen keeps changing (and scrolling)."""

    def __init__(self) -> None:
        import libvirt

        from tests.integration.guest import (build_guest_files, guest_dir, guest_xml,
                                             serial_log_path)
        build_guest_files()
        accel = json.loads((guest_dir() / "accel.json").read_text())["accel"]
        self.name = f"{GUEST_PREFIX}{uuid.uuid4().hex[:6]}"
        self.conn = libvirt.open("qemu:///system")
        self.log = serial_log_path(self.name)
        self.dom = self.conn.createXML(guest_xml(self.name, accel=accel,
                                                 serial_log=self.log), 0)

    def boot_and_scroll(self) -> None:
        """Blocks: wait for the shell, then type the loop on the VGA console."""
        from tests.integration.guest import SCROLLING_COMMAND, type_on_console, wait_for_serial
        wait_for_serial(self.log, timeout=180)
        time.sleep(1.0)
        type_on_console(self.dom, SCROLLING_COMMAND)

    def destroy(self) -> None:
        try:
            self.dom.destroy()
        finally:
            self.log.unlink(missing_ok=True)
            self.conn.close()


def census(window, loop) -> dict:
    """Counts that must not grow in a steady state. Walks every object the cycle collector
    tracks: a few hundred milliseconds at this scale, once a minute."""
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication
    objects = gc.get_objects()
    wrappers = sum(1 for o in objects if isinstance(o, QObject))
    counts = {"gc_objects": len(objects), "qobject_wrappers": wrappers,
              "window_qobjects": len(window.findChildren(QObject)),
              "widgets": len(QApplication.allWidgets()),
              "asyncio_tasks": len(asyncio.all_tasks(loop)),
              "threads": threading.active_count(),
              # Which pools they are: each host's libvirt pool grows on demand up to its
              # worker count, so a count that climbs slowly needs its names to judge.
              "threads_by_group": dict(collections.Counter(
                  re.sub(r"_\d+$", "", t.name) for t in threading.enumerate()))}
    del objects
    return counts


def history_figures(history) -> dict:
    path = Path(history.path)
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    return {"history_frames_by_tier": [history.frame_count(i) for i in range(len(history.tiers))],
            "history_bytes": size}


def frame_bounds(history) -> list[int]:
    """The most frames each tier may hold once pruned: each (source, metric) series it
    holds writes one frame per step (per tick for the full tier) over the retention, plus
    the bucket being filled and the one the prune keeps at its edge."""
    bounds = []
    with history._db_lock:
        for level, tier in enumerate(history.tiers):
            series = history._db.execute(
                "SELECT COUNT(*) FROM (SELECT DISTINCT source, metric FROM frames "
                "WHERE tier = ?)", (level,)).fetchone()[0]
            step = tier.step_s or history_interval[0]
            bounds.append(int(series * (tier.retention_s / step + 2)))
    return bounds


history_interval = [2.0]


async def soak(session, args, uris: list[str]) -> dict:
    from app.perf.history import Tier
    window = session.window
    loop = asyncio.get_running_loop()
    history = session.monitor.history
    history_interval[0] = session.monitor.interval_s
    coarse = args.coarse_retention_min * 60
    history.tiers = (Tier("full", 0, 10 * 60), Tier("1min", 60, coarse),
                     Tier("10min", 600, 2 * coarse))

    started = time.perf_counter()
    conn_ids = [session.manager.open(uri, save=False) for uri in uris]
    while sum(len(session.inventory.vms(c)) for c in conn_ids) < args.vms \
            or session.inventory.pending():
        await asyncio.sleep(0.1)
        if time.perf_counter() - started > 600:
            raise SystemExit("the inventory did not fill within 600 s")
    tree_ready_s = time.perf_counter() - started
    window.tree.expand_hosts()

    guest = None
    frames = [0]
    if not args.no_console:
        guest = await asyncio.to_thread(ScrollingGuest)
        await asyncio.to_thread(guest.boot_and_scroll)
        qemu_id = session.manager.open("qemu:///system", save=False)
        console = await show_console(window, qemu_id, guest.name, timeout=300)

        def counted() -> None:
            frames[0] += 1
        console.frameUpdated.connect(counted)

    handles = [session.manager.host(c).sampling_handle() for c in conn_ids]
    stream = LifecycleStream([h[0] for h in handles if h is not None], args.event_interval)
    ticks = [0]
    session.monitor.ticked.connect(lambda _c: ticks.__setitem__(0, ticks[0] + 1))
    stream.start()

    samples: list[dict] = []
    out = open(args.out, "a") if args.out else None
    t0 = time.perf_counter()
    try:
        for minute in range(1, args.minutes + 1):
            probe = StallProbe()
            await asyncio.sleep(max(0.0, t0 + minute * args.sample_s - time.perf_counter()))
            probe.stop()
            record = {"minute": minute, "rss_mb": round(rss_mb(), 1),
                      "max_loop_stall_ms": round(probe.stall_ms, 1),
                      # Near 0: the process was not scheduled (the machine's other load).
                      "stall_other_threads_ms": round(probe.stall_others_ms, 1),
                      "max_loop_busy_ms": round(probe.busy_ms, 1),
                      "events_sent": stream.sent, "ticks": ticks[0], "console_frames": frames[0]}
            c0 = time.perf_counter()
            record.update(census(window, loop))
            record.update(history_figures(history))
            record["census_ms"] = round((time.perf_counter() - c0) * 1000, 1)
            samples.append(record)
            print(json.dumps(record), file=sys.stderr, flush=True)
            if out is not None:
                out.write(json.dumps(record) + "\n")
                out.flush()
    finally:
        stream.stop()
        if out is not None:
            out.close()

    # Nothing lost: once the stream stops, the tree must say what the driver says.
    await asyncio.sleep(3.0)
    mismatched = 0
    for conn_id, handle in zip(conn_ids, handles, strict=True):
        if handle is None:
            continue
        truth = await asyncio.to_thread(
            lambda conn=handle[0]: {d.UUIDString(): d.state()[0] for d in conn.listAllDomains()})
        for vm in session.inventory.vms(conn_id):
            paused = truth.get(vm.key) == 3
            if (vm.state.value == "paused") != paused:
                mismatched += 1
    console_status = None
    if guest is not None:
        console_status = console.status.state.name
        window.console_tab.close_all()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(guest.destroy)

    warm = min(args.warmup_min, len(samples)) - 1
    first, last = samples[max(warm, 0)], samples[-1]
    return {
        "vms": args.vms, "hosts": len(uris), "minutes": len(samples),
        "event_interval_s": args.event_interval, "tree_ready_s": round(tree_ready_s, 1),
        "warmup_min": warm + 1,
        "rss_mb_after_warmup": first["rss_mb"], "rss_mb_end": last["rss_mb"],
        "rss_growth_after_warmup_percent": round(
            100 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 2),
        "qobjects_growth": last["qobject_wrappers"] - first["qobject_wrappers"],
        "window_qobjects_growth": last["window_qobjects"] - first["window_qobjects"],
        "widgets_growth": last["widgets"] - first["widgets"],
        "tasks_growth": last["asyncio_tasks"] - first["asyncio_tasks"],
        "threads_growth": last["threads"] - first["threads"],
        "gc_objects_growth": last["gc_objects"] - first["gc_objects"],
        "history_frames_by_tier": last["history_frames_by_tier"],
        "history_frame_bound_by_tier": frame_bounds(history),
        "history_tiers": [(t.name, t.step_s, t.retention_s) for t in history.tiers],
        "history_bytes_after_warmup": first["history_bytes"],
        "history_bytes_end": last["history_bytes"],
        "max_loop_stall_ms": max(s["max_loop_stall_ms"] for s in samples),
        "events_sent": stream.sent, "event_errors": stream.errors[:3],
        "states_mismatched": mismatched, "ticks": ticks[0],
        "console_frames": frames[0], "console_state_end": console_status,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--event-interval", type=float, default=0.1)
    parser.add_argument("--sample-s", type=float, default=60.0,
                        help="seconds per sample (a 'minute' of the report)")
    parser.add_argument("--warmup-min", type=int, default=10)
    parser.add_argument("--coarse-retention-min", type=int, default=20,
                        help="retention of the 1-minute tier (the 10-minute tier: twice it)")
    parser.add_argument("--no-console", action="store_true")
    parser.add_argument("--out", help="append each sample to this file as it is taken")
    args = parser.parse_args()

    tmp = private_dirs("hvconsole-soak-")
    uris = write_hosts(tmp, args.vms, args.hosts)
    result = run_window(lambda session: soak(session, args, uris))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
