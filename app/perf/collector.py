"""One connection's live performance, wired together: sampler → rates → ring buffers and
history. No Qt: the Performance tab, tree columns and alerts listen through ``listener``
(called on the asyncio loop thread, i.e. the Qt thread under qasync) and read the
buffers.

The rate calculation runs in the sampler's worker thread (its ``prepare`` hook), so the
loop thread only appends one row per metric to the ring buffers and queues the tick for
the history: well under a millisecond even at 10,000 VMs.

A tick that was skipped (slow host) or failed leaves a NaN row in the ring buffers at the
time it was due, so a graph drawn with connect="finite" shows a break there instead of
a straight line across the missing time.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import zlib
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from typing import Callable, Iterable

import numpy as np

from app.perf.history import HistoryStore
from app.perf.rates import (HOST_METRICS, VM_METRICS, DomainRateCalculator, DomainRates,
                            HostRateCalculator, HostRates)
from app.perf.ring import LiveBuffers
from connectors.libvirt.stats import (DEFAULT_GROUPS, FULL_EVERY, StatsBatch,
                                      StatsSampler)

log = logging.getLogger(__name__)
_key = itemgetter(0)

@dataclass(frozen=True, slots=True)
class PerfTick:
    """What a listener gets after each successful tick.

    ``full``: ``vms`` holds every VM of the host; otherwise only the hot ones (shown or
    watched) were sampled this tick and the others simply have no sample in it.
    ``hot``: the hot VMs' rates since their previous sample (the tick before), for the
    per-vCPU/disk/NIC detail of watched VMs; on a full tick ``vms`` has the same per-VM
    figures for them, its other VMs' rates span the time since the previous full tick.
    """

    wall: float
    vms: DomainRates
    host: HostRates | None
    skipped_ticks: int
    full: bool = True
    hot: DomainRates | None = None

    @property
    def detail(self) -> DomainRates:
        return self.hot if self.hot is not None else self.vms


class PerfCollector:
    """Samples ``conn`` every ``interval_s`` and keeps ``capacity`` ticks per series.

    ``source`` names the connection in the history (its URI). ``history`` is the shared
    HistoryStore, or None. ``executor`` is the connection's worker pool (the sampler
    makes its own one-thread pool otherwise).
    """

    def __init__(self, conn, source: str, *, history: HistoryStore | None = None,
                 executor: concurrent.futures.Executor | None = None,
                 interval_s: float = 2.0, groups: Iterable[str] = DEFAULT_GROUPS,
                 capacity: int = 300, timeout_s: float = 30.0, per_core: bool = True,
                 listener: Callable[[PerfTick], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.source = source
        # The host's series: unique per connection, as history keys are looked up alone.
        self.host_key = f"host:{source}"
        self.history = history
        self.interval_s = interval_s
        self.listener = listener
        self.on_error = on_error
        self.vm_buffers = LiveBuffers(capacity, VM_METRICS)
        self.host_buffers = LiveBuffers(capacity, HOST_METRICS, initial_columns=1)
        self.latest: PerfTick | None = None
        self.errors = 0
        # Between two full ticks of a host with many VMs lie FULL_EVERY intervals.
        self._vm_rates = DomainRateCalculator(
            max_gap_s=max(60.0, 5 * FULL_EVERY * interval_s))
        # The hot VMs' previous sample is the tick before, not the previous full tick.
        self._hot_rates = DomainRateCalculator(max_gap_s=max(60.0, 5 * interval_s))
        self._host_rates = HostRateCalculator(max_gap_s=max(60.0, 5 * interval_s))
        self._timeout_s = timeout_s
        self._sampler = StatsSampler(conn, executor=executor, groups=groups,
                                     timeout_s=timeout_s, per_core=per_core,
                                     prepare=self._prepare)
        self._last_wall: float | None = None
        self._failed_since_last = False
        self.phase_s = 0.0      # delay of the first tick after start(); see spread()

    @property
    def groups(self) -> frozenset[str]:
        return self._sampler.groups

    @groups.setter
    def groups(self, groups: Iterable[str]) -> None:
        self._sampler.groups = groups

    @property
    def running(self) -> bool:
        return self._sampler.running

    @property
    def hot_keys(self) -> frozenset[str]:
        return self._sampler.hot_keys

    @hot_keys.setter
    def hot_keys(self, keys: Iterable[str]) -> None:
        """VMs sampled on every tick even when the host has too many VMs to sample all of
        them every time (see StatsSampler)."""
        self._sampler.hot_keys = frozenset(keys)

    @property
    def host_hot(self) -> bool:
        return self._sampler.host_hot

    @host_hot.setter
    def host_hot(self, on: bool) -> None:
        """The host's own figures (CPU, memory) are on screen: sample it every tick even
        when it has many VMs and none of them is hot."""
        self._sampler.host_hot = bool(on)

    def _prepare(self, batch: StatsBatch
                 ) -> tuple[DomainRates, HostRates | None, DomainRates | None]:
        """Runs in the worker thread; ticks never overlap, so no lock is needed."""
        host = self._host_rates.update(batch.host) if batch.host is not None else None
        if not batch.full:
            vms = self._hot_rates.update_batch(batch)
            return vms, host, vms
        vms = self._vm_rates.update_batch(batch)
        hot_keys = self._sampler.hot_keys
        if self._sampler.full_every <= 1 or not hot_keys:
            self._hot_rates.reset()
            return vms, host, None
        # The hot few among 10,000 records, picked in C rather than a Python loop.
        hot_records = list(compress(batch.records,
                                    map(hot_keys.__contains__, map(_key, batch.records))))
        hot = self._hot_rates.update_batch(StatsBatch(batch.t, batch.wall, hot_records,
                                                      None, batch.elapsed_s))
        _overlay(vms, hot)
        return vms, host, hot

    def spread(self, on: bool) -> None:
        """With several hosts: tick at a point of the interval fixed per connection
        (from its URI), so hosts' ticks are spread rather than all at one instant."""
        self.phase_s = ((zlib.crc32(self.source.encode()) % 1000) / 1000.0 * self.interval_s
                        if on else 0.0)

    def start(self) -> asyncio.Future[None]:
        return self._sampler.start(self._on_batch, self.interval_s, self._on_error,
                                   self.phase_s)

    async def stop(self) -> None:
        await self._sampler.stop()

    def close(self) -> None:
        self._sampler.close()

    @property
    def host_memory_use_known(self) -> bool:
        """False for libvirt's test driver, whose host has a total but no real free
        memory: the host's used and free memory are then unknown (NaN)."""
        return self._host_rates.memory_use_known

    @host_memory_use_known.setter
    def host_memory_use_known(self, known: bool) -> None:
        self._host_rates.memory_use_known = bool(known)

    @property
    def per_core(self) -> bool:
        """Host CPU per core costs one extra call per core per tick: switchable."""
        return self._sampler.per_core

    @per_core.setter
    def per_core(self, on: bool) -> None:
        self._sampler.per_core = bool(on)

    def rebind(self, conn, executor: concurrent.futures.Executor | None = None) -> None:
        """After a reconnect: the same buffers (the graphs keep their past, with a gap),
        a new connection, and counting restarted. Call while stopped."""
        old = self._sampler
        old.close()
        self._sampler = StatsSampler(conn, executor=executor, groups=old.groups,
                                     timeout_s=self._timeout_s, per_core=old.per_core,
                                     prepare=self._prepare)
        self._sampler.hot_keys = old.hot_keys
        self._sampler.host_hot = old.host_hot
        self._failed_since_last = True  # the time while disconnected is a gap
        self.restart_counting()

    def restart_counting(self) -> None:
        """After a reconnect: the previous counters may belong to another libvirtd life."""
        self._vm_rates.reset()
        self._hot_rates.reset()
        self._host_rates.reset()

    def _on_error(self, err: BaseException) -> None:
        self.errors += 1
        self._failed_since_last = True
        if self.on_error is not None:
            self.on_error(err)
        else:
            log.warning("performance sampling of %s failed: %s", self.source, err)

    def _mark_gap(self, wall: float) -> None:
        assert self._last_wall is not None
        gap_at = (self._last_wall + wall) / 2
        self.vm_buffers.push(gap_at, [], {})
        self.host_buffers.push(gap_at, [], {})

    def feed(self, batch: StatsBatch) -> None:
        """One tick from a batch taken elsewhere (a replayed capture, a benchmark): the
        same rate calculation and bookkeeping as a sampled tick, on the calling thread."""
        batch.prepared = self._prepare(batch)
        self._on_batch(batch)

    def _on_batch(self, batch: StatsBatch) -> None:
        vms, host, hot = batch.prepared
        # A gap breaks a graph's line between two samples: before the first one there
        # is no line to break (a late or failed first tick on a busy machine).
        if (batch.skipped_ticks or self._failed_since_last) and self._last_wall is not None:
            self._mark_gap(batch.wall)
        self._failed_since_last = False
        self._last_wall = batch.wall
        metrics = vms.metrics()
        self.vm_buffers.push(batch.wall, vms.keys, metrics)
        if host is not None:
            self.host_buffers.push(batch.wall, [self.host_key], host.metrics())
        if self.history is not None:
            if vms.keys:   # between full ticks of a big host, often no VM is hot at all
                self.history.record(batch.wall, vms.keys, metrics, source=self.source)
            if host is not None:
                self.history.record(batch.wall, [self.host_key], host.metrics(),
                                    source=self.source)
        self.latest = PerfTick(batch.wall, vms, host, batch.skipped_ticks, batch.full, hot)
        if self.listener is not None:
            self.listener(self.latest)


_OVERLAID = ("cpu_percent", "disk_rd_bps", "disk_wr_bps", "disk_rd_iops", "disk_wr_iops",
             "net_rx_bps", "net_tx_bps")


def _overlay(vms: DomainRates, hot: DomainRates) -> None:
    """On a full tick, the hot VMs' rates over the last interval (``hot``) replace those
    over the time since the previous full tick, so their graphs keep one resolution.
    Where the hot calculator has no previous sample yet (NaN), the longer span stays."""
    if not hot.keys:
        return
    rows = np.fromiter((vms.index[k] for k in hot.keys), dtype=np.intp, count=len(hot.keys))
    for name in _OVERLAID:
        values = getattr(hot, name)
        known = np.isfinite(values)
        getattr(vms, name)[rows[known]] = values[known]
