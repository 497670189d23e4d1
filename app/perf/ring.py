"""Fixed-size numpy ring buffers for the live graphs.

Why preallocated rings: a graph redraws from the same arrays every tick; appending to a
list or concatenating arrays would allocate on every sample for every VM. Here a sample
is one slot write, and the graph gets the last N points as a view when they are
contiguous in memory (one copy of just those N points when they wrap around).

``Ring`` is one series. ``RingTable`` is many series sampled on one clock (all VMs of a
connection): a tick is one contiguous row write, so 10,000 VMs cost one numpy assignment,
and a series is a column read back with ``column()``. float32 halves the memory (enough
for percentages and byte rates); time stamps stay float64.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


class Ring:
    """One series of at most ``capacity`` values; ``append`` is O(1)."""

    __slots__ = ("_buf", "_pos", "_len")

    def __init__(self, capacity: int, dtype=np.float64, fill: float = np.nan) -> None:
        if capacity < 1:
            raise ValueError("a ring needs room for at least one value")
        self._buf = np.full(capacity, fill, dtype=dtype)
        self._pos = 0      # next slot to write
        self._len = 0

    @property
    def capacity(self) -> int:
        return len(self._buf)

    def __len__(self) -> int:
        return self._len

    def append(self, value: float) -> None:
        self._buf[self._pos] = value
        self._pos = (self._pos + 1) % len(self._buf)
        if self._len < len(self._buf):
            self._len += 1

    def extend(self, values: Iterable[float]) -> None:
        values = np.asarray(values, dtype=self._buf.dtype).ravel()
        cap = len(self._buf)
        if len(values) >= cap:  # only the newest ``cap`` survive
            self._buf[:] = values[-cap:]
            self._pos, self._len = 0, cap
            return
        end = self._pos + len(values)
        if end <= cap:
            self._buf[self._pos:end] = values
        else:
            split = cap - self._pos
            self._buf[self._pos:] = values[:split]
            self._buf[:end - cap] = values[split:]
        self._pos = end % cap
        self._len = min(cap, self._len + len(values))

    def last(self, n: int | None = None) -> np.ndarray:
        """The newest ``n`` values, oldest first. A read-only view when they do not wrap
        around the end of the buffer; otherwise a copy of exactly those values."""
        n = self._len if n is None else max(0, min(n, self._len))
        start = self._pos - n
        if start >= 0:
            out = self._buf[start:self._pos]
            out = out.view()
            out.flags.writeable = False
            return out
        return np.concatenate((self._buf[start:], self._buf[:self._pos]))

    def clear(self) -> None:
        self._pos = self._len = 0


class ColumnIndex:
    """Series key → column number, shared by the tables of one connection so that one
    lookup per tick serves every metric."""

    def __init__(self) -> None:
        self._columns: dict = {}

    def __len__(self) -> int:
        return len(self._columns)

    def __contains__(self, key) -> bool:
        return key in self._columns

    def get(self, key) -> int | None:
        return self._columns.get(key)

    @property
    def keys(self) -> list:
        return list(self._columns)

    def columns_for(self, keys: Sequence) -> np.ndarray:
        cols = self._columns
        for k in keys:
            if k not in cols:
                cols[k] = len(cols)
        return np.fromiter((cols[k] for k in keys), dtype=np.intp, count=len(keys))


class RingTable:
    """Rows = ticks (newest ``capacity`` kept), columns = series keyed by any hashable
    (a VM UUID, or (uuid, "vda") for a per-disk series). Columns grow on demand (amortised
    doubling); a series absent from a tick gets NaN for that tick, which graphs draw as a
    gap."""

    def __init__(self, capacity: int, initial_columns: int = 64, dtype=np.float32,
                 index: ColumnIndex | None = None) -> None:
        if capacity < 1:
            raise ValueError("a ring needs room for at least one row")
        self.index = index if index is not None else ColumnIndex()
        self._times = np.full(capacity, np.nan, dtype=np.float64)
        self._data = np.full((capacity, max(1, initial_columns)), np.nan, dtype=dtype)
        self._pos = 0
        self._len = 0

    @property
    def capacity(self) -> int:
        return len(self._times)

    def __len__(self) -> int:
        return self._len

    def _ensure_width(self, width: int) -> None:
        old = self._data.shape[1]
        if width > old:
            grown = np.full((self.capacity, max(width, 2 * old)), np.nan,
                            dtype=self._data.dtype)
            grown[:, :old] = self._data
            self._data = grown

    def append(self, t: float, keys: Sequence, values, columns: np.ndarray | None = None
               ) -> None:
        """One tick: ``values[i]`` belongs to ``keys[i]`` (or a scalar for all). Pass
        ``columns`` from ``index.columns_for(keys)`` to reuse one lookup."""
        if columns is None:
            columns = self.index.columns_for(keys)
        self._ensure_width(len(self.index))
        row = self._data[self._pos]
        row.fill(np.nan)
        row[columns] = values
        self._times[self._pos] = t
        self._pos = (self._pos + 1) % self.capacity
        if self._len < self.capacity:
            self._len += 1

    def column(self, key, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) of the newest ``n`` ticks of one series, oldest first: views
        when contiguous, else copies of exactly n points. Unknown keys → NaN values."""
        n = self._len if n is None else max(0, min(n, self._len))
        start = self._pos - n
        col = self.index.get(key)
        if col is not None and col >= self._data.shape[1]:
            col = None  # allocated by a sibling table after this one's last append
        if start >= 0:
            times = self._times[start:self._pos]
            values = (self._data[start:self._pos, col] if col is not None
                      else np.full(n, np.nan, dtype=self._data.dtype))
            return times, values
        times = np.concatenate((self._times[start:], self._times[:self._pos]))
        if col is None:
            return times, np.full(n, np.nan, dtype=self._data.dtype)
        return times, np.concatenate((self._data[start:, col], self._data[:self._pos, col]))

    def latest(self, key, within: int = 1) -> float:
        """The newest known value of one series among the last ``within`` ticks (NaN when
        it has none there): a series sampled every few ticks only has NaN in between."""
        col = self.index.get(key)
        if col is None or self._len == 0 or col >= self._data.shape[1]:
            return float("nan")
        for back in range(1, min(within, self._len) + 1):
            value = self._data[self._pos - back, col]
            if value == value:
                return float(value)
        return float("nan")

    @property
    def nbytes(self) -> int:
        return self._data.nbytes + self._times.nbytes


class LiveBuffers:
    """One RingTable per metric for the VMs of one connection (sharing one ColumnIndex),
    fed tick by tick from DomainRates.metrics(), or from HostRates.metrics() with a single
    key (the host)."""

    def __init__(self, capacity: int, metrics: Sequence[str], initial_columns: int = 64,
                 dtype=np.float32) -> None:
        self.index = ColumnIndex()
        self.tables = {m: RingTable(capacity, initial_columns, dtype, self.index)
                       for m in metrics}
        self._last_keys: list | None = None
        self._last_columns: np.ndarray | None = None

    def push(self, t: float, keys: Sequence, metrics: dict) -> None:
        # Same VMs in the same order as last tick (the usual case): reuse the columns.
        if self._last_keys is not None and keys == self._last_keys:
            columns = self._last_columns
        else:
            columns = self.index.columns_for(keys)
            self._last_keys, self._last_columns = list(keys), columns
        for name, table in self.tables.items():
            values = metrics.get(name)
            table.append(t, keys, np.nan if values is None else values, columns)

    def series(self, metric: str, key, n: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        return self.tables[metric].column(key, n)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables.values())
