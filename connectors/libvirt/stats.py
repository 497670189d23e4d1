"""Live performance counters of one libvirt connection: one bulk call per tick, plain records.

Why one bulk call: virConnectGetAllDomainStats answers for every domain in a single RPC,
so a host with 10,000 VMs costs one round trip per tick instead of 10,000. The records
hold raw counters (nanoseconds of CPU, bytes, requests) exactly as libvirt reported them;
turning them into rates is app/perf/rates.py's job. A field libvirt did not report is
None (the test driver only reports state, Xen lacks balloon RSS, a shut-off disk has no
I/O counters) — inventing a zero would draw a false "idle" line.

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
import logging
import time
from operator import itemgetter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import libvirt

from connectors.libvirt.sampling_schedule import SamplingRun

log = logging.getLogger(__name__)

# (rd_bytes, wr_bytes, rd_reqs, wr_reqs); an item is None when libvirt did not report it.
DiskCounters = tuple[int | None, int | None, int | None, int | None]
# (rx_bytes, tx_bytes)
NetCounters = tuple[int | None, int | None]

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
_NOWAIT = getattr(libvirt, "VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT", 0)
_ACTIVE = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE


@dataclass(slots=True)
class DomainSample:
    """Raw counters of one domain at one instant. ``t`` is time.monotonic() (for rates),
    ``wall`` is time.time() (for history). ``domain_id`` changes whenever a VM restarts,
    which tells a counter reset from growth even when the new counter is already larger.
    Treat it as read-only (not frozen: a frozen dataclass's __init__ costs twice as much).
    """

    key: str                                   # the domain's UUID
    t: float
    wall: float
    state: int | None                          # libvirt VIR_DOMAIN_* code
    domain_id: int | None = None
    cpu_time_ns: int | None = None
    vcpu_times_ns: tuple[int | None, ...] | None = None
    balloon_current_kib: int | None = None
    balloon_maximum_kib: int | None = None
    balloon_rss_kib: int | None = None
    balloon_available_kib: int | None = None  # guest's view; needs a balloon driver inside
    balloon_unused_kib: int | None = None
    disk: dict[str, DiskCounters] | None = None  # None: not collected/reported at all
    net: dict[str, NetCounters] | None = None


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Host CPU time counters in nanoseconds (virNodeGetCPUStats)."""

    kernel: int | None
    user: int | None
    idle: int | None
    iowait: int | None


@dataclass(frozen=True, slots=True)
class HostSample:
    t: float
    wall: float
    cpu_total: CpuTimes | None
    cpu_per_core: tuple[CpuTimes | None, ...] | None  # index = host CPU number (online ones)
    mem_total_kib: int | None
    mem_free_kib: int | None
    mem_cached_kib: int | None
    mem_buffers_kib: int | None
    # Where the driver has no host CPU statistics (Xen): the CPU time of every running
    # domain, the control domain included, summed, and the host's CPU count. Xen's busy
    # time is exactly that sum (its idle domain is not listed), as xentop counts it.
    domains_cpu_ns: int | None = None
    cpus: int | None = None


# One domain of a bulk answer: (UUID, running instance id or None, libvirt's stats dict).
RawRecord = tuple[str, "int | None", dict]


@dataclass(slots=True)
class StatsBatch:
    """What one tick produced. ``elapsed_s`` is how long the bulk call took; ``t`` and
    ``wall`` are the middle of the call, the one instant given to every domain in it.

    ``records`` are libvirt's dicts as returned; ``domains`` parses them into
    DomainSample on first use. The rate calculator reads ``records`` column-wise instead,
    which at 10,000 VMs is several times cheaper than building 10,000 objects a tick.
    ``prepared`` holds what the sampler's ``prepare`` hook returned (run in the worker).
    """

    t: float
    wall: float
    records: list[RawRecord]
    host: HostSample | None
    elapsed_s: float
    skipped_ticks: int = 0  # ticks dropped since the previous batch (slow or stuck call)
    prepared: Any = None
    # True: every domain the filter selects is in ``records``; False: only the "hot" ones
    # (shown or watched) of a tick between two full ones (see StatsSampler.full_every).
    full: bool = True
    _domains: list[DomainSample] | None = None

    @property
    def domains(self) -> list[DomainSample]:
        if self._domains is None:
            t, wall = self.t, self.wall
            self._domains = [parse_domain_stats(key, rec, t, wall, ident)
                             for key, ident, rec in self.records]
        return self._domains


class SamplerBusy(RuntimeError):
    """The previous call has not returned yet (a slow or unreachable host)."""


# Pre-built key names: formatting "block.%d.rd.bytes" per device per tick costs more than
# the dictionary lookups themselves at 10,000 VMs.
_MAX_CACHED = 64
_VCPU_KEYS = [f"vcpu.{i}.time" for i in range(_MAX_CACHED)]
_BLOCK_KEYS = [(f"block.{i}.name", f"block.{i}.rd.bytes", f"block.{i}.wr.bytes",
                f"block.{i}.rd.reqs", f"block.{i}.wr.reqs") for i in range(_MAX_CACHED)]
_NET_KEYS = [(f"net.{i}.name", f"net.{i}.rx.bytes", f"net.{i}.tx.bytes")
             for i in range(_MAX_CACHED)]


def _vcpu_key(i: int) -> str:
    return _VCPU_KEYS[i] if i < _MAX_CACHED else f"vcpu.{i}.time"


def _block_keys(i: int) -> tuple[str, ...]:
    return _BLOCK_KEYS[i] if i < _MAX_CACHED else (
        f"block.{i}.name", f"block.{i}.rd.bytes", f"block.{i}.wr.bytes",
        f"block.{i}.rd.reqs", f"block.{i}.wr.reqs")


def _net_keys(i: int) -> tuple[str, ...]:
    return _NET_KEYS[i] if i < _MAX_CACHED else (
        f"net.{i}.name", f"net.{i}.rx.bytes", f"net.{i}.tx.bytes")


_CORE_KEYS = ("state.state", "cpu.time", "vcpu.current", "balloon.current",
              "balloon.maximum", "balloon.rss")
_get_core = itemgetter(*_CORE_KEYS)
_get_block = [itemgetter(*keys) for keys in _BLOCK_KEYS]
_get_net = [itemgetter(*keys) for keys in _NET_KEYS]


def block_keys(i: int) -> tuple[str, ...]:
    """Record keys of block device ``i``: name, rd.bytes, wr.bytes, rd.reqs, wr.reqs."""
    return _block_keys(i)


def net_keys(i: int) -> tuple[str, ...]:
    """Record keys of interface ``i``: name, rx.bytes, tx.bytes."""
    return _net_keys(i)


def vcpu_time_keys(count: int) -> list[str]:
    """The record keys of vCPU 0..count-1's time (libvirt reports online vCPUs only)."""
    return _VCPU_KEYS[:count] if count <= _MAX_CACHED else [_vcpu_key(i)
                                                            for i in range(count)]


def block_values(record: dict[str, Any], i: int) -> tuple:
    """(name, rd_bytes, wr_bytes, rd_reqs, wr_reqs) of block device ``i``; None where
    absent. One itemgetter (a single C call) for the usual complete record, key-by-key
    .get() otherwise: this runs for every disk of 10,000 VMs a tick."""
    try:
        return _get_block[i](record)
    except (KeyError, IndexError):
        return tuple(map(record.get, _block_keys(i)))


def net_values(record: dict[str, Any], i: int) -> tuple | None:
    """(name, rx_bytes, tx_bytes) of interface ``i``, or None for an interface without a
    host-side device (user networking), for which libvirt reports nothing."""
    try:
        return _get_net[i](record)
    except (KeyError, IndexError):
        values = tuple(map(record.get, _net_keys(i)))
        return None if values == (None, None, None) else values


def parse_domain_stats(key: str, record: dict[str, Any], t: float, wall: float,
                       domain_id: int | None = None) -> DomainSample:
    """One getAllDomainStats record (the dict) → DomainSample; absent keys become None.

    Block devices are listed by their target name ("vda"), NICs by their host-side
    device name ("vnet3"), the names a user sees in the domain's details.
    """
    get = record.get
    try:
        state, cpu, vcpus, current, maximum, rss = _get_core(record)
    except KeyError:
        state, cpu, vcpus, current, maximum, rss = map(get, _CORE_KEYS)
    vcpu_times = None
    if vcpus is not None:
        vcpu_times = tuple(map(get, vcpu_time_keys(vcpus)))
    disk = None
    count = get("block.count")
    if count is not None:
        disk = {}
        for i in range(count):
            values = block_values(record, i)
            disk[values[0] or str(i)] = values[1:]
    net = None
    count = get("net.count")
    if count is not None:
        net = {}
        for i in range(count):
            values = net_values(record, i)
            if values is not None:
                net[values[0] or str(i)] = values[1:]
    return DomainSample(key, t, wall, state, domain_id, cpu, vcpu_times, current, maximum,
                        rss, get("balloon.available"), get("balloon.unused"), disk, net)


def _cpu_times(d: dict[str, int] | None) -> CpuTimes | None:
    if not d:
        return None
    return CpuTimes(d.get("kernel"), d.get("user"), d.get("idle"), d.get("iowait"))


def _optional_call(fn: Callable[[], Any]) -> Any:
    """A host figure some drivers do not implement (the test driver has no memory stats)."""
    try:
        return fn()
    except libvirt.libvirtError as err:
        log.debug("host statistic not available: %s", err.get_error_message())
        return None


def read_host_sample(conn: libvirt.virConnect, t: float, wall: float,
                     per_core: bool = True) -> HostSample:
    """Host CPU (total and per online core) and memory. Blocking: call it in a worker."""
    total = _cpu_times(_optional_call(
        lambda: conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)))
    cores = None
    if per_core:
        cpu_map = _optional_call(conn.getCPUMap)
        if cpu_map is not None:
            _count, online, _n = cpu_map
            cores = tuple(_cpu_times(_optional_call(lambda i=i: conn.getCPUStats(i)))
                          if up else None for i, up in enumerate(online))
    mem = _optional_call(
        lambda: conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS))
    info = None
    if not mem or total is None:
        info = _optional_call(conn.getInfo)
    if not mem:
        mem = _hypervisor_memory(conn, info)
    cpus = info[2] if total is None and info and info[2] > 0 else None
    return HostSample(t, wall, total, cores, mem.get("total"), mem.get("free"),
                      mem.get("cached"), mem.get("buffers"), cpus=cpus)


def _hypervisor_memory(conn: libvirt.virConnect, info: list | None) -> dict[str, int]:
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


def per_domain_stats(conn: libvirt.virConnect, active_only: bool = True
                     ) -> list[tuple[libvirt.virDomain, dict]]:
    """The bulk call's records, built from one virDomainGetInfo per domain.

    libvirt's Xen driver (libxl, libvirt 9.0) has no virConnectGetAllDomainStats, but
    virDomainGetInfo gives the state, the CPU time, the vCPU count and the current and
    maximum memory in one call. Disk and network counters would take one call per
    device and are left out (unknown, not zero); so is memory use inside the guest.
    A domain that vanished between the listing and its call is left out of the tick.
    """
    flags = libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE if active_only else 0
    records = []
    for dom in conn.listAllDomains(flags):
        try:
            state, maximum, current, vcpus, cpu_time = dom.info()
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


def _domain_id(dom: libvirt.virDomain) -> int | None:
    """The running instance's id (a local field of the handle, no RPC); None when off."""
    try:
        ident = dom.ID()
    except libvirt.libvirtError:
        return None
    return ident if ident >= 0 else None


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
        self._inflight: asyncio.Future | concurrent.futures.Future | None = None
        self._run: SamplingRun | None = None
        self._skipped = 0
        self.groups = frozenset(groups)
        # Replaced whole (never mutated) by the loop thread, read by the worker.
        self._hot_keys: frozenset[str] = frozenset()
        self._host_hot = True
        self.full_every = FULL_EVERY
        self._tick = 0
        self._last_full_size = 0
        self._hot_handles: dict[str, libvirt.virDomain] = {}
        self._uuids: dict[tuple[str, int], str] = {}
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
        records = self._keyed(records, full)
        host = read_host_sample(self._conn, t, wall, self.per_core) if self.host else None
        if host is not None and host.cpu_total is None and self._per_domain:
            host = dataclasses.replace(host, domains_cpu_ns=sum(
                rec.get("cpu.time") or 0 for _key, _ident, rec in records))
        batch = StatsBatch(t, wall, records, host, self._clock() - start, full=full)
        if self.prepare is not None:
            batch.prepared = self.prepare(batch)
        return batch

    def quiet(self) -> bool:
        """A big host that nobody looks at: no hot VM of its own and ``host_hot`` off
        (its row is not on screen, no tab shows it)."""
        return (not self._host_hot and not self._per_domain and self.full_every > 1
                and self._last_full_size > TIERED_FROM
                and not self._hot_keys & self._last_full_keys)

    def resting(self) -> bool:
        """True for a tick between two full ones of a quiet host. Such a tick is not
        taken at all, not even the host's own figures, which then have a real sample
        every FULL_EVERY ticks like its VMs."""
        return self._tick % self.full_every != 0 and self.quiet()

    def _full_due(self) -> bool:
        tick, self._tick = self._tick, self._tick + 1
        return (self._per_domain or self.full_every <= 1
                or self._last_full_size <= TIERED_FROM or tick % self.full_every == 0)

    def _keyed(self, records: list[tuple[libvirt.virDomain, dict]], full: bool
               ) -> list[RawRecord]:
        """(UUID, running instance id, dict) per domain. A running instance's UUID is
        remembered by (name, id): the name is a local field of the handle while the
        UUID string is formatted anew on every call, which at 10,000 domains a tick is
        most of this loop. An id is never reused while libvirtd runs; a shut-off domain
        (no id) is always asked."""
        uuids = self._uuids
        seen: dict[tuple[str, int], str] = {}
        out = []
        hot = self.hot_keys
        handles: dict[str, libvirt.virDomain] = {}
        for dom, rec in records:
            ident = _domain_id(dom)
            if ident is None:
                key = dom.UUIDString()
            else:
                pair = (dom.name(), ident)
                key = uuids.get(pair)
                if key is None:
                    key = dom.UUIDString()
                seen[pair] = key
            if full and key in hot:
                handles[key] = dom
            out.append((key, ident, rec))
        if full:
            self._uuids = seen            # forget domains that are gone
            self._hot_handles = handles
            self._last_full_size = len(out)
            self._last_full_keys = frozenset(r[0] for r in out)
        else:
            uuids.update(seen)
        return out

    def _chunked_stats(self) -> list[tuple[libvirt.virDomain, dict]]:
        """Every domain's records in bulk calls of ``chunk`` domains. libvirt-python turns
        a whole answer into dicts in one C call that holds the GIL: for 10,000 QEMU
        domains that is far longer than the UI may wait; between two chunks the GIL is
        offered to the other threads."""
        listed = self._conn.listAllDomains(
            libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE if self.active_only else 0)
        flags = self._stats_flags()
        records: list[tuple[libvirt.virDomain, dict]] = []
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

    def _hot_stats(self) -> list[tuple[libvirt.virDomain, dict]]:
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

    def _domain_stats(self) -> list[tuple[libvirt.virDomain, dict]]:
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
        if self._inflight is not None and not self._inflight.done():
            raise SamplerBusy("the previous statistics call has not returned yet")
        loop = asyncio.get_running_loop()
        self._inflight = loop.run_in_executor(self._executor, self.collect)
        # A call abandoned by stop() or a timeout may still fail later (its connection
        # closed meanwhile): nobody awaits it any more, so mark its error as seen.
        self._inflight.add_done_callback(lambda f: f.cancelled() or f.exception())
        # shield: on timeout the thread keeps running; _inflight stays pending until it
        # ends, so the next tick is skipped instead of stacking a second call on it.
        batch = await asyncio.wait_for(asyncio.shield(self._inflight), self.timeout_s)
        if self._skipped:
            batch.skipped_ticks = self._skipped
            self._skipped = 0
        return batch

    def start(self, callback: Callable[[StatsBatch], Any], interval_s: float,
              on_error: Callable[[BaseException], Any] | None = None,
              phase_s: float = 0.0) -> asyncio.Future:
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
        """Stop using the own thread pool (does not wait for a stuck call)."""
        if self._run is not None:
            self._run.halt()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

