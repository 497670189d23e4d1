"""Performance history on disk: RRD-style tiers in one SQLite file.

Tiers (``DEFAULT_TIERS``): every sample as taken (2 s by default) for 10 minutes; 1-minute
average and maximum for 1 day; 10-minute average and maximum for 1 week. A query picks the
finest tier that still covers its start, so a 10-minute graph has full resolution, a day
has 1,440 points and a week 1,008 — as many as a graph can show anyway.

Layout: one row ("frame") per tier, metric and time step holding the values of *every*
object as float32 arrays (BLOBs) indexed by a column number that ``columns`` assigns to
each object key once. A tick of 10,000 VMs is then ten rows (one per metric), not 100,000,
which is what keeps writing cheap at scale; reading one series takes a 4-byte slice out of
each frame (SQL substr on the BLOB). Each tier is pruned to its retention at every flush,
so the number of frames is bounded by metrics × Σ(retention/step) whatever the uptime;
the size grows with the number of objects: 4 bytes per object per frame for the full
tier, 10 (average, maximum, count) for the others — about 26 KB per object and metric
for the default tiers.

Why SQLite: it is in the standard library, it is crash-safe (WAL journal: a commit is
either on disk or not), it can be checked (PRAGMA quick_check) and read while the writer
appends, and range queries come from an index instead of hand-rolled file offsets. Fixed
RRD files would bound the size by construction too, but need their own torn-write
handling and one file per series.

Writes are batched: ``record()`` only queues the tick (the UI thread pays a copy of the
arrays); a writer thread folds the queue into the tiers and commits everything in one
transaction every ``flush_interval_s``. A SIGKILL therefore loses at most the last
interval. A coarse bucket still being filled is written at every flush and rewritten at
the next; after a restart, the stored part of the bucket is read back and merged (its
average weighted by its sample count), so each bucket stays exact.

A damaged file (garbage bytes, a truncated copy) is detected at open, moved aside as
``history.sqlite.corrupt-<time>``, and a fresh store is created: ``HistoryStore.warning``
then holds a sentence the app shows the user. Opening never raises for a damaged file.
A file that cannot be opened (a full disk, a read-only folder) is left alone and the
session's history is kept in an in-memory database, with a sentence in ``warning`` too;
a full disk later is reported through ``write_failure`` (tests/unit/test_atomic_file.py).
"""
from __future__ import annotations

import json
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

VALUE = np.dtype("<f4")   # stored values: float32, NaN = no value
COUNT = np.dtype("<u4")   # samples folded into a coarse value


@dataclass(frozen=True, slots=True)
class Tier:
    """``step_s`` 0 keeps samples as taken; otherwise buckets of step_s seconds."""

    name: str
    step_s: float
    retention_s: float


DEFAULT_TIERS = (Tier("full", 0, 10 * 60), Tier("1min", 60, 24 * 3600),
                 Tier("10min", 600, 7 * 24 * 3600))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS columns(
    source TEXT NOT NULL,     -- who records the frames: a connection (URI)
    object_key TEXT NOT NULL,
    col INTEGER NOT NULL,
    PRIMARY KEY(source, object_key),
    UNIQUE(source, col));
CREATE TABLE IF NOT EXISTS frames(
    id INTEGER PRIMARY KEY,
    tier INTEGER NOT NULL,
    source TEXT NOT NULL,
    metric TEXT NOT NULL,
    t REAL NOT NULL,          -- wall-clock seconds (bucket start for coarse tiers)
    avg BLOB NOT NULL,        -- float32 per column (the value itself in the full tier)
    max BLOB,                 -- float32 per column (coarse tiers)
    n BLOB,                   -- uint32 samples per column (coarse tiers)
    UNIQUE(tier, source, metric, t));
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


def _is_damage(err: BaseException) -> bool:
    """Damage (garbage bytes, a truncated copy) as opposed to a disk that refuses: only
    a damaged file is moved aside. Before this distinction a full disk at start made a
    good history file look damaged, moved it aside, and the start failed."""
    if isinstance(err, HistoryCorrupt):
        return True
    name = getattr(err, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    text = str(err).lower()
    return "not a database" in text or "malformed" in text


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
        # Reading every table once finds damage quick_check can miss in a fresh schema.
        conn.execute("SELECT COUNT(*), MAX(col) FROM columns").fetchone()
        conn.execute("SELECT COUNT(*) FROM frames").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _widen(a: np.ndarray, width: int, fill) -> np.ndarray:
    if len(a) >= width:
        return a
    out = np.full(width, fill, dtype=a.dtype)
    out[:len(a)] = a
    return out


class _Bucket:
    """One coarse bucket of one metric being filled: sum/count/max per column."""

    __slots__ = ("sum", "count", "max", "merged")

    def __init__(self) -> None:
        self.sum = np.zeros(0)
        self.count = np.zeros(0, dtype=np.int64)
        self.max = np.zeros(0)
        self.merged = False  # the part stored before a restart has been read back

    def add(self, cols: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values)
        cols, values = cols[ok], values[ok]
        if not len(cols):
            return
        width = int(cols.max()) + 1
        self.sum = _widen(self.sum, width, 0.0)
        self.count = _widen(self.count, width, 0)
        self.max = _widen(self.max, width, -np.inf)
        np.add.at(self.sum, cols, values)
        np.add.at(self.count, cols, 1)
        np.maximum.at(self.max, cols, values)

    def merge_stored(self, avg: bytes, mx: bytes, n: bytes) -> None:
        stored_n = np.frombuffer(n, COUNT).astype(np.int64)
        width = len(stored_n)
        self.sum = _widen(self.sum, width, 0.0)
        self.count = _widen(self.count, width, 0)
        self.max = _widen(self.max, width, -np.inf)
        has = stored_n > 0
        stored_avg = np.frombuffer(avg, VALUE).astype(np.float64)
        stored_max = np.frombuffer(mx, VALUE).astype(np.float64)
        self.sum[:width][has] += stored_avg[has] * stored_n[has]
        self.count[:width][has] += stored_n[has]
        self.max[:width][has] = np.maximum(self.max[:width][has], stored_max[has])

    def blobs(self) -> tuple[bytes, bytes, bytes]:
        has = self.count > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(has, self.sum / self.count, np.nan).astype(VALUE)
        mx = np.where(has, self.max, np.nan).astype(VALUE)
        return avg.tobytes(), mx.tobytes(), self.count.astype(COUNT).tobytes()


class HistoryStore:
    """Consolidated performance history of every connection, in one SQLite file.

    ``record(t, object_keys, metrics)``: one tick at wall-clock ``t``; ``metrics`` maps a
    metric name to an array (one value per object key, NaN = gap) or a float.
    ``series(object_key, metric, t_from, t_to) -> (t, avg, max)`` numpy arrays from the
    tier chosen by range. ``start()`` opens the file and starts the writer thread (the
    constructor touches neither disk nor threads); ``close()`` flushes and stops it.
    """

    def __init__(self, path: str | os.PathLike | None = None, *,
                 tiers: Sequence[Tier] = DEFAULT_TIERS, flush_interval_s: float = 10.0,
                 writer_thread: bool = True, clock=time.time) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.tiers = tuple(tiers)
        if not self.tiers or self.tiers[0].step_s != 0:
            raise ValueError("the first tier must keep samples as taken (step_s=0)")
        if any(t.step_s <= 0 for t in self.tiers[1:]):
            raise ValueError("coarse tiers need a positive step")
        self.flush_interval_s = flush_interval_s
        self.warning: str | None = None
        self.write_failure: str | None = None   # set by the writer thread, read by the app
        self._clock = clock
        self._lock = threading.Lock()        # guards the queue
        self._db_lock = threading.Lock()     # one user of the connection at a time
        self._queue: list[tuple[float, str, list[str], dict[str, np.ndarray]]] = []
        # (tier, source, metric) -> (bucket start, _Bucket)
        self._buckets: dict[tuple[int, str, str], tuple[float, _Bucket]] = {}
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._columns: dict[str, dict[str, int]] = {}   # source -> object key -> column
        self._where: dict[str, list[tuple[str, int]]] = {}  # object key -> (source, col)
        self._cols_cache: dict[str, tuple[list[str], np.ndarray]] = {}
        self._stop = threading.Event()
        self._writer_thread = writer_thread
        self._thread: threading.Thread | None = None

    def start(self) -> HistoryStore:
        """Opens (or, when damaged, moves aside and recreates) the file, reads its column
        map and starts the writer thread; returns the store."""
        if self._conn is not None:
            return self
        self._conn = self._open()
        # One row per source, not per column: each row fetched hands the GIL back and
        # waits up to 5 ms to take it again while another thread computes, which made
        # reading 5,000 columns on the window's thread take 30 s beside one busy thread.
        for source, pairs in sorted(self._conn.execute(
                "SELECT source, json_group_array(json_array(object_key, col)) "
                "FROM columns GROUP BY source")):
            for key, col in sorted(json.loads(pairs), key=lambda pair: pair[1]):
                self._columns.setdefault(source, {})[key] = col
                self._where.setdefault(key, []).append((source, col))
        if self._writer_thread:
            self._thread = threading.Thread(target=self._run, name="hvconsole-history",
                                            daemon=True)
            self._thread.start()
        return self

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the performance history was not started (start())")
        return self._conn

    # -- opening ------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return _connect(self.path)
        except (sqlite3.DatabaseError, HistoryCorrupt) as err:
            if not _is_damage(err):
                return self._in_memory(err)
            log.warning("performance history %s is damaged: %s", self.path, err)
            moved = _move_aside(self.path)
            self.warning = (f"The performance history file was damaged ({err}). It was "
                            f"moved to {moved.name} and a new history was started.")
            try:
                return _connect(self.path)
            except (sqlite3.DatabaseError, OSError) as again:
                return self._in_memory(again)
        except OSError as err:
            return self._in_memory(err)

    def _in_memory(self, err: BaseException) -> sqlite3.Connection:
        """A file that cannot be opened (a full disk, a read-only folder) is not a
        damaged one: it is left alone, and this session's history is kept in memory."""
        log.error("performance history %s cannot be opened: %s", self.path, err)
        self.warning = (f"The performance history file {self.path} could not be opened "
                        f"({err}). This session's history is kept in memory only; free "
                        "some disk space and restart HVConsole to keep it on disk.")
        return _connect(Path(":memory:"))

    # -- writing ------------------------------------------------------------------

    def record(self, t: float, object_keys: Sequence[str], metrics: dict,
               source: str = "") -> None:
        """Queue one tick (wall-clock ``t``) of one ``source`` (a connection: each has its
        own frames, so hosts ticking at the same instant never overwrite each other).
        Cheap: the arrays are copied, nothing else."""
        n = len(object_keys)
        snapshot = {m: (np.array(v, dtype=np.float64) if np.ndim(v)
                        else np.full(n, float(v)))
                    for m, v in metrics.items()}
        with self._lock:
            self._queue.append((float(t), str(source), list(object_keys), snapshot))

    def _columns_for(self, source: str, keys: list[str],
                     new: list[tuple[str, str, int]]) -> np.ndarray:
        cached = self._cols_cache.get(source)
        if cached is not None and keys == cached[0]:
            return cached[1]
        cols = self._columns.setdefault(source, {})
        for k in keys:
            if k not in cols:
                cols[k] = len(cols)
                self._where.setdefault(k, []).append((source, cols[k]))
                new.append((source, k, cols[k]))
        out = np.fromiter((cols[k] for k in keys), dtype=np.intp, count=len(keys))
        self._cols_cache[source] = (keys, out)
        return out

    def _bucket(self, level: int, source: str, metric: str, start: float,
                dirty: dict) -> _Bucket:
        key = (level, source, metric)
        current = self._buckets.get(key)
        if current is not None and current[0] == start:
            return current[1]
        if current is not None:
            dirty[(level, source, metric, current[0])] = current[1]  # the closed one
        bucket = _Bucket()
        self._buckets[key] = (start, bucket)
        return bucket

    def flush(self) -> int:
        """Write everything queued in one transaction and prune old frames; returns the
        number of frames written. Runs on the writer thread, or wherever it is called."""
        with self._db_lock:
            with self._lock:
                queue, self._queue = self._queue, []
            conn = self._db
            new_columns: list[tuple[str, str, int]] = []
            full_frames: list[tuple[object, ...]] = []
            dirty: dict[tuple[int, str, str, float], _Bucket] = {}
            for t, source, keys, metrics in queue:
                cols = self._columns_for(source, keys, new_columns)
                width = int(cols.max()) + 1 if len(cols) else 0
                for metric, values in metrics.items():
                    frame = np.full(width, np.nan, dtype=VALUE)
                    frame[cols] = values
                    full_frames.append((0, source, metric, t, frame.tobytes()))
                    for level in range(1, len(self.tiers)):
                        step = self.tiers[level].step_s
                        start = math.floor(t / step) * step
                        bucket = self._bucket(level, source, metric, start, dirty)
                        bucket.add(cols, values)
                        dirty[(level, source, metric, start)] = bucket
            now = self._clock()
            conn.execute("BEGIN")
            try:
                if new_columns:
                    conn.executemany("INSERT INTO columns(source, object_key, col) "
                                     "VALUES(?, ?, ?)", new_columns)
                conn.executemany("INSERT OR REPLACE INTO frames(tier, source, metric, t, avg)"
                                 " VALUES(?, ?, ?, ?, ?)", full_frames)
                coarse = []
                for (level, source, metric, start), bucket in dirty.items():
                    if not bucket.merged:
                        # A bucket begun before a restart: fold in what was stored.
                        bucket.merged = True
                        row = conn.execute(
                            "SELECT avg, max, n FROM frames WHERE tier=? AND source=? "
                            "AND metric=? AND t=?", (level, source, metric, start)).fetchone()
                        if row is not None and row[2] is not None:
                            bucket.merge_stored(*row)
                    coarse.append((level, source, metric, start, *bucket.blobs()))
                conn.executemany("INSERT OR REPLACE INTO frames(tier, source, metric, t, avg,"
                                 " max, n) VALUES(?, ?, ?, ?, ?, ?, ?)", coarse)
                for level, tier in enumerate(self.tiers):
                    conn.execute("DELETE FROM frames WHERE tier = ? AND t < ?",
                                 (level, now - tier.retention_s - tier.step_s))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:   # SQLite already rolled back after a full disk
                    conn.execute("ROLLBACK")
                raise
            return len(full_frames) + len(coarse)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self._flush_reporting()

    def _flush_reporting(self) -> None:
        """A flush that never raises: a full disk must not kill the thread or the app.
        The transaction is rolled back (the file keeps what it had), the ticks of that
        interval stay only in the live graphs, and ``write_failure`` says why until a
        flush succeeds again."""
        try:
            self.flush()
        except (sqlite3.Error, OSError) as exc:
            if self.write_failure is None:
                log.error("writing the performance history failed: %s", exc)
            self.write_failure = (
                f"The performance history could not be written to {self.path} ({exc}). "
                "Graphs go on from memory, but what they show now will be missing from "
                "the history; free some disk space and it is written again.")
        else:
            self.write_failure = None

    def close(self) -> None:
        """Flushes and closes. A read still running in a worker thread (a graph's history)
        finishes first; reads after this return nothing. (sqlite3 crashes the process when
        a connection is closed under a statement another thread is executing.)"""
        self._stop.set()
        if self._conn is None:          # never started: nothing to write
            self._closed = True
            return
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.flush()
        finally:
            with self._db_lock:
                self._closed = True
                if self._conn is not None:
                    self._conn.close()

    # -- reading ------------------------------------------------------------------

    def tier_for(self, t_from: float, t_to: float | None = None) -> int:
        """The finest tier whose retention still reaches back to ``t_from``."""
        return self.tier_for_span(self._clock() - t_from)

    def tier_for_span(self, span_s: float) -> int:
        """The finest tier that keeps ``span_s`` seconds. A graph of the last 10 minutes
        asks by its span, not by its start: a start taken a moment before the read is a
        few milliseconds older than 10 minutes by then, and reading by age picked the
        1-minute tier for every 10-minute graph."""
        for level, tier in enumerate(self.tiers):
            if span_s <= tier.retention_s:
                return level
        return len(self.tiers) - 1

    def series(self, object_key: str, metric: str, t_from: float, t_to: float,
               tier: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps, averages, maxima) between t_from and t_to (wall clock), oldest
        first, from the finest tier that covers the range (or ``tier``). In the full tier
        the maximum is the value itself. Steps without a value for this object are left
        out. Ticks still queued (younger than one flush) are not included: the live ring
        buffers have them."""
        level = self.tier_for(t_from, t_to) if tier is None else tier
        empty = np.empty(0)
        rows = []
        # Usually one source; more when the VM moved between hosts (both histories).
        for source, col in self._where.get(object_key, ()):
            offset = col * VALUE.itemsize + 1  # SQL substr counts from 1
            with self._db_lock:
                if self._closed:
                    return empty, empty, empty
                rows += self._db.execute(
                    "SELECT t, substr(avg, ?, 4), substr(max, ?, 4) FROM frames "
                    "WHERE tier = ? AND source = ? AND metric = ? AND t >= ? AND t <= ?",
                    (offset, offset, level, source, metric, t_from, t_to)).fetchall()
        rows = sorted(r for r in rows if r[1] is not None and len(r[1]) == 4)
        if not rows:
            return empty, empty, empty
        t = np.array([r[0] for r in rows], dtype=np.float64)
        avg = np.frombuffer(b"".join(r[1] for r in rows), VALUE).astype(np.float64)
        if level == 0:
            mx = avg.copy()
        else:
            mx = np.frombuffer(b"".join(r[2] for r in rows), VALUE).astype(np.float64)
        keep = np.isfinite(avg)
        return t[keep], avg[keep], mx[keep]

    def frame_count(self, tier: int | None = None) -> int:
        with self._db_lock:
            if tier is None:
                return self._db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM frames WHERE tier = ?",
                                      (tier,)).fetchone()[0]
