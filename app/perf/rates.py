"""Counters → rates: CPU %, memory, disk and network throughput per VM and per host.

libvirt reports monotonic counters (CPU nanoseconds, bytes, requests). A rate is the
difference of two consecutive samples of the same running VM instance divided by the
time between them. Everything that would make that difference a lie becomes a gap (NaN),
never an interpolated or clamped-to-zero value:

- no previous sample of the VM (first tick, VM just appeared, or a device just appeared),
- the VM restarted (its domain id changed, or a counter went backwards),
- the time step is not positive or longer than ``max_gap_s`` (clock jump, long stall),
- libvirt did not report the counter (None in the sample).

A paused VM's CPU counter stands still: that is a real 0 %, not a gap.

Everything is column-wise with numpy over all VMs of a tick at once (one array per
metric, row i = the i-th VM of the tick). Per-device (disk, NIC) and per-vCPU rates are
flattened into one array each with an ``owner`` row index and summed per VM with
np.bincount (one device per VM, the usual tick, needs no sum). The columns come from
app/perf/columns.py, which reads libvirt's dicts key by key in C: reading them is most
of a tick's rate work, about as much as the floor's bare parse of the same answer
(benchmarks/stats_tick.py). tests/unit/reference_rates.py keeps the implementation this
one replaced; both must give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Sequence

import numpy as np

from app.perf.columns import Devices, DomainColumns, floats
from connectors.libvirt.stats import DomainSample, HostSample, StatsBatch

NAN = float("nan")

# The per-VM series every tick produces (names used by ring buffers and history).
VM_METRICS = ("cpu_percent", "mem_assigned_kib", "mem_used_kib", "mem_rss_kib",
              "disk_rd_bps", "disk_wr_bps", "disk_rd_iops", "disk_wr_iops",
              "net_rx_bps", "net_tx_bps")
HOST_METRICS = ("cpu_percent", "mem_total_kib", "mem_used_kib", "mem_free_kib",
                "mem_cached_kib")


def _device_rates(cur: Devices, prev: Devices | None, prev_row: np.ndarray,
                  valid: np.ndarray, dt: np.ndarray, aligned: bool) -> np.ndarray:
    """Rates per flat device row (NaN where the device has no usable previous sample)."""
    k, width = cur.counters.shape
    if k == 0 or prev is None or prev.counters.shape[0] == 0:
        return np.full((k, width), NAN)
    owner_valid = valid[cur.owner]
    if aligned and np.array_equal(cur.count, prev.count) and cur.names == prev.names:
        # The usual tick: same VMs with the same devices in the same order.
        prev_pos = np.arange(k)
        same = np.ones(len(cur.count), dtype=bool)
    else:
        # Vectorised where a VM's device list is unchanged: rows line up one to one.
        same = np.fromiter((ok and cur.vm_names(i) == prev.vm_names(p) for i, (ok, p)
                            in enumerate(zip(valid.tolist(), prev_row.tolist(), strict=True))),
                           dtype=bool, count=len(cur.count))
        local = np.arange(k) - cur.offset[cur.owner]
        prev_pos = np.where(same[cur.owner], prev.offset[prev_row[cur.owner]] + local, -1)
    # Slow path: a disk or NIC was added or removed: match that VM's devices by name.
    for row in np.flatnonzero(valid & ~same & (cur.count > 0)).tolist():
        p = prev_row[row]
        where = {name: prev.offset[p] + j for j, name in enumerate(prev.vm_names(p))}
        start = cur.offset[row]
        for j, name in enumerate(cur.vm_names(row)):
            prev_pos[start + j] = where.get(name, -1)
    usable = owner_valid & (prev_pos >= 0)
    delta = cur.counters - prev.counters[np.where(usable, prev_pos, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = delta / dt[cur.owner][:, None]
    rates[~usable] = NAN
    rates[rates < 0] = NAN  # a counter went back: device re-plugged or VM restarted
    return rates


def _sum_per_vm(rates: np.ndarray, devices: Devices, valid: np.ndarray,
                n: int) -> np.ndarray:
    """Per-VM sums of device rates (n × width). NaN when no device of the VM has a rate;
    a VM that reports the group but has no device at all has a real 0."""
    width = rates.shape[1]
    finite = np.isfinite(rates)
    if len(rates) == n and (devices.count == 1).all():
        # One device per VM (the usual tick): its rate is the sum, row for row.
        return np.where(finite, rates, NAN)
    out = np.empty((n, width))
    zero_devices = valid & devices.reported & (devices.count == 0)
    for c in range(width):
        sums = np.bincount(devices.owner, weights=np.where(finite[:, c], rates[:, c], 0.0),
                           minlength=n)
        seen = np.bincount(devices.owner, weights=finite[:, c], minlength=n)
        out[:, c] = np.where(seen > 0, sums, np.where(zero_devices, 0.0, NAN))
    return out


@dataclass(slots=True)
class DomainRates:
    """Rates of all VMs of one tick, column-wise (row i = ``keys[i]``). NaN = gap/unknown.

    ``dt`` is the seconds each rate spans. CPU figures are percent of the VM's own vCPUs
    (100 = every vCPU busy all the time), clipped to 0..100 because the emulator threads'
    time is included in libvirt's cpu.time. Memory is KiB. Disk/net are per second.
    """

    t: float
    wall: float
    keys: list[str]
    index: dict[str, int]
    dt: np.ndarray
    state: np.ndarray
    vcpus: np.ndarray
    cpu_percent: np.ndarray
    mem_assigned_kib: np.ndarray    # balloon.current: what the VM has now
    mem_maximum_kib: np.ndarray     # balloon.maximum
    mem_used_kib: np.ndarray        # guest's available - unused (needs guest balloon stats)
    mem_rss_kib: np.ndarray         # host RSS of the QEMU process
    disk_rd_bps: np.ndarray
    disk_wr_bps: np.ndarray
    disk_rd_iops: np.ndarray
    disk_wr_iops: np.ndarray
    net_rx_bps: np.ndarray
    net_tx_bps: np.ndarray
    vcpu_owner: np.ndarray          # flat per-vCPU rows
    vcpu_percent: np.ndarray
    disk_owner: np.ndarray          # flat per-disk rows: owner, names, rates (rd_bps,
    disk_names: list[str]           #   wr_bps, rd_iops, wr_iops)
    disk_rates: np.ndarray
    net_owner: np.ndarray           # flat per-NIC rows: (rx_bps, tx_bps)
    net_names: list[str]
    net_rates: np.ndarray

    def metrics(self) -> dict[str, np.ndarray]:
        """The VM_METRICS columns by name (for ring buffers and history)."""
        return {name: getattr(self, name) for name in VM_METRICS}

    def vcpu_percent_of(self, key: str) -> np.ndarray:
        return self.vcpu_percent[self.vcpu_owner == self.index[key]]

    def disks_of(self, key: str) -> dict[str, tuple[float, float, float, float]]:
        rows = np.flatnonzero(self.disk_owner == self.index[key])
        return {self.disk_names[r]: tuple(self.disk_rates[r].tolist()) for r in rows}

    def nics_of(self, key: str) -> dict[str, tuple[float, float]]:
        rows = np.flatnonzero(self.net_owner == self.index[key])
        return {self.net_names[r]: tuple(self.net_rates[r].tolist()) for r in rows}


@dataclass(slots=True)
class _DomainState:
    keys: list[str]
    index: dict[str, int]
    t: np.ndarray
    domain_id: np.ndarray
    cpu: np.ndarray
    vcpu_count: np.ndarray
    vcpu_offset: np.ndarray
    vcpu_times: np.ndarray
    disks: Devices
    nets: Devices


class DomainRateCalculator:
    """Keeps the previous tick of one connection and turns each new tick into rates."""

    def __init__(self, max_gap_s: float = 60.0) -> None:
        self.max_gap_s = max_gap_s
        self._prev: _DomainState | None = None

    def reset(self) -> None:
        """Forget the previous tick (after a reconnect: counters may have restarted)."""
        self._prev = None

    def update(self, samples: Sequence[DomainSample]) -> DomainRates:
        return self.update_columns(DomainColumns.from_samples(samples))

    def update_batch(self, batch: StatsBatch) -> DomainRates:
        """The fast path for a sampler's tick: reads the raw records column-wise."""
        return self.update_columns(DomainColumns.from_records(batch.records, batch.t,
                                                              batch.wall))

    def update_columns(self, c: DomainColumns) -> DomainRates:
        keys = c.keys
        n = len(keys)
        prev = self._prev
        aligned = prev is not None and keys == prev.keys  # same VMs, same order
        # The same keys map to the same rows: the previous tick's index serves again.
        index = (prev.index if prev is not None and aligned
                 else dict(zip(keys, range(n), strict=True)))
        t, domain_id, cpu, state = c.t, c.domain_id, c.cpu, c.state
        vcount, vflat = c.vcpu_count, c.vcpu_times
        voffset = np.cumsum(vcount) - vcount
        disks, nets = c.disks, c.nets

        if prev is None:
            prev_row = np.full(n, -1, dtype=np.int64)
        elif aligned:
            prev_row = np.arange(n, dtype=np.int64)
        else:
            prev_row = np.fromiter(map(prev.index.get, keys, repeat(-1)), dtype=np.int64,
                                   count=n)
        has_prev = prev_row >= 0
        pr = np.where(has_prev, prev_row, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            if prev is not None and len(prev.t):
                dt = t - prev.t[pr]
                restarted = ((domain_id != prev.domain_id[pr])
                             & np.isfinite(domain_id) & np.isfinite(prev.domain_id[pr]))
                cpu_delta = cpu - prev.cpu[pr]
            else:
                dt = np.full(n, NAN)
                restarted = np.zeros(n, dtype=bool)
                cpu_delta = np.full(n, NAN)
            valid = has_prev & (dt > 0) & (dt <= self.max_gap_s) & ~restarted
            dt = np.where(valid, dt, NAN)

            cpu_delta[cpu_delta < 0] = NAN
            cpu_pct = cpu_delta / (dt * 1e9 * np.where(vcount > 0, vcount, NAN)) * 100.0
            np.clip(cpu_pct, 0.0, 100.0, out=cpu_pct)

            # Per-vCPU: only where the VM still has the same number of vCPUs.
            vowner = np.repeat(np.arange(n), vcount)
            if prev is not None and len(prev.vcpu_times) and len(vflat):
                same = valid & (vcount == prev.vcpu_count[pr])
                local = np.arange(len(vflat)) - voffset[vowner]
                ppos = prev.vcpu_offset[pr][vowner] + local
                usable = same[vowner]
                vdelta = vflat - prev.vcpu_times[np.where(usable, ppos, 0)]
                vdelta[~usable] = NAN
                vdelta[vdelta < 0] = NAN
                vpct = vdelta / (dt[vowner] * 1e9) * 100.0
                np.clip(vpct, 0.0, 100.0, out=vpct)
            else:
                vpct = np.full(len(vflat), NAN)

            disk_rates = _device_rates(disks, prev.disks if prev else None, pr, valid, dt,
                                       aligned)
            net_rates = _device_rates(nets, prev.nets if prev else None, pr, valid, dt,
                                      aligned)
        disk_sum = _sum_per_vm(disk_rates, disks, valid, n)
        net_sum = _sum_per_vm(net_rates, nets, valid, n)

        self._prev = _DomainState(keys, index, t, domain_id, cpu, vcount, voffset, vflat,
                                  disks, nets)
        return DomainRates(
            t=float(t[0]) if n else NAN, wall=c.wall,
            keys=keys, index=index, dt=dt, state=state, vcpus=vcount, cpu_percent=cpu_pct,
            mem_assigned_kib=c.balloon_current, mem_maximum_kib=c.balloon_maximum,
            mem_used_kib=c.balloon_available - c.balloon_unused, mem_rss_kib=c.balloon_rss,
            disk_rd_bps=disk_sum[:, 0], disk_wr_bps=disk_sum[:, 1],
            disk_rd_iops=disk_sum[:, 2], disk_wr_iops=disk_sum[:, 3],
            net_rx_bps=net_sum[:, 0], net_tx_bps=net_sum[:, 1],
            vcpu_owner=vowner, vcpu_percent=vpct,
            disk_owner=disks.owner, disk_names=disks.names,
            disk_rates=disk_rates,
            net_owner=nets.owner, net_names=nets.names,
            net_rates=net_rates)


@dataclass(frozen=True, slots=True)
class HostRates:
    """Host figures of one tick. CPU % is busy time (kernel + user) over all time spent
    (kernel + user + idle + iowait) since the previous sample; per core as an array indexed
    by host CPU number (NaN for offline cores). Memory in KiB; used = total - free -
    cached - buffers, as free(1) counts it (cached and buffers count as 0 where the driver
    does not report them). Without host CPU counters (Xen) the total CPU % is the
    domains' summed CPU time over the host's CPUs, and per-core stays unknown."""

    t: float
    wall: float
    dt: float
    cpu_percent: float
    cpu_percent_per_core: np.ndarray
    mem_total_kib: float
    mem_used_kib: float
    mem_free_kib: float
    mem_cached_kib: float
    mem_buffers_kib: float

    def metrics(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in HOST_METRICS}


def _cpu_matrix(sample: HostSample) -> np.ndarray:
    """Rows: total, then each core; columns: kernel, user, idle, iowait (NaN = unknown)."""
    rows = [sample.cpu_total] + list(sample.cpu_per_core or ())
    return floats([(c.kernel, c.user, c.idle, c.iowait) if c is not None
                    else (None, None, None, None) for c in rows])


class HostRateCalculator:
    """``memory_use_known`` False: the host's total memory is real but its free memory is
    not (libvirt's test driver answers virNodeGetFreeMemory with 0 for a host read from a
    file): used and free are then unknown, not "all of it used"."""

    def __init__(self, max_gap_s: float = 60.0, memory_use_known: bool = True) -> None:
        self.max_gap_s = max_gap_s
        self.memory_use_known = memory_use_known
        self._prev: tuple[float, np.ndarray, int | None] | None = None

    def reset(self) -> None:
        self._prev = None

    def update(self, sample: HostSample) -> HostRates:
        cpu = _cpu_matrix(sample)
        pct = np.full(len(cpu), NAN)
        dt = NAN
        if self._prev is not None:
            prev_t, prev_cpu, prev_domains = self._prev
            step = sample.t - prev_t
            if (0 < step <= self.max_gap_s and sample.cpu_total is None
                    and sample.cpus and sample.domains_cpu_ns is not None
                    and prev_domains is not None):
                dt = step
                # A domain that ended takes its CPU time out of the sum: a gap, not 0 %.
                busy = sample.domains_cpu_ns - prev_domains
                if busy >= 0:
                    pct[0] = min(100.0, busy / (step * 1e9 * sample.cpus) * 100.0)
            elif 0 < step <= self.max_gap_s and prev_cpu.shape == cpu.shape:
                dt = step
                delta = cpu - prev_cpu
                # iowait may be unknown on some drivers: count it as 0 of both sides then.
                delta[:, 3] = np.nan_to_num(delta[:, 3])
                busy = delta[:, 0] + delta[:, 1]
                total = busy + delta[:, 2] + delta[:, 3]
                with np.errstate(invalid="ignore", divide="ignore"):
                    pct = busy / total * 100.0
                bad = (delta[:, :3] < 0).any(axis=1) | ~(total > 0)
                pct[bad] = NAN
                np.clip(pct, 0.0, 100.0, out=pct)
        self._prev = (sample.t, cpu, sample.domains_cpu_ns)

        def f(v: int | None) -> float:
            return NAN if v is None else float(v)

        total_kib, free = f(sample.mem_total_kib), f(sample.mem_free_kib)
        if not self.memory_use_known:
            free = NAN
        cached, buffers = f(sample.mem_cached_kib), f(sample.mem_buffers_kib)
        # A hypervisor (Xen) reports no page cache or buffers: its used memory is what
        # no domain is free of, total - free; cached stays unknown on its own line.
        used = total_kib - free - np.nan_to_num(cached) - np.nan_to_num(buffers)
        return HostRates(sample.t, sample.wall, dt, float(pct[0]), pct[1:], total_kib,
                         float(used), free, cached, buffers)
