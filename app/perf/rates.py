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

The VM figures are computed column-wise with numpy over all VMs of a tick at once (one
array per metric, in the order of the samples), so 10,000 VMs cost a few milliseconds.
Per-device (disk, NIC) and per-vCPU rates are flattened into one array each with an
``owner`` row index, and summed per VM with np.bincount.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Sequence

import numpy as np

from connectors.libvirt.stats import DomainSample, HostSample

NAN = float("nan")

# The per-VM series every tick produces (names used by ring buffers and history).
VM_METRICS = ("cpu_percent", "mem_assigned_kib", "mem_used_kib", "mem_rss_kib",
              "disk_rd_bps", "disk_wr_bps", "disk_rd_iops", "disk_wr_iops",
              "net_rx_bps", "net_tx_bps")
HOST_METRICS = ("cpu_percent", "mem_total_kib", "mem_used_kib", "mem_free_kib",
                "mem_cached_kib")


def _floats(values) -> np.ndarray:
    """A list with None in it → float64 array with NaN there (numpy does the mapping)."""
    return np.array(values, dtype=np.float64)


@dataclass(slots=True)
class _Devices:
    """Per-device counters of one tick, flattened over all VMs."""

    names: list[tuple[str, ...]]   # per VM: device names in order (() = none/not reported)
    reported: np.ndarray           # per VM: the group was reported (dict not None)
    count: np.ndarray              # per VM: number of devices
    offset: np.ndarray             # per VM: first flat row
    owner: np.ndarray              # per flat row: VM row
    counters: np.ndarray           # flat rows × width, float64, NaN = not reported


def _flatten_devices(dicts: list[dict | None], width: int) -> _Devices:
    names = [tuple(d) if d else () for d in dicts]
    count = np.array(list(map(len, names)), dtype=np.int64)
    reported = np.array([d is not None for d in dicts], dtype=bool)
    # Scalars, not tuples: numpy converts a flat list several times faster.
    flat = list(chain.from_iterable(chain.from_iterable(d.values() for d in dicts if d)))
    k = len(flat) // width
    counters = _floats(flat).reshape(k, width) if flat else np.empty((0, width))
    offset = np.cumsum(count) - count
    owner = np.repeat(np.arange(len(dicts)), count)
    return _Devices(names, reported, count, offset, owner, counters)


def _device_rates(cur: _Devices, prev: _Devices | None, prev_row: np.ndarray,
                  valid: np.ndarray, dt: np.ndarray, aligned: bool) -> np.ndarray:
    """Rates per flat device row (NaN where the device has no usable previous sample)."""
    k, width = cur.counters.shape
    if k == 0 or prev is None or prev.counters.shape[0] == 0:
        return np.full((k, width), NAN)
    owner_valid = valid[cur.owner]
    prev_names = prev.names
    cur_names = cur.names
    if aligned and cur_names == prev_names:
        # The usual tick: same VMs with the same devices in the same order.
        prev_pos = np.arange(k)
        same = np.ones(len(cur_names), dtype=bool)
    else:
        # Vectorised where a VM's device list is unchanged: rows line up one to one.
        same = np.fromiter((ok and cur_names[i] == prev_names[p] for i, (ok, p)
                            in enumerate(zip(valid.tolist(), prev_row.tolist()))),
                           dtype=bool, count=len(cur_names))
        local = np.arange(k) - cur.offset[cur.owner]
        prev_pos = np.where(same[cur.owner], prev.offset[prev_row[cur.owner]] + local, -1)
    # Slow path: a disk or NIC was added or removed: match that VM's devices by name.
    for row in np.flatnonzero(valid & ~same & (cur.count > 0)).tolist():
        p = prev_row[row]
        where = {name: prev.offset[p] + j for j, name in enumerate(prev_names[p])}
        start = cur.offset[row]
        for j, name in enumerate(cur_names[row]):
            prev_pos[start + j] = where.get(name, -1)
    usable = owner_valid & (prev_pos >= 0)
    delta = cur.counters - prev.counters[np.where(usable, prev_pos, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = delta / dt[cur.owner][:, None]
    rates[~usable] = NAN
    rates[rates < 0] = NAN  # a counter went back: device re-plugged or VM restarted
    return rates


def _sum_per_vm(rates: np.ndarray, devices: _Devices, valid: np.ndarray,
                n: int) -> np.ndarray:
    """Per-VM sums of device rates (n × width). NaN when no device of the VM has a rate;
    a VM that reports the group but has no device at all has a real 0."""
    width = rates.shape[1]
    out = np.empty((n, width))
    finite = np.isfinite(rates)
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
    disks: _Devices
    nets: _Devices


class DomainRateCalculator:
    """Keeps the previous tick of one connection and turns each new tick into rates."""

    def __init__(self, max_gap_s: float = 60.0) -> None:
        self.max_gap_s = max_gap_s
        self._prev: _DomainState | None = None

    def reset(self) -> None:
        """Forget the previous tick (after a reconnect: counters may have restarted)."""
        self._prev = None

    def update(self, samples: Sequence[DomainSample]) -> DomainRates:
        n = len(samples)
        keys = [s.key for s in samples]
        index = {k: i for i, k in enumerate(keys)}
        t = _floats([s.t for s in samples])
        domain_id = _floats([s.domain_id for s in samples])
        cpu = _floats([s.cpu_time_ns for s in samples])
        state = _floats([s.state for s in samples])
        vtimes = [s.vcpu_times_ns for s in samples]
        vcount = np.fromiter((len(v) if v else 0 for v in vtimes), dtype=np.int64, count=n)
        vflat = _floats(list(chain.from_iterable(v for v in vtimes if v)))
        voffset = np.cumsum(vcount) - vcount
        disks = _flatten_devices([s.disk for s in samples], 4)
        nets = _flatten_devices([s.net for s in samples], 2)

        prev = self._prev
        aligned = prev is not None and keys == prev.keys  # same VMs, same order
        if prev is None:
            prev_row = np.full(n, -1, dtype=np.int64)
        elif aligned:
            prev_row = np.arange(n, dtype=np.int64)
        else:
            get = prev.index.get
            prev_row = np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=n)
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

            available = _floats([s.balloon_available_kib for s in samples])
            unused = _floats([s.balloon_unused_kib for s in samples])
            disk_rates = _device_rates(disks, prev.disks if prev else None, pr, valid, dt,
                                       aligned)
            net_rates = _device_rates(nets, prev.nets if prev else None, pr, valid, dt,
                                      aligned)
        disk_sum = _sum_per_vm(disk_rates, disks, valid, n)
        net_sum = _sum_per_vm(net_rates, nets, valid, n)

        self._prev = _DomainState(keys, index, t, domain_id, cpu, vcount, voffset, vflat,
                                  disks, nets)
        first = samples[0] if samples else None
        return DomainRates(
            t=first.t if first else NAN, wall=first.wall if first else NAN,
            keys=keys, index=index, dt=dt, state=state, vcpus=vcount, cpu_percent=cpu_pct,
            mem_assigned_kib=_floats([s.balloon_current_kib for s in samples]),
            mem_maximum_kib=_floats([s.balloon_maximum_kib for s in samples]),
            mem_used_kib=available - unused,
            mem_rss_kib=_floats([s.balloon_rss_kib for s in samples]),
            disk_rd_bps=disk_sum[:, 0], disk_wr_bps=disk_sum[:, 1],
            disk_rd_iops=disk_sum[:, 2], disk_wr_iops=disk_sum[:, 3],
            net_rx_bps=net_sum[:, 0], net_tx_bps=net_sum[:, 1],
            vcpu_owner=vowner, vcpu_percent=vpct,
            disk_owner=disks.owner, disk_names=list(chain.from_iterable(disks.names)),
            disk_rates=disk_rates,
            net_owner=nets.owner, net_names=list(chain.from_iterable(nets.names)),
            net_rates=net_rates)


@dataclass(frozen=True, slots=True)
class HostRates:
    """Host figures of one tick. CPU % is busy time (kernel + user) over all time spent
    (kernel + user + idle + iowait) since the previous sample; per core as an array indexed
    by host CPU number (NaN for offline cores). Memory in KiB; used = total - free -
    cached - buffers, as free(1) counts it."""

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
    return _floats([(c.kernel, c.user, c.idle, c.iowait) if c is not None
                    else (None, None, None, None) for c in rows])


class HostRateCalculator:
    def __init__(self, max_gap_s: float = 60.0) -> None:
        self.max_gap_s = max_gap_s
        self._prev: tuple[float, np.ndarray] | None = None

    def reset(self) -> None:
        self._prev = None

    def update(self, sample: HostSample) -> HostRates:
        cpu = _cpu_matrix(sample)
        pct = np.full(len(cpu), NAN)
        dt = NAN
        if self._prev is not None:
            prev_t, prev_cpu = self._prev
            step = sample.t - prev_t
            if 0 < step <= self.max_gap_s and prev_cpu.shape == cpu.shape:
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
        self._prev = (sample.t, cpu)

        def f(v: int | None) -> float:
            return NAN if v is None else float(v)

        total_kib, free = f(sample.mem_total_kib), f(sample.mem_free_kib)
        cached, buffers = f(sample.mem_cached_kib), f(sample.mem_buffers_kib)
        return HostRates(sample.t, sample.wall, dt, float(pct[0]), pct[1:], total_kib,
                         total_kib - free - cached - buffers, free, cached, buffers)
