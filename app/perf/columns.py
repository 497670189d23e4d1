"""One statistics tick of all VMs as numpy columns: libvirt's dicts read key by key.

Why key by key: a 10,000-VM tick is 10,000 dicts of ~50 entries each, and reading the
twenty counters the rates need out of them is most of what the tick costs. One
``np.fromiter`` over an ``itemgetter`` map per key reads a whole column in C (no Python
frame per VM, no intermediate list of tuples): about 0.6 ms per key for 10,000 VMs here,
where grouping keys into tuples and flattening them cost twice that. A key that some
record lacks (a VM without balloon statistics, a shut-off VM's counters) falls back to
``dict.get`` for that key only, so absent stays NaN, never 0.

Devices (disks, NICs) and vCPUs are read index by index: for index i, one pass over the
VMs that have more than i of them; then put VM after VM (``owner`` row per device).
``from_samples`` builds the same columns from DomainSample objects (tests, small
inventories).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Callable, Sequence

import numpy as np

from connectors.libvirt.stats import (DomainSample, RawRecord, block_keys, net_keys,
                                      vcpu_time_keys)

NAN = float("nan")
_F64 = np.float64


def floats(values) -> np.ndarray:
    """A list with None in it → float64 array with NaN there (numpy does the mapping)."""
    return np.array(values, dtype=np.float64)


@dataclass(slots=True)
class Devices:
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
             width: int) -> Devices:
    k = len(names)
    counters = floats(flat).reshape(k, width) if k else np.empty((0, width))
    offset = np.cumsum(count) - count
    owner = np.repeat(np.arange(len(count)), count)
    return Devices(names, reported, count, offset, owner, counters)


def _flatten_devices(dicts: list[dict | None], width: int) -> Devices:
    count = np.array([len(d) if d else 0 for d in dicts], dtype=np.int64)
    reported = np.array([d is not None for d in dicts], dtype=bool)
    names = list(chain.from_iterable(d for d in dicts if d))
    # Scalars, not tuples: numpy converts a flat list several times faster.
    flat = list(chain.from_iterable(chain.from_iterable(d.values() for d in dicts if d)))
    return _devices(names, reported, count, flat, width)


def column(dicts: list[dict], key: str) -> np.ndarray:
    """``key`` of every record as float64, NaN where a record lacks it (or holds None)."""
    try:
        return np.fromiter(map(itemgetter(key), dicts), _F64, len(dicts))
    except (KeyError, TypeError):
        pass
    # A key nobody reported (a group switched off, a guest without balloon statistics)
    # is one C-level membership pass, not a list of None to convert.
    if not any(map(dict.__contains__, dicts, repeat(key))):
        return np.full(len(dicts), NAN)
    return floats(list(map(dict.get, dicts, repeat(key))))


def _rows_with_more_than(dicts: list[dict], declared: np.ndarray, i: int
                         ) -> tuple[np.ndarray, list[dict]]:
    rows = np.flatnonzero(declared > i)
    return rows, dicts if len(rows) == len(dicts) else [dicts[r] for r in rows.tolist()]


def _vm_major(owners: list[np.ndarray], parts: list[np.ndarray], full: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """Index-major parts (index 0 of every VM, then index 1, ...) → VM after VM.
    ``full``: every VM has every index (the usual tick), so interleaving is a reshape."""
    if len(parts) == 1:
        return owners[0], parts[0]
    if full:
        n = len(owners[0])
        stacked = np.stack(parts, axis=1)
        return np.repeat(np.arange(n), len(parts)), stacked.reshape(n * len(parts),
                                                                    *parts[0].shape[1:])
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    return owner[order], np.concatenate(parts)[order]


def _vcpu_times(dicts: list[dict], vcount: np.ndarray) -> np.ndarray:
    """All vCPU times, VM after VM, read vCPU index by vCPU index (one pass each)."""
    top = int(vcount.max()) if len(dicts) else 0
    if top == 0:
        return np.empty(0)
    owners, parts = [], []
    for i, key in enumerate(vcpu_time_keys(top)):
        rows, chosen = _rows_with_more_than(dicts, vcount, i)
        owners.append(rows)
        parts.append(column(chosen, key))
    return _vm_major(owners, parts, int(vcount.min()) == top)[1]


def _device_index(chosen: list[dict], rows: np.ndarray, keys: tuple[str, ...],
                  skip_unnamed_empty: bool) -> tuple[np.ndarray, list, np.ndarray]:
    """Device ``i`` (its ``keys``: name, then counters) of the ``chosen`` VMs (``rows``):
    (rows kept, names, counters m × width)."""
    m, width = len(chosen), len(keys) - 1
    try:
        names = list(map(itemgetter(keys[0]), chosen))
        counters = np.empty((m, width))
        for j, key in enumerate(keys[1:]):
            counters[:, j] = np.fromiter(map(itemgetter(key), chosen), _F64, m)
        return rows, names, counters
    except TypeError:  # a value is None (never from libvirt): numpy maps it to NaN
        try:
            got = list(map(itemgetter(*keys[1:]), chosen))
            return rows, names, floats(got).reshape(m, width)
        except KeyError:
            pass
    except KeyError:
        pass
    # Some VM lacks a key of this device: key by key with .get(), None → NaN.
    names = [d.get(keys[0]) for d in chosen]
    got = [tuple(map(d.get, keys[1:])) for d in chosen]
    if skip_unnamed_empty:  # e.g. a user-mode NIC: libvirt reports nothing but the count
        keep = [nm is not None or any(v is not None for v in vals)
                for nm, vals in zip(names, got, strict=True)]
        rows = rows[np.array(keep, dtype=bool)]
        names = [nm for nm, k in zip(names, keep, strict=True) if k]
        got = [vals for vals, k in zip(got, keep, strict=True) if k]
    return rows, names, floats(got).reshape(len(names), width)


def _devices_from_records(dicts: list[dict], count_key: str,
                          keys_of: Callable[[int], tuple[str, ...]], width: int,
                          skip_unnamed_empty: bool) -> Devices:
    """Devices of every record, read device index by device index (see the module)."""
    n = len(dicts)
    counts = column(dicts, count_key)
    reported = ~np.isnan(counts)
    declared = np.where(reported, counts, 0).astype(np.int64)
    owners: list[np.ndarray] = []
    names: list[str] = []
    parts: list[np.ndarray] = []
    top = int(declared.max()) if n else 0
    for i in range(top):
        rows, chosen = _rows_with_more_than(dicts, declared, i)
        rows, got_names, counters = _device_index(chosen, rows, keys_of(i),
                                                  skip_unnamed_empty)
        owners.append(rows)
        names.extend(got_names if None not in got_names
                     else [nm or str(i) for nm in got_names])
        parts.append(counters)
    if not owners:
        return _devices([], reported, np.zeros(n, dtype=np.int64), [], width)
    full = all(len(rows) == n for rows in owners)
    owner, counters = _vm_major(owners, parts, full)
    count = np.bincount(owner, minlength=n).astype(np.int64)
    if len(owners) > 1:
        names = _names_vm_major(names, owners, n, full)
    offset = np.cumsum(count) - count
    return Devices(names, reported, count, offset, owner, counters)


def _names_vm_major(names: list[str], owners: list[np.ndarray], n: int,
                    full: bool) -> list[str]:
    if full:  # names of index 0 for every VM, then index 1, ...: take them interleaved
        per = len(owners)
        return [names[j * n + i] for i in range(n) for j in range(per)]
    order = np.argsort(np.concatenate(owners), kind="stable")
    return [names[j] for j in order.tolist()]


@dataclass(slots=True)
class DomainColumns:
    """One tick of all VMs, column-wise: what the rate calculator works on.

    ``from_records`` reads libvirt's dicts directly (the sampler's path: no object per
    VM); ``from_samples`` reads DomainSample objects. Both give the same columns for the
    same data.
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
    disks: Devices
    nets: Devices

    @classmethod
    def from_samples(cls, samples: Sequence[DomainSample]) -> "DomainColumns":
        n = len(samples)
        vtimes = [s.vcpu_times_ns for s in samples]
        return cls(
            keys=[s.key for s in samples],
            t=floats([s.t for s in samples]),
            wall=samples[0].wall if samples else NAN,
            domain_id=floats([s.domain_id for s in samples]),
            state=floats([s.state for s in samples]),
            cpu=floats([s.cpu_time_ns for s in samples]),
            vcpu_count=np.fromiter((len(v) if v else 0 for v in vtimes), dtype=np.int64,
                                   count=n),
            vcpu_times=floats(list(chain.from_iterable(v for v in vtimes if v))),
            balloon_current=floats([s.balloon_current_kib for s in samples]),
            balloon_maximum=floats([s.balloon_maximum_kib for s in samples]),
            balloon_rss=floats([s.balloon_rss_kib for s in samples]),
            balloon_available=floats([s.balloon_available_kib for s in samples]),
            balloon_unused=floats([s.balloon_unused_kib for s in samples]),
            disks=_flatten_devices([s.disk for s in samples], 4),
            nets=_flatten_devices([s.net for s in samples], 2))

    @classmethod
    def from_records(cls, records: Sequence[RawRecord], t: float,
                     wall: float) -> "DomainColumns":
        """``records``: (uuid, domain id, stats dict) as in StatsBatch.records; every VM
        of a bulk answer shares the instant ``t``/``wall``."""
        n = len(records)
        dicts = list(map(itemgetter(2), records))
        # Unknown → 0 vCPUs (nan_to_num would also test for infinities, which an int
        # from libvirt never is, at ten times the cost).
        vcurrent = column(dicts, "vcpu.current")
        vcount = np.where(np.isnan(vcurrent), 0.0, vcurrent).astype(np.int64)
        return cls(
            keys=list(map(itemgetter(0), records)),
            t=np.full(n, t),
            wall=wall,
            domain_id=floats(list(map(itemgetter(1), records))),
            state=column(dicts, "state.state"),
            cpu=column(dicts, "cpu.time"),
            vcpu_count=vcount,
            vcpu_times=_vcpu_times(dicts, vcount),
            balloon_current=column(dicts, "balloon.current"),
            balloon_maximum=column(dicts, "balloon.maximum"),
            balloon_rss=column(dicts, "balloon.rss"),
            balloon_available=column(dicts, "balloon.available"),
            balloon_unused=column(dicts, "balloon.unused"),
            disks=_devices_from_records(dicts, "block.count", block_keys, 4, False),
            nets=_devices_from_records(dicts, "net.count", net_keys, 2, True))
