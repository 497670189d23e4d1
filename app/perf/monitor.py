"""Live performance of every connected host, for the whole application.

``PerfMonitor`` runs one ``PerfCollector`` per CONNECTED host: started when the host
connects, stopped when it disconnects or is lost, rebound to the new connection after a
reconnect (same buffers, a gap for the time away, counting restarted). All collectors
share one ``HistoryStore``; a damaged history file is reported in the Events log.

What the widgets read:
- ``ticked(conn_id)``: once per tick of that host (a collector's tick is the only
  trigger, so nothing repaints faster than the sampling interval);
- ``series(...)``: one metric of one VM or host over a time range, the live ring buffers
  for the recent past and the history for what is older (so a 1-day graph shows data from
  before the app started);
- ``detail_series``: per-vCPU, per-disk, per-NIC series of *watched* VMs and per-core host
  CPU, live only (they are not in the history: that would multiply its size);
- ``top_consumers``: the VMs of a host using most of one resource right now.

Why the live capacity is small (``LIVE_CAPACITY`` ticks): 300 ticks × 10 metrics ×
10,000 VMs of float32 is 114 MB; the history's full-resolution tier already holds the last
10 minutes, so the rings only need to bridge the history's flush interval.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from app import preferences as prefs
from app.perf.collector import PerfCollector, PerfTick
from app.perf.history import DEFAULT_TIERS, HistoryStore, Tier
from app.perf.ring import LiveBuffers, RingTable
from app.perf.xapi_rrd import XapiRrdFeed
from connectors.libvirt.model import ConnState
from connectors.libvirt.stats import FULL_EVERY

log = logging.getLogger(__name__)

LIVE_CAPACITY = 90           # ticks kept in memory per series (3 min at 2 s)
HOST_SUM_METRICS = ("vms_disk_rd_bps", "vms_disk_wr_bps", "vms_net_rx_bps",
                    "vms_net_tx_bps")
_SUMMED = (("vms_disk_rd_bps", "disk_rd_bps"), ("vms_disk_wr_bps", "disk_wr_bps"),
           ("vms_net_rx_bps", "net_rx_bps"), ("vms_net_tx_bps", "net_tx_bps"))
DAY_S = 24 * 3600.0


def history_tiers(days: int) -> tuple[Tier, ...]:
    """The default tiers with the coarsest one kept ``days`` days."""
    last = DEFAULT_TIERS[-1]
    return DEFAULT_TIERS[:-1] + (Tier(last.name, last.step_s, max(1, days) * DAY_S),)


@dataclass(frozen=True)
class HostMemory:
    """A host's memory at one tick, in KiB (NaN: not known), from the host statistics
    the collector samples every tick: libvirt's virNodeGetMemoryStats over all cells,
    i.e. the host kernel's counters as free(1) shows them; on Xen (libxl), which has no
    such statistics, the machine's memory (virNodeGetInfo) and the hypervisor's free
    memory (virNodeGetFreeMemory). ``used`` is total - free - cache - buffers, free(1)'s
    "used". The tree's Memory column, the General tab and the Performance tab all read
    this one source."""

    wall: float
    total_kib: float
    used_kib: float
    free_kib: float
    cache_kib: float    # page cache and buffers: total - used - free

    @property
    def used_fraction(self) -> float:
        return self.used_kib / self.total_kib if self.total_kib > 0 else math.nan


MEMORY_SOURCE = ("the host's memory statistics, read every sampling interval (libvirt's "
                 "virNodeGetMemoryStats: the host kernel's counters, as free(1) shows "
                 "them; on Xen, the hypervisor's free memory)")


@dataclass
class HostPerf:
    """Everything the monitor keeps for one connection."""

    conn_id: str
    collector: PerfCollector
    generation: int
    sums: LiveBuffers                          # host_key → the summed VM disk/net rates
    details: RingTable                         # (key, kind, name[, field]) → value
    watched: set[str | None] = field(default_factory=set)  # VM keys; None: host cores
    task: asyncio.Future[None] | None = None
    last_full: PerfTick | None = None          # the newest tick that sampled every VM


class PerfMonitor(QObject):
    """Signals: ``ticked(conn_id)`` after each tick of a host, ``collectorsChanged()``
    when a host's sampling starts or stops."""

    ticked = Signal(str)
    collectorsChanged = Signal()

    def __init__(self, manager, events_log=None, preferences: prefs.Preferences | None = None,
                 history: HistoryStore | None = None, parent: QObject | None = None, *,
                 capacity: int = LIVE_CAPACITY) -> None:
        super().__init__(parent)
        self.manager = manager
        self.events_log = events_log
        self.preferences = preferences
        self.history = history
        self.capacity = capacity
        self._hosts: dict[str, HostPerf] = {}
        self._hot: dict[str, frozenset[str]] = {}     # who wants which VMs sampled each tick
        self._hot_hosts: dict[str, frozenset[str]] = {}  # ... and which hosts' own figures
        self._pending: set[asyncio.Future] = set()   # stops and restarts under way
        self._closed = False
        self._history_failure: str | None = None
        # XenServer / XCP-ng pools: their hosts keep their own RRDs (app/perf/xapi_rrd.py)
        self.pools: XapiRrdFeed | None = None
        if history is not None and history.warning and events_log is not None:
            events_log.add("warning", "application", "performance history",
                           history.warning)
        manager.stateChanged.connect(self._state_changed)
        manager.connectionRemoved.connect(self._removed)
        if preferences is not None:
            preferences.changed.connect(self._preference_changed)
            if history is not None:
                history.tiers = history_tiers(preferences.history_days)
        for conn_id in manager.conn_ids():
            self._state_changed(conn_id)

    def follow_pools(self) -> XapiRrdFeed:
        """Shows XenAPI pools too, from their hosts' own RRDs (the manager must be the
        ConnectionManager: the feed follows its pools)."""
        if self.pools is None:
            self.pools = XapiRrdFeed(self.manager, self.ticked.emit)
        return self.pools

    def serves_pool(self, conn_id: str) -> bool:
        """Whether ``conn_id`` is a XenAPI pool whose figures come from its RRDs."""
        return self._pool(conn_id) is not None

    def _pool(self, conn_id: str) -> XapiRrdFeed | None:
        feed = self.pools
        return feed if feed is not None and feed.serves(conn_id) else None

    # ---- what widgets read ----

    @property
    def interval_s(self) -> float:
        return self.preferences.interval_s if self.preferences is not None else 2.0

    def conn_ids(self) -> list[str]:
        return list(self._hosts)

    def collector(self, conn_id: str) -> PerfCollector | None:
        perf = self._hosts.get(conn_id)
        return perf.collector if perf is not None else None

    def latest_tick(self, conn_id: str) -> PerfTick | None:
        collector = self.collector(conn_id)
        return collector.latest if collector is not None else None

    def full_tick(self, conn_id: str) -> PerfTick | None:
        """The newest tick that sampled every VM of the host (the latest tick itself
        unless the host has so many VMs that only the hot ones are sampled in between)."""
        perf = self._hosts.get(conn_id)
        return perf.last_full if perf is not None else None

    def set_hot(self, source: str, keys) -> None:
        """The VMs ``source`` (the tree's shown rows, the Performance tab, alert rules)
        wants sampled on every tick; the other VMs of a host with many VMs get one sample
        every FULL_EVERY ticks. Keys are UUIDs; each host samples those it has."""
        self._set_wanted(self._hot, source, keys)

    def set_hot_hosts(self, source: str, conn_ids) -> None:
        """The hosts whose own figures ``source`` shows (the tree's host rows on screen,
        the Performance tab): sampled every tick; a host with many VMs that no one looks
        at, nor at any of its VMs, is sampled every FULL_EVERY ticks only."""
        self._set_wanted(self._hot_hosts, source, conn_ids)

    def _set_wanted(self, table: dict[str, frozenset[str]], source: str, wanted) -> None:
        wanted = frozenset(wanted)
        if table.get(source, frozenset()) == wanted:
            return
        if wanted:
            table[source] = wanted
        else:
            table.pop(source, None)
        for perf in self._hosts.values():
            self._apply_hot(perf)

    def _apply_hot(self, perf: HostPerf) -> None:
        keys = {k for k in perf.watched if k is not None}
        for wanted in self._hot.values():
            keys |= wanted
        perf.collector.hot_keys = keys
        perf.collector.host_hot = None in perf.watched or any(
            perf.conn_id in wanted for wanted in self._hot_hosts.values())

    def host_latest(self, conn_id: str, metric: str) -> float:
        if (feed := self._pool(conn_id)) is not None:
            return feed.latest(conn_id, None, metric)
        perf = self._hosts.get(conn_id)
        if perf is None:
            return math.nan
        c = perf.collector
        if metric in HOST_SUM_METRICS:
            return perf.sums.tables[metric].latest(c.host_key)
        return c.host_buffers.tables[metric].latest(c.host_key)

    def vm_latest(self, conn_id: str, key: str, metric: str) -> float:
        """A VM's newest figure of ``metric`` (NaN when it has none lately): a VM off
        screen is sampled every FULL_EVERY ticks only, so that many ticks are looked at."""
        if (feed := self._pool(conn_id)) is not None:
            return feed.latest(conn_id, key, metric)
        perf = self._hosts.get(conn_id)
        if perf is None:
            return math.nan
        return perf.collector.vm_buffers.tables[metric].latest(key, FULL_EVERY)

    def host_memory(self, conn_id: str) -> HostMemory | None:
        """The host's newest memory figures (see ``HostMemory``), None before its first
        sample or when it is not sampled."""
        perf = self._hosts.get(conn_id)
        if perf is None:
            return None
        c = perf.collector
        tables = c.host_buffers.tables
        total = tables["mem_total_kib"]
        if not len(total):
            return None
        times, _values = total.column(c.host_key, 1)
        total_kib, used, free = (tables[m].latest(c.host_key) for m in
                                 ("mem_total_kib", "mem_used_kib", "mem_free_kib"))
        if math.isnan(total_kib) and math.isnan(used):
            return None
        return HostMemory(float(times[-1]), total_kib, used, free, total_kib - used - free)

    def host_key(self, conn_id: str) -> str | None:
        collector = self.collector(conn_id)
        return collector.host_key if collector is not None else None

    def series(self, conn_id: str, key: str | None, metric: str, t_from: float,
               t_to: float | None = None, *, use_history: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
        """(wall-clock times, values) of one metric of VM ``key`` (None: the host) between
        t_from and t_to, oldest first, NaN where a tick was missed. Points older than the
        live buffers come from the history (blocking SQLite reads: call off the loop for
        long ranges via ``history_series``)."""
        t_to = time.time() if t_to is None else t_to
        live_t, live_v = self.live_series(conn_id, key, metric)
        old_t = old_v = np.empty(0)
        if use_history and self.history is not None and (
                not len(live_t) or live_t[0] > t_from):
            old_t, old_v = self.history_series(conn_id, key, metric, t_from, t_to)
            if len(live_t):
                keep = old_t < live_t[0]
                old_t, old_v = old_t[keep], old_v[keep]
        t = np.concatenate((old_t, live_t))
        v = np.concatenate((old_v, live_v.astype(np.float64)))
        inside = (t >= t_from) & (t <= t_to)
        return t[inside], v[inside]

    def live_series(self, conn_id: str, key: str | None, metric: str
                    ) -> tuple[np.ndarray, np.ndarray]:
        if (feed := self._pool(conn_id)) is not None:
            return feed.live_series(conn_id, key, metric)
        perf = self._hosts.get(conn_id)
        if perf is None:
            return np.empty(0), np.empty(0)
        c = perf.collector
        if key is None:
            buffers = perf.sums if metric in HOST_SUM_METRICS else c.host_buffers
            return buffers.series(metric, c.host_key)
        return c.vm_buffers.series(metric, key)

    def history_series(self, conn_id: str, key: str | None, metric: str, t_from: float,
                       t_to: float, tier: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """From the history only (blocking; safe from a worker thread). Works for a host
        that is not connected (any more) too, as long as it has been seen this run.
        ``tier``: the history tier to read (``history_tier``), else the one reaching back
        to t_from."""
        if (feed := self._pool(conn_id)) is not None:
            return feed.history_series(conn_id, key, metric, t_from, t_to)
        if self.history is None:
            return np.empty(0), np.empty(0)
        object_key = key if key is not None else self.history_host_key(conn_id)
        if object_key is None:
            return np.empty(0), np.empty(0)
        t, avg, _mx = self.history.series(object_key, metric, t_from, t_to, tier)
        return t, avg

    def history_host_key(self, conn_id: str) -> str | None:
        host = self.manager.host(conn_id)
        return f"host:{host.uri}" if host is not None else None

    def history_tier(self, span_s: float) -> int:
        """The history tier a graph of the last ``span_s`` seconds reads: the finest one
        that keeps that long (the full-resolution tier for 10 minutes)."""
        return self.history.tier_for_span(span_s) if self.history is not None else 0

    def history_step(self, span_s: float) -> float:
        """Seconds between two points of the tier ``history_tier(span_s)`` (the sampling
        interval for the full-resolution tier)."""
        if self.history is None:
            return self.interval_s
        tier = self.history.tiers[self.history_tier(span_s)]
        return tier.step_s or self.interval_s

    def watch(self, conn_id: str, key: str | None) -> None:
        """Keep per-vCPU/disk/NIC series of this VM (key None: the host's per-core CPU)
        from the next tick on. Per-core figures cost one call per host CPU, so they are
        only read while someone looks at them."""
        perf = self._hosts.get(conn_id)
        if perf is not None:
            perf.watched.add(key)
            self._apply_per_core(perf)
            self._apply_hot(perf)

    def unwatch(self, conn_id: str, key: str | None) -> None:
        perf = self._hosts.get(conn_id)
        if perf is not None:
            perf.watched.discard(key)
            self._apply_per_core(perf)
            self._apply_hot(perf)

    def _apply_per_core(self, perf: HostPerf) -> None:
        allowed = self.preferences.per_core_host_cpu if self.preferences is not None else True
        perf.collector.per_core = allowed and None in perf.watched

    def detail_keys(self, conn_id: str, key: str | None, kind: str) -> list[tuple]:
        """The detail series known for a VM (kind "vcpu", "disk", "net") or, with key None
        and kind "core", the host's cores; in the order they first appeared."""
        perf = self._hosts.get(conn_id)
        if perf is None:
            return []
        owner = key if key is not None else perf.collector.host_key
        return [k for k in perf.details.index.keys if k[0] == owner and k[1] == kind]

    def detail_series(self, conn_id: str, detail_key: tuple
                      ) -> tuple[np.ndarray, np.ndarray]:
        perf = self._hosts.get(conn_id)
        if perf is None:
            return np.empty(0), np.empty(0)
        return perf.details.column(detail_key)

    def top_consumers(self, conn_id: str, metric: str, n: int = 10
                      ) -> list[tuple[str, float]]:
        """(VM key, latest value) of the ``n`` VMs with the highest ``metric``, highest
        first; "disk_bps"/"net_bps" add reads and writes (rx and tx). Ranked on the
        newest tick that sampled every VM (``full_tick``)."""
        tick = self.full_tick(conn_id)
        if tick is None or not tick.vms.keys:
            return []
        values = vm_values(tick, metric)
        finite = np.where(np.isfinite(values), values, -np.inf)
        n = min(n, len(finite))
        top = np.argpartition(-finite, n - 1)[:n]
        top = top[np.argsort(-finite[top], kind="stable")]
        return [(tick.vms.keys[i], float(values[i])) for i in top.tolist()
                if np.isfinite(values[i])]

    # ---- following the connections ----

    def _state_changed(self, conn_id: str) -> None:
        if self._closed:
            return   # leaving: hosts still saying goodbye must not start samplers again
        host = self.manager.host(conn_id)
        if host is None:
            self._removed(conn_id)
            return
        perf = self._hosts.get(conn_id)
        handle = host.sampling_handle() if host.state is ConnState.CONNECTED else None
        if handle is None:
            if perf is not None and perf.collector.running:
                self._spawn(perf.collector.stop())
                self.collectorsChanged.emit()
            return
        conn, executor, generation = handle
        if perf is None:
            perf = self._new_host(conn_id, host.uri, conn, executor, generation)
            perf.collector.host_memory_use_known = not (
                host.info is not None and host.info.driver.lower() == "test")
        elif perf.generation != generation:
            self._spawn(self._rebind(perf, conn, executor, generation))
            return
        elif perf.collector.running:
            return
        perf.task = self._start(perf)
        self.collectorsChanged.emit()

    def _start(self, perf: HostPerf) -> asyncio.Future[None]:
        perf.collector.spread(len(self._hosts) > 1)
        task = perf.collector.start()
        task.add_done_callback(_weak_call(self._sampling_ended, perf))
        return task

    def _sampling_ended(self, perf: HostPerf, task: asyncio.Future[None]) -> None:
        """A sampler only ends by being stopped; one that died of an error leaves the
        host's graphs silently frozen, so the user is told (and can reconnect)."""
        if task.cancelled() or task.exception() is None:
            return
        err = task.exception()
        log.error("performance sampling of %s ended: %r", perf.collector.source, err)
        if self.events_log is not None:
            self.events_log.add("error", "performance", perf.collector.source,
                                f"Live performance sampling stopped: {err}. "
                                "Reconnect the host to start it again.")
        self.collectorsChanged.emit()

    def _new_host(self, conn_id: str, uri: str, conn, executor, generation: int) -> HostPerf:
        p = self.preferences
        collector = PerfCollector(
            conn, uri, history=self.history, executor=executor,
            interval_s=self.interval_s, capacity=self.capacity,
            groups=p.groups if p is not None else ("state", "cpu", "vcpu", "balloon",
                                                   "disk", "net"),
            per_core=False,
            on_error=_weak_call(self._sampling_failed, conn_id))
        perf = HostPerf(conn_id, collector, generation,
                        LiveBuffers(self.capacity, HOST_SUM_METRICS, initial_columns=1),
                        RingTable(self.capacity, initial_columns=8))
        collector.listener = _weak_call(self._on_tick, perf)
        self._hosts[conn_id] = perf
        self._apply_hot(perf)
        return perf

    async def _rebind(self, perf: HostPerf, conn, executor, generation: int) -> None:
        await perf.collector.stop()
        perf.collector.rebind(conn, executor)
        perf.generation = generation
        host = self.manager.host(perf.conn_id)
        if host is not None and host.state is ConnState.CONNECTED and \
                self._hosts.get(perf.conn_id) is perf:
            perf.task = self._start(perf)
            self.collectorsChanged.emit()

    async def _restart(self, perf: HostPerf) -> None:
        await perf.collector.stop()
        if self._hosts.get(perf.conn_id) is perf:
            perf.task = self._start(perf)

    def _removed(self, conn_id: str) -> None:
        perf = self._hosts.pop(conn_id, None)
        if perf is not None:
            self._spawn(self._close_one(perf))
            self.collectorsChanged.emit()

    @staticmethod
    async def _close_one(perf: HostPerf) -> None:
        await perf.collector.stop()
        perf.collector.close()

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        task.add_done_callback(self._spawned_done)

    @staticmethod
    def _spawned_done(task: asyncio.Future[object]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("performance monitor: %s", task.exception())

    def _sampling_failed(self, conn_id: str, err: BaseException) -> None:
        log.info("performance sampling of %s failed: %r", conn_id, err)

    def _on_tick(self, perf: HostPerf, tick: PerfTick) -> None:
        c = perf.collector
        vms = tick.vms
        if tick.full:
            # Sums over every VM: only a tick that sampled every VM has them (a coarser
            # step on a host with many VMs, never a sum of just the hot ones).
            perf.last_full = tick
            sums = {name: float(np.nansum(getattr(vms, source))) if len(vms.keys) and
                    np.isfinite(getattr(vms, source)).any() else math.nan
                    for name, source in _SUMMED}
            perf.sums.push(tick.wall, [c.host_key], sums)
            if self.history is not None:
                self.history.record(tick.wall, [c.host_key], sums, source=c.source)
        vms = tick.detail
        keys: list[tuple[str, ...]] = []
        values: list[float] = []
        if tick.host is not None:
            for i, pct in enumerate(tick.host.cpu_percent_per_core.tolist()):
                keys.append((c.host_key, "core", str(i)))
                values.append(pct)
        for key in perf.watched:
            if key not in vms.index:
                continue
            for i, pct in enumerate(vms.vcpu_percent_of(key).tolist()):
                keys.append((key, "vcpu", str(i)))
                values.append(pct)
            for name, rates in vms.disks_of(key).items():
                for field_name, value in zip(("rd_bps", "wr_bps", "rd_iops", "wr_iops"),
                                             rates, strict=True):
                    keys.append((key, "disk", name, field_name))
                    values.append(value)
            for name, nic_rates in vms.nics_of(key).items():
                for field_name, value in zip(("rx_bps", "tx_bps"), nic_rates, strict=True):
                    keys.append((key, "net", name, field_name))
                    values.append(value)
        perf.details.append(tick.wall, keys, np.array(values, dtype=np.float32))
        self._report_history_failure()
        self.ticked.emit(perf.conn_id)

    def _report_history_failure(self) -> None:
        """Tells the Events log once when the history stops being written (a full disk)
        and once when it is written again; sampling never stops for it."""
        failure = self.history.write_failure if self.history is not None else None
        if failure == self._history_failure:
            return
        if self.events_log is not None:
            if failure is not None:
                self.events_log.add("error", "application", "performance history", failure)
            else:
                self.events_log.add("info", "application", "performance history",
                                    "The performance history is written again.")
        self._history_failure = failure

    # ---- preferences ----

    def _preference_changed(self, key: str) -> None:
        p = self.preferences
        assert p is not None        # only connected when there are preferences
        if key in (prefs.COLLECT_DISK, prefs.COLLECT_NET):
            for perf in self._hosts.values():
                perf.collector.groups = p.groups
        elif key == prefs.PER_CORE_HOST_CPU:
            for perf in self._hosts.values():
                self._apply_per_core(perf)
        elif key == prefs.SAMPLING_INTERVAL:
            for perf in self._hosts.values():
                perf.collector.interval_s = p.interval_s
                if perf.collector.running:   # the new pace takes a restart of the loop
                    self._spawn(self._restart(perf))
        elif key == prefs.HISTORY_DAYS and self.history is not None:
            self.history.tiers = history_tiers(p.history_days)

    # ---- leaving ----

    async def close(self) -> None:
        """Stops every collector, then flushes and closes the history."""
        self._closed = True
        if self.pools is not None:
            await self.pools.close()
        hosts, self._hosts = list(self._hosts.values()), {}
        for perf in hosts:
            await self._close_one(perf)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.history is not None:
            await asyncio.to_thread(self.history.close)


def _weak_call(method, *args):
    """``method(*args, *more)`` without keeping its QObject alive. A collector's callbacks
    holding the monitor strongly would put Qt objects into a reference cycle, which
    Python's cycle collector may free on a libvirt worker thread (Qt objects destroyed off
    their thread leave dangling timers: a crash later)."""
    ref = weakref.WeakMethod(method)

    def call(*more):
        target = ref()
        if target is not None:
            return target(*args, *more)
    return call


def vm_values(tick: PerfTick, metric: str) -> np.ndarray:
    """One number per VM of a tick for ``metric``: a VM_METRICS name, or "disk_bps",
    "net_bps" (both directions added), "mem_percent" (what the guest uses of its assigned
    memory; NaN where the guest does not say: the QEMU process's RSS is not the guest's
    use, and exceeds a small VM's memory), "mem_host_kib" (what the VM holds on the host:
    its process's RSS, else its assigned memory where the hypervisor has no RSS)."""
    vms = tick.vms
    if metric == "disk_bps":
        return vms.disk_rd_bps + vms.disk_wr_bps
    if metric == "net_bps":
        return vms.net_rx_bps + vms.net_tx_bps
    if metric == "mem_percent":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.clip(vms.mem_used_kib / vms.mem_assigned_kib * 100.0, 0.0, 100.0)
    if metric == "mem_host_kib":
        return np.where(np.isfinite(vms.mem_rss_kib), vms.mem_rss_kib, vms.mem_assigned_kib)
    return getattr(vms, metric)
