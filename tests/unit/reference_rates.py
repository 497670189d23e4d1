"""The rate calculation as it was before its vectorised rewrite, kept as the reference.

app/perf/rates.py must give exactly these numbers (NaN where this gives NaN) for the same
ticks: tests/unit/test_perf_rates_reference.py compares the two on the captured QEMU
records and on generated edge cases. Frozen: do not optimise or fix this copy; a change
of behaviour in rates.py is a change to make in both, with its reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Sequence

import numpy as np

from connectors.libvirt.stats import (DomainSample, HostSample, RawRecord, StatsBatch,
                                      block_keys, net_keys, vcpu_time_keys)

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
    """Per-device counters of one tick, flattened over all VMs (VM after VM)."""

    names: list[str]               # per flat row: device name
    reported: np.ndarray           # per VM: the group was reported (dict not None)
    count: np.ndarray              # per VM: number of devices
    offset: np.ndarray             # per VM: first flat row
    owner: np.ndarray              # per flat row: VM row
    counters: np.ndarray           # flat rows × width, float64, NaN = not reported

    def vm_names(self, row: int) -> list[str]:
        start = self.offset[row]
        return self.names[start:start + self.count[row]]


def _devices(names: list[str], reported: np.ndarray, count: np.ndarray, flat: list,
             width: int, owner: np.ndarray | None = None) -> _Devices:
    k = len(names)
    counters = _floats(flat).reshape(k, width) if k else np.empty((0, width))
    offset = np.cumsum(count) - count
    if owner is None:
        owner = np.repeat(np.arange(len(count)), count)
    return _Devices(names, reported, count, offset, owner, counters)


def _flatten_devices(dicts: list[dict | None], width: int) -> _Devices:
    count = np.array([len(d) if d else 0 for d in dicts], dtype=np.int64)
    reported = np.array([d is not None for d in dicts], dtype=bool)
    names = list(chain.from_iterable(d for d in dicts if d))
    # Scalars, not tuples: numpy converts a flat list several times faster.
    flat = list(chain.from_iterable(chain.from_iterable(d.values() for d in dicts if d)))
    return _devices(names, reported, count, flat, width)


def _device_rates(cur: _Devices, prev: _Devices | None, prev_row: np.ndarray,
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
class DomainColumns:
    """One tick of all VMs, column-wise: what the calculator actually works on.

    ``from_records`` reads libvirt's dicts directly (the fast path: no object per VM);
    ``from_samples`` reads DomainSample objects (tests, small inventories). Both give the
    same columns for the same data.
    """

    keys: list[str]
    t: np.ndarray
    wall: float
    domain_id: np.ndarray
    state: np.ndarray
    cpu: np.ndarray
    vcpu_count: np.ndarray
    vcpu_times: np.ndarray
    balloon_current: np.ndarray
    balloon_maximum: np.ndarray
    balloon_rss: np.ndarray
    balloon_available: np.ndarray
    balloon_unused: np.ndarray
    disks: _Devices
    nets: _Devices

    @classmethod
    def from_samples(cls, samples: Sequence[DomainSample]) -> "DomainColumns":
        n = len(samples)
        vtimes = [s.vcpu_times_ns for s in samples]
        return cls(
            keys=[s.key for s in samples],
            t=_floats([s.t for s in samples]),
            wall=samples[0].wall if samples else NAN,
            domain_id=_floats([s.domain_id for s in samples]),
            state=_floats([s.state for s in samples]),
            cpu=_floats([s.cpu_time_ns for s in samples]),
            vcpu_count=np.fromiter((len(v) if v else 0 for v in vtimes), dtype=np.int64,
                                   count=n),
            vcpu_times=_floats(list(chain.from_iterable(v for v in vtimes if v))),
            balloon_current=_floats([s.balloon_current_kib for s in samples]),
            balloon_maximum=_floats([s.balloon_maximum_kib for s in samples]),
            balloon_rss=_floats([s.balloon_rss_kib for s in samples]),
            balloon_available=_floats([s.balloon_available_kib for s in samples]),
            balloon_unused=_floats([s.balloon_unused_kib for s in samples]),
            disks=_flatten_devices([s.disk for s in samples], 4),
            nets=_flatten_devices([s.net for s in samples], 2))

    @classmethod
    def from_records(cls, records: Sequence[RawRecord], t: float,
                     wall: float) -> "DomainColumns":
        """``records``: (uuid, domain id, stats dict) as in StatsBatch.records; every VM
        of a bulk answer shares the instant ``t``/``wall``."""
        n = len(records)
        dicts = [r[2] for r in records]
        core = _grouped(dicts, ("state.state", "cpu.time"))
        balloon = _grouped(dicts, ("balloon.current", "balloon.maximum", "balloon.rss"))
        guest_mem = _grouped(dicts, ("balloon.available", "balloon.unused"))
        vcount = np.nan_to_num(_grouped(dicts, ("vcpu.current",))[:, 0]).astype(np.int64)
        return cls(
            keys=[r[0] for r in records],
            t=np.full(n, t),
            wall=wall,
            domain_id=_floats([r[1] for r in records]),
            state=core[:, 0],
            cpu=core[:, 1],
            vcpu_count=vcount,
            vcpu_times=_vcpu_times(dicts, vcount),
            balloon_current=balloon[:, 0],
            balloon_maximum=balloon[:, 1],
            balloon_rss=balloon[:, 2],
            balloon_available=guest_mem[:, 0],
            balloon_unused=guest_mem[:, 1],
            disks=_devices_from_records(dicts, "block.count", block_keys, 4, False),
            nets=_devices_from_records(dicts, "net.count", net_keys, 2, True))


def _grouped(dicts: list[dict], keys: Sequence[str]) -> np.ndarray:
    """Columns ``keys`` of every record (n × len(keys), NaN where absent). One C-level
    itemgetter pass when every record has every key (the usual case); .get() otherwise."""
    getter = itemgetter(*keys)
    try:
        rows = list(map(getter, dicts))
    except KeyError:
        # A group nobody reported (switched off, or a driver without it) is one C-level
        # membership pass per key, not a Python-level .get() per record.
        out = np.full((len(dicts), len(keys)), NAN)
        for j, key in enumerate(keys):
            if any(map(dict.__contains__, dicts, repeat(key))):
                out[:, j] = _floats(list(map(dict.get, dicts, repeat(key))))
        return out
    if len(keys) == 1:
        return _floats(rows).reshape(len(dicts), 1)
    return _floats(list(chain.from_iterable(rows))).reshape(len(dicts), len(keys))


def _vcpu_times(dicts: list[dict], vcount: np.ndarray) -> np.ndarray:
    """All vCPU times, VM after VM, read vCPU index by vCPU index (one pass each)."""
    if not len(dicts):
        return np.empty(0)
    owners, parts = [], []
    for i, key in enumerate(vcpu_time_keys(int(vcount.max()))):
        rows = np.flatnonzero(vcount > i)
        chosen = dicts if len(rows) == len(dicts) else [dicts[r] for r in rows.tolist()]
        try:
            parts.append(_floats(list(map(itemgetter(key), chosen))))
        except KeyError:
            parts.append(_floats([d.get(key) for d in chosen]))
        owners.append(rows)
    if len(parts) <= 1:
        return parts[0] if parts else np.empty(0)
    order = np.argsort(np.concatenate(owners), kind="stable")
    return np.concatenate(parts)[order]


def _devices_from_records(dicts: list[dict], count_key: str, keys_of, width: int,
                          skip_unnamed_empty: bool) -> _Devices:
    """Devices of every record, read device index by device index: for index i, one
    itemgetter pass over the VMs that have more than i devices; then put VM after VM."""
    n = len(dicts)
    counts = [d.get(count_key) for d in dicts]
    reported = np.array([c is not None for c in counts], dtype=bool)
    declared = np.array([c or 0 for c in counts], dtype=np.int64)
    owners: list[np.ndarray] = []
    names: list[str] = []
    flat: list[float | None] = []
    for i in range(int(declared.max()) if n else 0):
        rows = np.flatnonzero(declared > i)
        chosen = dicts if len(rows) == n else [dicts[r] for r in rows.tolist()]
        keys = keys_of(i)
        try:
            got_names = list(map(itemgetter(keys[0]), chosen))
            got = list(map(itemgetter(*keys[1:]), chosen))
        except KeyError:
            got_names = [d.get(keys[0]) for d in chosen]
            got = [tuple(map(d.get, keys[1:])) for d in chosen]
            if skip_unnamed_empty:  # e.g. a user-mode NIC: libvirt reports nothing
                keep = [nm is not None or any(v is not None for v in vals)
                        for nm, vals in zip(got_names, got, strict=True)]
                rows = rows[np.array(keep, dtype=bool)]
                got_names = [nm for nm, k in zip(got_names, keep, strict=True) if k]
                got = [vals for vals, k in zip(got, keep, strict=True) if k]
        owners.append(rows)
        names.extend(got_names if None not in got_names
                     else [nm or str(i) for nm in got_names])
        flat.extend(chain.from_iterable(got))
    if not owners:
        return _devices([], reported, np.zeros(n, dtype=np.int64), [], width)
    owner = np.concatenate(owners)
    count = np.bincount(owner, minlength=n).astype(np.int64)
    counters = _floats(flat).reshape(len(names), width)
    if len(owners) > 1:  # index-major → VM-major
        order = np.argsort(owner, kind="stable")
        owner, counters = owner[order], counters[order]
        names = [names[j] for j in order.tolist()]
    offset = np.cumsum(count) - count
    return _Devices(names, reported, count, offset, owner, counters)


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
        return self.update_columns(DomainColumns.from_samples(samples))

    def update_batch(self, batch: StatsBatch) -> DomainRates:
        """The fast path for a sampler's tick: reads the raw records column-wise."""
        return self.update_columns(DomainColumns.from_records(batch.records, batch.t,
                                                              batch.wall))

    def update_columns(self, c: DomainColumns) -> DomainRates:
        keys = c.keys
        n = len(keys)
        index = {k: i for i, k in enumerate(keys)}
        t, domain_id, cpu, state = c.t, c.domain_id, c.cpu, c.state
        vcount, vflat = c.vcpu_count, c.vcpu_times
        voffset = np.cumsum(vcount) - vcount
        disks, nets = c.disks, c.nets

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
