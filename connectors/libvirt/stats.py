"""Live performance counters of one libvirt connection: one bulk call per tick.

Why one bulk call: virConnectGetAllDomainStats answers for every domain in a single RPC,
so a host with 10,000 VMs costs one round trip per tick instead of 10,000. What a tick
holds, and how libvirt's dicts become records, is stats_records.py (re-exported here, the
sampler's public face).

Why ticks never overlap: the call blocks in a worker thread. If a host is slow, the next
tick waits for the previous one, and a call that outlives its timeout keeps its thread
until libvirt gives up; meanwhile ticks are skipped rather than piling up threads on a
dead host. Each batch carries the monotonic time it was taken, so the caller sees a gap
as a gap.

No Qt here (connectors/ layer rule).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, TypeVar, cast

import libvirt

from connectors.libvirt.sampling_schedule import SamplingRun
from connectors.libvirt.stats_keys import DomainKeys
from connectors.libvirt.stats_listing import RunningHandles
from connectors.libvirt.stats_records import (CpuTimes, DiskCounters, DomainSample, HostSample,
                                              NetCounters, RawRecord, StatsBatch, StatsDict,
                                              block_keys,
                                              block_values, net_keys, net_values,
                                              parse_domain_stats, vcpu_time_keys)

__all__ = ["CpuTimes", "DiskCounters", "DomainSample", "HostSample", "NetCounters",
           "RawRecord", "StatsBatch", "block_keys", "block_values", "net_keys", "net_values",
           "parse_domain_stats", "vcpu_time_keys",
           "DEFAULT_GROUPS", "FULL_EVERY", "GROUP_FLAGS", "STATS_CHUNK", "TIERED_FROM",
           "SamplerBusy", "StatsSampler", "per_domain_stats", "read_host_sample"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# What a bulk call returns: each domain with its record.
DomainRecords = list[tuple[libvirt.virDomain, StatsDict]]

GROUP_FLAGS = {
    "state": libvirt.VIR_DOMAIN_STATS_STATE,
    "cpu": libvirt.VIR_DOMAIN_STATS_CPU_TOTAL,
    "vcpu": libvirt.VIR_DOMAIN_STATS_VCPU,
    "balloon": libvirt.VIR_DOMAIN_STATS_BALLOON,
    "disk": libvirt.VIR_DOMAIN_STATS_BLOCK,
    "net": libvirt.VIR_DOMAIN_STATS_INTERFACE,
}
DEFAULT_GROUPS = frozenset(GROUP_FLAGS)
# NOWAIT: a domain whose job lock is busy (migration, long block job) answers with what is
# available at once instead of holding up the whole bulk call.
_NOWAIT = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
_ACTIVE = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE


class SamplerBusy(RuntimeError):
    """The previous call has not returned yet (a slow or unreachable host)."""


def _cpu_times(d: dict[str, int] | None) -> CpuTimes | None:
    if not d:
        return None
    return CpuTimes(d.get("kernel"), d.get("user"), d.get("idle"), d.get("iowait"))


def _optional_call(fn: Callable[[], T]) -> T | None:
    """A host figure some drivers do not implement (the test driver has no memory stats)."""
    try:
        return fn()
    except libvirt.libvirtError as err:
        log.debug("host statistic not available: %s", err.get_error_message())
        return None


# libvirt-python annotates the node calls below as returning str. What they return:
# getCPUStats a dict of nanosecond counters, getCPUMap (CPU count, online flags, online
# count), getMemoryStats a dict of KiB figures, getInfo [model, memory in MiB, CPUs, MHz,
# NUMA nodes, sockets, cores, threads].

def _cpu_stats(conn: libvirt.virConnect, cpu: int) -> dict[str, int] | None:
    return cast("dict[str, int] | None",
                _optional_call(functools.partial(conn.getCPUStats, cpu)))


def read_host_sample(conn: libvirt.virConnect, t: float, wall: float,
                     per_core: bool = True) -> HostSample:
    """Host CPU (total and per online core) and memory. Blocking: call it in a worker."""
    total = _cpu_times(_cpu_stats(conn, libvirt.VIR_NODE_CPU_STATS_ALL_CPUS))
    cores = None
    if per_core:
        cpu_map = cast("tuple[int, list[bool], int] | None", _optional_call(conn.getCPUMap))
        if cpu_map is not None:
            _count, online, _n = cpu_map
            cores = tuple(_cpu_times(_cpu_stats(conn, i)) if up else None
                          for i, up in enumerate(online))
    mem = cast("dict[str, int] | None", _optional_call(
        lambda: conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)))
    info = None
    if not mem or total is None:
        info = cast("list[int] | None", _optional_call(conn.getInfo))
    if not mem:
        mem = _hypervisor_memory(conn, info)
    cpus = info[2] if total is None and info and info[2] > 0 else None
    return HostSample(t, wall, total, cores, mem.get("total"), mem.get("free"),
                      mem.get("cached"), mem.get("buffers"), cpus=cpus)


def _hypervisor_memory(conn: libvirt.virConnect, info: list[int] | None) -> dict[str, int]:
    """Total and free memory where the driver has no node memory statistics.

    libvirt's Xen driver (libxl) implements neither virNodeGetMemoryStats nor
    virNodeGetCPUStats, but it does answer virNodeGetInfo (the machine's memory) and
    virNodeGetFreeMemory (memory no domain holds, Xen's free pages). A hypervisor has no
    page cache or buffers of its own, so those stay unknown rather than zero.
    """
    mem: dict[str, int] = {}
    if info and info[1] > 0:
        mem["total"] = info[1] * 1024          # getInfo reports MiB
    free = _optional_call(conn.getFreeMemory)
    if free is not None and free >= 0:
        mem["free"] = free // 1024              # getFreeMemory reports bytes
    return mem


def per_domain_stats(conn: libvirt.virConnect, active_only: bool = True) -> DomainRecords:
    """The bulk call's records, built from one virDomainGetInfo per domain.

    libvirt's Xen driver (libxl, libvirt 9.0) has no virConnectGetAllDomainStats, but
    virDomainGetInfo gives the state, the CPU time, the vCPU count and the current and
    maximum memory in one call. Disk and network counters would take one call per
    device and are left out (unknown, not zero); so is memory use inside the guest.
    A domain that vanished between the listing and its call is left out of the tick.
    """
    flags = libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE if active_only else 0
    records: DomainRecords = []
    for dom in conn.listAllDomains(flags):
        try:
            # libvirt-python annotates info() as str; it returns [state, maximum memory,
            # memory, vCPUs, CPU time].
            state, maximum, current, vcpus, cpu_time = cast("list[int]", dom.info())
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue
            raise
        record = {"state.state": state, "balloon.current": current,
                  "balloon.maximum": maximum}
        if state not in (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_CRASHED):
            record["cpu.time"] = cpu_time
            record["vcpu.current"] = vcpus
        records.append((dom, record))
    return records


FULL_EVERY = 5          # with many domains: everyone every 5th tick, the hot ones each tick
TIERED_FROM = 200       # domains of the last full tick from which ticks are tiered
STATS_CHUNK = 500       # domains per bulk call on a host with more than this many


class StatsSampler:
    """Samples one connection's domains and host, one bulk call per tick.

    Why tiers: at 10,000 VMs one bulk answer costs milliseconds of GIL-holding Python per
    host (libvirt-python builds a dict and a virDomain per domain) though a user looks at
    a few dozen VMs at a time. With more than ``TIERED_FROM`` domains, every
    ``full_every``-th tick asks for all domains; the ticks in between ask only for the
    ``hot_keys`` (VMs shown in the tree, watched in a Performance tab, named by an alert
    rule) with virDomainListGetStats. A cold VM thus has real samples at a coarser step,
    never invented ones in between. A big host with nothing hot whose own figures nobody
    looks at (``host_hot`` off) rests between its full ticks.

    ``conn`` is an open virConnect. ``executor`` is the connection's worker pool; without
    one the sampler makes a one-thread pool of its own (closed by ``close()``).
    ``groups`` picks what to collect (subset of GROUP_FLAGS: switch "disk" and "net" off
    for huge inventories); "state" is always collected. ``prepare(batch)``, if given, runs
    in the worker thread after each call (e.g. the rate calculation), and its result is
    ``batch.prepared``: the loop thread then only hands the result on.
    """

    def __init__(self, conn: libvirt.virConnect, *,
                 executor: concurrent.futures.Executor | None = None,
                 groups: Iterable[str] = DEFAULT_GROUPS, timeout_s: float = 30.0,
                 active_only: bool = True, host: bool = True, per_core: bool = True,
                 prepare: Callable[[StatsBatch], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn = conn
        self._own_executor = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="hvconsole-stats")
        self.timeout_s = timeout_s
        self.active_only = active_only
        self.host = host
        self.per_core = per_core
        self._clock = clock
        self._nowait = _NOWAIT
        self._per_domain = False  # set for good once the driver lacks the bulk call
        self.prepare = prepare
        # The call under way (asyncio's or the worker's future): ticks never overlap.
        self._inflight: (asyncio.Future[StatsBatch] | concurrent.futures.Future[StatsBatch]
                         | None) = None
        self._run: SamplingRun[StatsBatch] | None = None
        self._skipped = 0
        self.groups = frozenset(groups)
        # Replaced whole (never mutated) by the loop thread, read by the worker.
        self._hot_keys: frozenset[str] = frozenset()
        self._host_hot = True
        self.full_every = FULL_EVERY
        self._tick = 0
        self._last_full_size = 0
        self._hot_handles: dict[str, libvirt.virDomain] = {}
        self._keys = DomainKeys()
        self._running = RunningHandles()
        self._last_full_keys: frozenset[str] = frozenset()
        self.chunk = STATS_CHUNK

    @property
    def hot_keys(self) -> frozenset[str]:
        return self._hot_keys

    @hot_keys.setter
    def hot_keys(self, keys: frozenset[str]) -> None:
        """Set on the loop thread. A resting host wakes for a VM that became hot."""
        keys = frozenset(keys)
        if keys != self._hot_keys:
            self._hot_keys = keys
            self._wake()

    @property
    def host_hot(self) -> bool:
        """The host's own figures wanted every tick (its row or tab is on screen)."""
        return self._host_hot

    @host_hot.setter
    def host_hot(self, on: bool) -> None:
        on = bool(on)
        if on != self._host_hot:
            self._host_hot = on
            self._wake()

    def _wake(self) -> None:
        if self._run is not None:
            self._run.wake()

    @property
    def groups(self) -> frozenset[str]:
        return self._groups

    @groups.setter
    def groups(self, groups: Iterable[str]) -> None:
        groups = frozenset(groups) | {"state"}
        unknown = groups - GROUP_FLAGS.keys()
        if unknown:
            raise ValueError(f"unknown statistics group(s): {', '.join(sorted(unknown))}; "
                             f"choose from {', '.join(sorted(GROUP_FLAGS))}")
        self._groups = groups

    def _stats_flags(self) -> int:
        flags = 0
        for group in self._groups:
            flags |= GROUP_FLAGS[group]
        return flags

    def collect(self) -> StatsBatch:
        """The blocking tick: the bulk call, the host calls and ``prepare``, in one worker
        job. Ticks never overlap, so ``prepare`` may keep state from tick to tick (a rate
        calculator) without a lock."""
        full = self._full_due()
        start = self._clock()
        wall = time.time()
        records = self._domain_stats() if full else self._hot_stats()
        end = self._clock()
        # One instant for every domain of the bulk answer: the middle of the call.
        t = (start + end) / 2
        wall += (end - start) / 2
        keyed = self._keyed(records, full)
        host = read_host_sample(self._conn, t, wall, self.per_core) if self.host else None
        if host is not None and host.cpu_total is None and self._per_domain:
            host = dataclasses.replace(host, domains_cpu_ns=sum(
                rec.get("cpu.time") or 0 for _key, _ident, rec in keyed))
        batch = StatsBatch(t, wall, keyed, host, self._clock() - start, full=full)
        if self.prepare is not None:
            batch.prepared = self.prepare(batch)
        return batch

    def quiet(self) -> bool:
        """A big host that nobody looks at: no hot VM of its own and ``host_hot`` off
        (its row is not on screen, no tab shows it)."""
        return (not self._host_hot and not self._per_domain and self.full_every > 1
                and self._last_full_size > TIERED_FROM
                and not self._hot_keys & self._last_full_keys)

    def resting_at(self, tick: int) -> bool:
        """True for a tick between two full ones of a quiet host. Such a tick is not
        taken at all, not even the host's own figures, which then have a real sample
        every FULL_EVERY ticks like its VMs."""
        return tick % self.full_every != 0 and self.quiet()

    # ---- for the schedule (sampling_schedule.Sampled) ----

    def busy(self) -> bool:
        return self._inflight is not None and not self._inflight.done()

    def submit(self, tick: int) -> concurrent.futures.Future[StatsBatch]:
        self._tick = tick
        call = self._executor.submit(self.collect)
        self._inflight = call
        return call

    def count_skipped(self, ticks: int) -> None:
        self._skipped += ticks

    def take_skipped(self) -> int:
        skipped, self._skipped = self._skipped, 0
        return skipped

    def _full_due(self) -> bool:
        tick, self._tick = self._tick, self._tick + 1
        return (self._per_domain or self.full_every <= 1
                or self._last_full_size <= TIERED_FROM or tick % self.full_every == 0)

    def _keyed(self, records: DomainRecords, full: bool) -> list[RawRecord]:
        """(UUID, running instance id, dict) per domain (stats_keys.py); on a full tick
        also the hot VMs' handles for the ticks between, and what the tiers go by."""
        out = self._keys.key(records, full)
        if full:
            self._hot_handles = DomainKeys.handles_of(records, out, self.hot_keys)
            if self.active_only:
                self._running.learn(records, out)
            self._last_full_size = len(out)
            self._last_full_keys = frozenset(map(itemgetter(0), out))
        return out

    def _chunked_stats(self) -> DomainRecords:
        """Every domain's records in bulk calls of ``chunk`` domains. libvirt-python turns
        a whole answer into dicts in one C call that holds the GIL: for 10,000 QEMU
        domains that is far longer than the UI may wait; between two chunks the GIL is
        offered to the other threads."""
        listed = (self._running.listed(self._conn) if self.active_only
                  else self._conn.listAllDomains(0))
        flags = self._stats_flags()
        records: DomainRecords = []
        for start in range(0, len(listed), self.chunk):
            part = listed[start:start + self.chunk]
            try:
                records += self._conn.domainListGetStats(part, flags, self._nowait)
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
                # One of them went away since the listing: the rest, one call each.
                for dom in part:
                    try:
                        records += self._conn.domainListGetStats([dom], flags, self._nowait)
                    except libvirt.libvirtError as one:
                        if one.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                            raise
            time.sleep(0)
        return records

    def _hot_stats(self) -> DomainRecords:
        """The hot domains' records (virDomainListGetStats). A VM that became hot since
        the last full tick is looked up once (only one that tick reported: ``hot_keys`` may
        name VMs of other hosts, or stopped ones); one that has gone away since is left for
        the next full tick."""
        hot = self.hot_keys
        handles = {k: d for k, d in self._hot_handles.items() if k in hot}
        for key in (hot & self._last_full_keys) - handles.keys():
            try:
                handles[key] = self._conn.lookupByUUIDString(key)
            except libvirt.libvirtError:
                continue
        self._hot_handles = handles
        if not handles:
            return []
        try:
            return self._conn.domainListGetStats(list(handles.values()),
                                                 self._stats_flags(), self._nowait)
        except libvirt.libvirtError as err:
            # A hot VM vanished under us: drop the handles; the next full tick re-learns.
            log.debug("statistics of the shown VMs failed: %s", err.get_error_message())
            self._hot_handles = {}
            return []

    def _domain_stats(self) -> DomainRecords:
        if self._per_domain:
            return per_domain_stats(self._conn, self.active_only)
        list_flags = self._nowait | (_ACTIVE if self.active_only else 0)
        try:
            if self._last_full_size > self.chunk:
                return self._chunked_stats()
            return self._conn.getAllDomainStats(self._stats_flags(), list_flags)
        except libvirt.libvirtError as err:
            code = err.get_error_code()
            if code not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise
            if not self._nowait:  # the driver has no bulk call at all (Xen's libxl)
                self._per_domain = True
                return per_domain_stats(self._conn, self.active_only)
        # A libvirtd older than 4.5 rejects NOWAIT: ask again without it, for good.
        self._nowait = 0
        return self._domain_stats()

    async def sample_once(self) -> StatsBatch:
        """One tick off the loop. Raises SamplerBusy while the previous call still runs,
        asyncio.TimeoutError after ``timeout_s``, libvirt.libvirtError from libvirt."""
        if self.busy():
            raise SamplerBusy("the previous statistics call has not returned yet")
        loop = asyncio.get_running_loop()
        self._inflight = inflight = loop.run_in_executor(self._executor, self.collect)
        # A call abandoned by stop() or a timeout may still fail later (its connection
        # closed meanwhile): nobody awaits it any more, so mark its error as seen.
        inflight.add_done_callback(lambda f: f.cancelled() or f.exception())
        # shield: on timeout the thread keeps running; _inflight stays pending until it
        # ends, so the next tick is skipped instead of stacking a second call on it.
        batch = await asyncio.wait_for(asyncio.shield(inflight), self.timeout_s)
        skipped = self.take_skipped()
        if skipped:
            batch.skipped_ticks = skipped
        return batch

    def start(self, callback: Callable[[StatsBatch], object], interval_s: float,
              on_error: Callable[[BaseException], object] | None = None,
              phase_s: float = 0.0) -> asyncio.Future[None]:
        """Tick every ``interval_s`` on a fixed grid, the first tick ``phase_s`` from now
        (hosts given different phases do not all hold the GIL at the same instant, which
        the UI would feel as one long stall), replacing a running schedule. Each batch
        goes to ``callback`` on the loop; a failed call, a timeout or a fault in the
        callback goes to ``on_error`` and the ticks go on. The returned future is
        cancelled by ``stop()`` and fails only if the schedule itself broke."""
        if self._run is not None:
            self._run.halt()
        self._run = SamplingRun(self, asyncio.get_running_loop(), callback, interval_s,
                                on_error, phase_s)
        return self._run.done

    async def stop(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            run.halt()

    @property
    def running(self) -> bool:
        return self._run is not None and self._run.active

    def close(self) -> None:
        """Stop using the own thread pool (does not wait for a stuck call) and let the
        kept handles go (off this thread)."""
        if self._run is not None:
            self._run.halt()
        self._running.release()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

