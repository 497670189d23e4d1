"""Replayed statistics ticks for tests that need moving numbers without a real guest.

The records are libvirt's own getAllDomainStats output captured from a QEMU guest
(tests/unit/data/qemu_domain_stats.json), copied per VM with its counters advanced by
chosen rates; ``PerfCollector.feed`` then runs them through the real rate calculation,
ring buffers and history. Only the libvirt call is replaced (the test driver reports no
counters at all); real guests are covered by tests/integration.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.libvirt.stats import HostSample, StatsBatch

CAPTURED = Path(__file__).parent / "unit" / "data" / "qemu_domain_stats.json"


@dataclass
class Load:
    cpu_percent: float = 0.0      # of all the VM's vCPUs
    disk_rd_bps: float = 0.0
    net_rx_bps: float = 0.0
    rss_kib: int = 200_000
    used_kib: int | None = None   # what the guest reports using (its balloon driver)
    running: bool = True          # False: not in the ticks at all (shut off)


class Replay:
    def __init__(self, collector, loads: dict[str, Load], wall: float | None = None) -> None:
        self.collector = collector
        self.loads = loads
        template = json.loads(CAPTURED.read_text())[0]
        self.records = {key: dict(template) for key in loads}
        self.t = time.monotonic()
        self.wall = time.time() if wall is None else wall
        # KiB (total, free, cached, buffers) to replay a host's memory too; None: no
        # host figures (libvirt's test driver, which the demo lab runs on, has none).
        self.host_memory_kib: tuple[int, int, int, int] | None = None

    def tick(self, dt: float = 2.0, only: set[str] | None = None) -> None:
        """One tick ``dt`` after the previous; ``only``: a tick that sampled just these
        VMs (the hot ones between two full ticks), the others' counters still move."""
        self.t += dt
        self.wall += dt
        raw = []
        for key, rec in self.records.items():
            load = self.loads[key]
            vcpus = rec["vcpu.current"]
            busy_ns = int(load.cpu_percent / 100.0 * dt * 1e9)
            rec["cpu.time"] += busy_ns * vcpus
            for i in range(vcpus):
                rec[f"vcpu.{i}.time"] += busy_ns
            rec["block.0.rd.bytes"] += int(load.disk_rd_bps * dt)
            rec["block.0.rd.reqs"] += int(load.disk_rd_bps * dt / 4096)
            rec["net.0.rx.bytes"] += int(load.net_rx_bps * dt)
            rec["balloon.rss"] = load.rss_kib
            if load.used_kib is not None:
                rec["balloon.available"] = rec["balloon.current"]
                rec["balloon.unused"] = rec["balloon.current"] - load.used_kib
            if not load.running:
                continue
            if only is None or key in only:
                raw.append((key, 1, dict(rec)))
        host = None
        if self.host_memory_kib is not None:
            host = HostSample(self.t, self.wall, None, None, *self.host_memory_kib)
        self.collector.feed(StatsBatch(self.t, self.wall, raw, host, 0.001,
                                       full=only is None))


LAB = Path(__file__).resolve().parents[1] / "resources" / "demo" / "lab.xml"


@dataclass
class PerfStack:
    """The real app objects a performance test needs, on private files."""

    events_log: object
    inventory: object
    manager: object
    preferences: object
    history: object
    monitor: object


def make_perf_stack(tmp_path, *, history_warning_file: bytes | None = None) -> PerfStack:
    from PySide6.QtCore import QSettings

    from app.config import ConnectionsStore
    from app.connection_manager import ConnectionManager
    from app.events_log import EventsLog
    from app.inventory import InventoryModel
    from app.perf.history import HistoryStore
    from app.perf.monitor import PerfMonitor
    from app.preferences import Preferences

    events_log = EventsLog()
    inventory = InventoryModel()
    manager = ConnectionManager(inventory, events_log,
                                store=ConnectionsStore(tmp_path / "connections.json"))
    preferences = Preferences(QSettings(str(tmp_path / "prefs.ini"),
                                        QSettings.Format.IniFormat))
    path = tmp_path / "history.sqlite"
    if history_warning_file is not None:
        path.write_bytes(history_warning_file)
    history = HistoryStore(path, writer_thread=False)
    monitor = PerfMonitor(manager, events_log, preferences, history)
    return PerfStack(events_log, inventory, manager, preferences, history, monitor)


async def open_lab(stack: PerfStack, wait_until) -> str:
    """Opens the demo lab (a private test-driver copy) and waits for its first tick."""
    ticks = []
    stack.monitor.ticked.connect(ticks.append)
    conn_id = stack.manager.open(f"test://{LAB}", save=False, demo=True)
    await wait_until(lambda: conn_id in ticks, timeout=15)
    return conn_id


async def close_stack(stack: PerfStack) -> None:
    await stack.manager.close_all()
    await stack.monitor.close()


async def replay_only(stack: PerfStack, conn_id: str, loads: dict, wall=None) -> Replay:
    """Stops the real sampling of ``conn_id`` and returns a Replay on its collector."""
    collector = stack.monitor.collector(conn_id)
    await collector.stop()
    return Replay(collector, loads, wall)


@pytest.fixture
def lab(aloop, tmp_path):
    """The demo lab connected through the real app objects: (stack, conn_id, the keys of
    two running VMs). A fixture: import it into a test module to use it."""
    from tests.conftest import wait_until
    stack = make_perf_stack(tmp_path)
    conn_id = aloop.run_until_complete(open_lab(stack, wait_until))
    keys = [vm.key for vm in stack.manager.host(conn_id).vms()
            if vm.state.value == "running"][:2]
    yield stack, conn_id, keys
    aloop.run_until_complete(close_stack(stack))
