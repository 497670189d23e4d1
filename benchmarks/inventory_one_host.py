"""One connection with 10,000 VMs, from the start of the ``hvconsole`` process to every VM
listed in the tree: prints one JSON line.

The host is libvirt's test driver on a generated file (benchmarks/inventory_scale.py's
shape: every VM running, a disk and a NIC each). The program is started as a user would
(``hvconsole --connect test:///FILE``, through app.cli.main, with fresh settings folders)
in a process of its own; a 10 ms timer in it notes when the tree the user sees (the filter
proxy) lists every VM, and the program then quits.

- ``listed_s``: from just before the process was spawned to every VM listed
  (``connecting_s``, ``connecting_cpu_s``: to the moment the program starts opening its
  connection, the imports and the window before it: since the early open, just after
  the first paint, app/startup_hosts.py);
- ``rss_mb``: the program's resident memory then; ``rss_settled_mb``: SETTLE_S later
  (once the heap freed by the read has been handed back, app/heap_trim.py);
- the floor, in the same run: a bare Python process started the same way that imports
  libvirt, opens the file, lists the domains and reads each one's XML
  (benchmarks/libvirt_floor.py): ``floor_listed_s``, ``floor_rss_mb``;
- ``over_floor_listed_s`` (target ≤ 1 s) and ``ratio_listed``; the same in the process's
  CPU time (``listed_cpu_s``, ``floor_listed_cpu_s``, ``over_floor_listed_cpu_s``:
  steadier than wall time on a machine others load); ``ratio_rss`` (target
  ≤ 200 MB); ``met``.

Run: ``.venv/bin/python benchmarks/inventory_one_host.py --json`` (about 30 s).
"""
from __future__ import annotations

import time

STARTED = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_OVER_FLOOR_S = 1.0
TARGET_RSS_MB = 200.0
POLL_MS = 10
SETTLE_S = 2.0      # after all are listed: the heap is trimmed a second after a snapshot


def child(t0: float, uri: str, vms: int) -> int:
    """The program itself, with a look at its tree every POLL_MS; prints when all are
    listed and closes the window. The launcher is watched once the program imports it
    (after its first paint, widgets/startup.py), not imported here first: that would
    load the whole program before the start a user sees."""
    from app.cli import main as hvconsole

    opening: list[float] = []
    after_import("widgets.launcher", lambda launcher: watch(launcher, t0, vms, opening))
    after_import("app.startup_hosts", lambda hosts: note_early_open(hosts, opening))
    return hvconsole(["--connect", uri])


def watch(launcher, t0: float, vms: int, opening: list[float]) -> None:
    from benchmarks.libvirt_floor import rss_mb

    build = launcher.Session.build

    def build_and_watch(session):
        from PySide6.QtCore import QTimer
        window = build(session)
        proxy = window.tree.model()
        timer = QTimer(window)

        def look() -> None:
            if session.inventory.summary()[2] < vms or session.inventory.pending():
                return
            if proxy.rowCount(proxy.index(0, 0)) < vms:
                return
            now = time.time()
            timer.stop()
            listed = {"listed_s": round(now - t0, 3), "import_s": round(STARTED - t0, 3),
                      "connecting_s": round(opening[0] - t0, 3) if opening else None,
                      "connecting_cpu_s": round(opening[1], 3) if opening else None,
                      "listed_cpu_s": round(time.process_time(), 3),
                      "rss_mb": round(rss_mb(), 1)}

            def settled() -> None:
                listed["rss_settled_mb"] = round(rss_mb(), 1)
                print(json.dumps(listed), flush=True)
                window.close()
            QTimer.singleShot(int(SETTLE_S * 1000), settled)

        timer.timeout.connect(look)
        timer.start(POLL_MS)
        return window

    launcher.Session.build = build_and_watch
    open_connections = launcher.Session.open_connections

    async def noting_open(session) -> list:
        opening.extend((time.time(), time.process_time()))
        return await open_connections(session)
    launcher.Session.open_connections = noting_open


def note_early_open(startup_hosts, opening: list[float]) -> None:
    """The program starts opening here since the early open (app/startup_hosts.py)."""
    open_early = startup_hosts.open_early

    def noting_open_early(*args):
        opening.extend((time.time(), time.process_time()))
        return open_early(*args)
    startup_hosts.open_early = noting_open_early


def after_import(name: str, then) -> None:
    """Calls ``then(module)`` right after the program imports ``name``."""
    import importlib.abc
    import importlib.machinery

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return spec
            run = spec.loader.exec_module

            def exec_module(module) -> None:
                run(module)
                then(module)
            spec.loader.exec_module = exec_module
            return spec
    sys.meta_path.insert(0, Finder())


def measure(uri: str, vms: int) -> dict:
    from benchmarks.libvirt_floor import run_floor
    floor = run_floor([uri], from_start=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", repr(time.time()),
           uri, str(vms)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    figure = json.loads(out.stdout.strip().splitlines()[-1])
    over = figure["listed_s"] - floor["floor_from_start_s"]
    return {
        "vms": vms, "listed_s": figure["listed_s"], "import_s": figure["import_s"],
        "connecting_s": figure["connecting_s"], "connecting_cpu_s": figure["connecting_cpu_s"],
        "floor_listed_s": floor["floor_from_start_s"],
        "ratio_listed": round(figure["listed_s"] / floor["floor_from_start_s"], 2),
        "over_floor_listed_s": round(over, 3),
        "listed_cpu_s": figure["listed_cpu_s"],
        "floor_listed_cpu_s": floor["floor_from_start_cpu_s"],
        "over_floor_listed_cpu_s": round(figure["listed_cpu_s"]
                                         - floor["floor_from_start_cpu_s"], 3),
        "target_over_floor_listed_s": TARGET_OVER_FLOOR_S,
        "rss_mb": figure["rss_mb"], "rss_settled_mb": figure["rss_settled_mb"],
        "floor_rss_mb": floor["floor_rss_mb"],
        "ratio_rss": round(figure["rss_mb"] / floor["floor_rss_mb"], 2),
        "ratio_rss_settled": round(figure["rss_settled_mb"] / floor["floor_rss_mb"], 2),
        "target_rss_mb": TARGET_RSS_MB,
        "met": {"listed": over <= TARGET_OVER_FLOOR_S,
                "rss": figure["rss_mb"] <= TARGET_RSS_MB,
                "rss_settled": figure["rss_settled_mb"] <= TARGET_RSS_MB},
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        raise SystemExit(child(float(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hvconsole-one-host-"))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from benchmarks.inventory_scale import write_hosts
    try:
        uri = write_hosts(tmp, args.vms, 1)[0]
        result = measure(uri, args.vms)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # 8 MB of generated XML and settings
    if not args.json:
        print(f"one host of {args.vms} VMs:", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
