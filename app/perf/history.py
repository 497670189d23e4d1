"""Performance history on disk: RRD-style tiers in one SQLite file.

Tiers (``DEFAULT_TIERS``): every sample as taken (2 s by default) for 10 minutes; 1-minute
average and maximum for 1 day; 10-minute average and maximum for 1 week. A query picks the
finest tier that still covers its start, so a 10-minute graph has full resolution, a day
has 1,440 points and a week 1,008 — what a graph can show anyway. Each tier is pruned to
its retention at every flush, so the file is bounded by (series × Σ retention/step) rows,
whatever the uptime; a series whose VM is gone simply ages out.

Why SQLite: it is in the standard library, it is crash-safe (WAL journal: a commit either
is on disk or is not), it can be checked (PRAGMA quick_check) and read by another
connection while the writer appends, and range queries come from an index rather than
from hand-rolled file offsets. Fixed-size RRD files would bound size by construction but
need one file per series and their own torn-write handling.

Writes are batched: ``record()`` only queues the tick (the UI thread pays a list append);
a writer thread folds the queue into the tiers and commits everything in one transaction
every ``flush_interval_s``. A SIGKILL therefore loses at most the last interval. Coarse
buckets are merged in SQL (the average is weighted by the sample count stored per row),
so a bucket that spans several flushes — or an app restart — is still one exact row.

A damaged file (garbage bytes, a truncated copy) is detected at open, moved aside as
``history.sqlite.corrupt-<time>``, and a fresh store is created: ``HistoryStore.warning``
then holds a sentence the app shows the user. Opening never raises for a damaged file.
"""
from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Tier:
    """``step_s`` 0 keeps samples as taken; otherwise buckets of step_s seconds."""

    name: str
    step_s: float
    retention_s: float


DEFAULT_TIERS = (Tier("full", 0, 10 * 60), Tier("1min", 60, 24 * 3600),
                 Tier("10min", 600, 7 * 24 * 3600))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series(
    id INTEGER PRIMARY KEY,
    object_key TEXT NOT NULL,
    metric TEXT NOT NULL,
    UNIQUE(object_key, metric));
CREATE TABLE IF NOT EXISTS points(
    tier INTEGER NOT NULL,
    series INTEGER NOT NULL,
    t REAL NOT NULL,          -- wall-clock seconds (bucket start for coarse tiers)
    avg REAL NOT NULL,
    max REAL NOT NULL,
    n INTEGER NOT NULL,       -- samples folded into the row, to merge averages exactly
    PRIMARY KEY(tier, series, t)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_age ON points(tier, t);
"""

_UPSERT = """
INSERT INTO points(tier, series, t, avg, max, n) VALUES(?, ?, ?, ?, ?, ?)
ON CONFLICT(tier, series, t) DO UPDATE SET
    avg = (avg * n + excluded.avg * excluded.n) / (n + excluded.n),
    max = MAX(max, excluded.max),
    n = n + excluded.n
"""


class HistoryCorrupt(Exception):
    """The store was damaged; raised internally and turned into ``warning``."""


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                           ".local", "share")
    return Path(base) / "hvconsole" / "history.sqlite"


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):  # the journal belongs to the damaged file
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                           timeout=10.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        result = conn.execute("PRAGMA quick_check").fetchall()
        if result != [("ok",)]:
            raise HistoryCorrupt("; ".join(str(r[0]) for r in result[:3]))
        conn.executescript(_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


class _Accumulator:
    """Sum/count/max per series since the last flush, for one coarse tier (numpy)."""

    def __init__(self) -> None:
        self.bucket: float | None = None
        self.ids = np.empty(0, dtype=np.int64)
        self.sum = np.empty(0)
        self.count = np.empty(0)
        self.max = np.empty(0)

    def rows(self, tier: int) -> list[tuple]:
        keep = self.count > 0
        if self.bucket is None or not keep.any():
            return []
        return list(zip([tier] * int(keep.sum()), self.ids[keep].tolist(),
                        [self.bucket] * int(keep.sum()),
                        (self.sum[keep] / self.count[keep]).tolist(),
                        self.max[keep].tolist(), self.count[keep].astype(int).tolist()))

    def reset(self) -> None:
        self.bucket = None
        self.ids = np.empty(0, dtype=np.int64)
        self.sum = self.count = self.max = np.empty(0)

    def add(self, ids: np.ndarray, values: np.ndarray) -> None:
        """Fold one tick (series ids and values; NaN = gap, skipped) into the bucket."""
        ok = np.isfinite(values)
        ids, values = ids[ok], values[ok]
        if not len(ids):
            return
        width = int(ids.max()) + 1
        if width > len(self.sum):
            grow = width - len(self.sum)
            self.sum = np.concatenate((self.sum, np.zeros(grow)))
            self.count = np.concatenate((self.count, np.zeros(grow)))
            self.max = np.concatenate((self.max, np.full(grow, -np.inf)))
            self.ids = np.arange(width, dtype=np.int64)
        np.add.at(self.sum, ids, values)
        np.add.at(self.count, ids, 1)
        np.maximum.at(self.max, ids, values)


class HistoryStore:
    """Consolidated performance history of every connection, in one SQLite file.

    ``record(t, object_keys, metrics)``: one tick, ``metrics`` maps a metric name to an
    array (one value per object key, NaN = gap) or a float (single object).
    ``series(object_key, metric, t_from, t_to) -> (t, avg, max)`` numpy arrays, from
    the tier chosen by range. ``close()`` flushes and stops the writer thread.
    """

    def __init__(self, path: str | os.PathLike | None = None, *,
                 tiers: Sequence[Tier] = DEFAULT_TIERS, flush_interval_s: float = 10.0,
                 writer_thread: bool = True, clock=time.time) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.tiers = tuple(tiers)
        if not self.tiers or self.tiers[0].step_s != 0:
            raise ValueError("the first tier must keep samples as taken (step_s=0)")
        self.flush_interval_s = flush_interval_s
        self.warning: str | None = None
        self._clock = clock
        self._lock = threading.Lock()          # guards the queue
        self._write_lock = threading.Lock()    # one flush at a time, and the connection
        self._queue: list[tuple[float, list[str], dict]] = []
        self._acc = [_Accumulator() for _ in self.tiers[1:]]
        self._conn = self._open()
        self._series: dict[tuple[str, str], int] = {
            (k, m): i for i, k, m in self._conn.execute(
                "SELECT id, object_key, metric FROM series")}
        self._next_id = max(self._series.values(), default=0) + 1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if writer_thread:
            self._thread = threading.Thread(target=self._run, name="hvconsole-history",
                                            daemon=True)
            self._thread.start()

    # -- opening ------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _connect(self.path)
        except (sqlite3.DatabaseError, HistoryCorrupt) as err:
            # sqlite3.DatabaseError covers "file is not a database" and "malformed".
            log.warning("performance history %s is damaged: %s", self.path, err)
            moved = _move_aside(self.path)
            self.warning = (f"The performance history file was damaged ({err}). It was "
                            f"moved to {moved.name} and a new history was started.")
            return _connect(self.path)

    # -- writing ------------------------------------------------------------------

    def record(self, t: float, object_keys: Sequence[str], metrics: dict) -> None:
        """Queue one tick (wall-clock ``t``). Cheap: the arrays are copied, nothing else."""
        snapshot = {m: (np.array(v, dtype=np.float64, copy=True) if np.ndim(v)
                        else np.full(len(object_keys), float(v)))
                    for m, v in metrics.items()}
        with self._lock:
            self._queue.append((float(t), list(object_keys), snapshot))

    def _series_ids(self, keys: list[str], metric: str, new: list[tuple]) -> np.ndarray:
        ids = self._series
        out = np.empty(len(keys), dtype=np.int64)
        for i, k in enumerate(keys):
            sid = ids.get((k, metric))
            if sid is None:
                sid = self._next_id
                self._next_id += 1
                ids[(k, metric)] = sid
                new.append((sid, k, metric))
            out[i] = sid
        return out

    def flush(self) -> int:
        """Write everything queued in one transaction and prune old rows; returns the
        number of rows written. Runs on the writer thread, or wherever it is called."""
        with self._write_lock:
            with self._lock:
                queue, self._queue = self._queue, []
            new_series: list[tuple] = []
            rows: list[tuple] = []
            for t, keys, metrics in queue:
                for metric, values in metrics.items():
                    ids = self._series_ids(keys, metric, new_series)
                    ok = np.isfinite(values)
                    n_ok = int(ok.sum())
                    if n_ok:
                        vals = values[ok].tolist()
                        rows.extend(zip([0] * n_ok, ids[ok].tolist(), [t] * n_ok, vals,
                                        vals, [1] * n_ok))
                    for level, acc in enumerate(self._acc, start=1):
                        step = self.tiers[level].step_s
                        bucket = math.floor(t / step) * step
                        if acc.bucket is not None and bucket != acc.bucket:
                            rows.extend(acc.rows(level))
                            acc.reset()
                        acc.bucket = bucket
                        acc.add(ids, values)
            # Open buckets are written too (and merged later): a kill loses one interval.
            for level, acc in enumerate(self._acc, start=1):
                rows.extend(acc.rows(level))
                bucket = acc.bucket
                acc.reset()
                acc.bucket = bucket
            now = self._clock()
            conn = self._conn
            conn.execute("BEGIN")
            try:
                if new_series:
                    conn.executemany(
                        "INSERT INTO series(id, object_key, metric) VALUES(?, ?, ?)",
                        new_series)
                if rows:
                    conn.executemany(_UPSERT, rows)
                for level, tier in enumerate(self.tiers):
                    conn.execute("DELETE FROM points WHERE tier = ? AND t < ?",
                                 (level, now - tier.retention_s - tier.step_s))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return len(rows)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except Exception:  # a full disk must not kill the thread or the app
                log.exception("writing the performance history failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.flush()
        finally:
            self._conn.close()

    # -- reading ------------------------------------------------------------------

    def tier_for(self, t_from: float, t_to: float | None = None) -> int:
        """The finest tier whose retention still reaches back to ``t_from``."""
        age = self._clock() - t_from
        for level, tier in enumerate(self.tiers):
            if age <= tier.retention_s:
                return level
        return len(self.tiers) - 1

    def series(self, object_key: str, metric: str, t_from: float, t_to: float,
               tier: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps, averages, maxima) between t_from and t_to (wall clock), oldest
        first, from the finest tier that covers the range (or ``tier``). Data still in
        the queue (younger than one flush interval) is not included: the live ring
        buffers have it."""
        level = self.tier_for(t_from, t_to) if tier is None else tier
        sid = self._series.get((object_key, metric))
        if sid is None:
            empty = np.empty(0)
            return empty, empty, empty
        with self._write_lock:
            rows = self._conn.execute(
                "SELECT t, avg, max FROM points WHERE tier = ? AND series = ? "
                "AND t >= ? AND t <= ? ORDER BY t", (level, sid, t_from, t_to)).fetchall()
        if not rows:
            empty = np.empty(0)
            return empty, empty, empty
        data = np.array(rows, dtype=np.float64)
        return data[:, 0], data[:, 1], data[:, 2]

    def row_count(self, tier: int | None = None) -> int:
        with self._write_lock:
            if tier is None:
                return self._conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            return self._conn.execute("SELECT COUNT(*) FROM points WHERE tier = ?",
                                      (tier,)).fetchone()[0]
