"""What one statistics tick holds: libvirt's raw counters, and their parsing into records.

The records hold raw counters (nanoseconds of CPU, bytes, requests) exactly as libvirt
reported them; turning them into rates is app/perf/rates.py's job. A field libvirt did not
report is None (the test driver only reports state, Xen lacks balloon RSS, a shut-off disk
has no I/O counters): inventing a zero would draw a false "idle" line. The sampler that
takes the ticks is stats.py.

No libvirt calls and no Qt here.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

# (rd_bytes, wr_bytes, rd_reqs, wr_reqs); an item is None when libvirt did not report it.
DiskCounters = tuple[int | None, int | None, int | None, int | None]
# (rx_bytes, tx_bytes)
NetCounters = tuple[int | None, int | None]
# One domain's record as libvirt-python returns it (its own annotation): ints, floats and
# strings by key ("state.state", "block.0.name", "cpu.time", ...).
StatsDict = dict[str, Any]
# (name, rd_bytes, wr_bytes, rd_reqs, wr_reqs) and (name, rx_bytes, tx_bytes)
BlockValues = tuple[str | None, int | None, int | None, int | None, int | None]
NetValues = tuple[str | None, int | None, int | None]


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
RawRecord = tuple[str, "int | None", StatsDict]


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


def block_values(record: StatsDict, i: int) -> BlockValues:
    """(name, rd_bytes, wr_bytes, rd_reqs, wr_reqs) of block device ``i``; None where
    absent. One itemgetter (a single C call) for the usual complete record, key-by-key
    .get() otherwise: this runs for every disk of 10,000 VMs a tick."""
    values: BlockValues
    try:
        values = _get_block[i](record)
    except (KeyError, IndexError):
        name, rd_bytes, wr_bytes, rd_reqs, wr_reqs = map(record.get, _block_keys(i))
        values = (name, rd_bytes, wr_bytes, rd_reqs, wr_reqs)
    return values


def net_values(record: StatsDict, i: int) -> NetValues | None:
    """(name, rx_bytes, tx_bytes) of interface ``i``, or None for an interface without a
    host-side device (user networking), for which libvirt reports nothing."""
    values: NetValues
    try:
        values = _get_net[i](record)
    except (KeyError, IndexError):
        name, rx_bytes, tx_bytes = map(record.get, _net_keys(i))
        values = (name, rx_bytes, tx_bytes)
        return None if values == (None, None, None) else values
    return values


def parse_domain_stats(key: str, record: StatsDict, t: float, wall: float,
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
            nic = net_values(record, i)
            if nic is not None:
                net[nic[0] or str(i)] = nic[1:]
    return DomainSample(key, t, wall, state, domain_id, cpu, vcpu_times, current, maximum,
                        rss, get("balloon.available"), get("balloon.unused"), disk, net)
