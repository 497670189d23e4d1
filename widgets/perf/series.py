"""The points a Performance graph's line draws: the history (older) joined to the live
ring buffers (newer), with gaps drawn as gaps.

History reads are SQLite queries: they run in a worker thread and are cached for a while
(every 10 s for the 10-minute range, every minute for longer ones); the live rings add the
newest ticks on top at every redraw. A range reads the history tier that keeps its whole
span (the full-resolution tier for 10 minutes: every sample as taken, so a sharp step
stays a step and a 30-second stop stays a gap), never a coarser one.
"""
from __future__ import annotations

import asyncio
import logging
import math
from typing import Callable, Protocol

import numpy as np

from widgets.perf.specs import CurveSpec

log = logging.getLogger(__name__)

HISTORY_REFRESH_S = {600.0: 10.0}   # others: 60 s


class SeriesSource(Protocol):
    """What the graphs read of app.perf.monitor.PerfMonitor."""

    history: object | None

    @property
    def interval_s(self) -> float: ...

    def live_series(self, conn_id: str, key: str | None, metric: str
                    ) -> tuple[np.ndarray, np.ndarray]: ...

    def detail_series(self, conn_id: str, detail_key: tuple
                      ) -> tuple[np.ndarray, np.ndarray]: ...

    def history_series(self, conn_id: str, key: str | None, metric: str, t_from: float,
                       t_to: float, tier: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]: ...

    def history_tier(self, span_s: float) -> int: ...

    def history_step(self, span_s: float) -> float: ...


def with_gaps(t: np.ndarray, v: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Only the known points, with a NaN between two that are further apart than 2.5
    steps: a pause in the data is drawn as a pause, not as a straight line across it.

    The step is at least the usual spacing of the points: a loaded host whose sampler
    skips every other tick still gets a line (with each skipped tick marked as a NaN
    between two real ones, connect="finite" would draw nothing at all), while a VM that
    was off for a while, a host that was away or a clock jump still shows as a break."""
    keep = np.isfinite(v)
    if not keep.all():
        t, v = t[keep], v[keep]
    if len(t) < 2:
        return t, v
    step = max(step, float(np.median(np.diff(t))))
    holes = np.flatnonzero(np.diff(t) > 2.5 * step) + 1
    if not len(holes):
        return t, v
    mid = (t[holes - 1] + t[holes]) / 2
    return np.insert(t, holes, mid), np.insert(v, holes, np.nan)


class HistoryCache:
    """The history of the lines on show, for one object and range at a time.
    ``on_loaded()`` is called (on the loop) when a read arrives."""

    def __init__(self, monitor: SeriesSource, on_loaded: Callable[[], None]) -> None:
        self.monitor = monitor
        self.on_loaded = on_loaded
        # (conn_id, key, range_s, metric) → (read at, times, values)
        self._data: dict[tuple, tuple[float, np.ndarray, np.ndarray]] = {}
        self._task: asyncio.Task | None = None
        self._task_for: tuple | None = None
        self._shown_for: tuple | None = None

    def clear(self) -> None:
        self._data.clear()
        self._shown_for = None

    def ready(self, conn_id: str, key: str | None, range_s: float,
              metrics: list[str]) -> bool:
        """Every metric has its history for ``range_s`` (tests, export)."""
        return self.monitor.history is None or all(
            (conn_id, key, range_s, m) in self._data for m in metrics)

    def maybe_load(self, conn_id: str, key: str | None, range_s: float,
                   metrics: list[str], now: float) -> None:
        if self.monitor.history is None:
            return
        wanted = (conn_id, key, range_s)
        self._shown_for = wanted
        if self._task is not None and not self._task.done():
            if self._task_for == wanted:
                return
            self._task.cancel()   # another object or range was chosen meanwhile
        period = HISTORY_REFRESH_S.get(range_s, 60.0)
        stale = [m for m in metrics if now - self._data.get(
            (conn_id, key, range_s, m), (-math.inf,))[0] > period]
        if not stale:
            return
        try:  # the app's (qasync) loop, also when called from outside a callback
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
        self._task_for = wanted
        self._task = loop.create_task(self._load(conn_id, key, range_s, stale, now))

    async def _load(self, conn_id, key, range_s, metrics, now) -> None:
        monitor = self.monitor
        tier = monitor.history_tier(range_s)

        def read():
            return {m: monitor.history_series(conn_id, key, m, now - range_s, now, tier)
                    for m in metrics}
        try:
            result = await asyncio.to_thread(read)
        except Exception:  # noqa: BLE001 - a damaged history must not break the tab
            log.exception("reading the performance history failed")
            return
        if (conn_id, key, range_s) != self._shown_for:
            return
        for metric, (t, v) in result.items():
            self._data[(conn_id, key, range_s, metric)] = (now, t, v)
        self.on_loaded()

    def points(self, conn_id: str, key: str | None, spec: CurveSpec, range_s: float,
               t_from: float) -> tuple[np.ndarray, np.ndarray]:
        """The line's (times, values) from t_from on, NaN between points further apart
        than 2.5 steps. Live ticks further apart than that (a wall-clock jump, a host that
        was away) are a gap too, not a straight line across."""
        monitor = self.monitor
        interval = monitor.interval_s
        if spec.detail is not None:
            t, v = monitor.detail_series(conn_id, spec.detail)
            t, v = with_gaps(t, v.astype(np.float64), interval)
        else:
            assert spec.metric is not None      # a line is a metric or a detail
            t, v = monitor.live_series(conn_id, key, spec.metric)
            t, v = with_gaps(t, v.astype(np.float64), interval)
            cached = self._data.get((conn_id, key, range_s, spec.metric))
            if cached is not None and len(cached[1]):
                step = monitor.history_step(range_s)
                ht, hv = cached[1], cached[2]
                older = ht < (t[0] if len(t) else math.inf)
                ht, hv = with_gaps(ht[older], hv[older], step)
                if len(ht) and len(t) and t[0] - ht[-1] > 2.5 * step:
                    ht, hv = np.append(ht, (ht[-1] + t[0]) / 2), np.append(hv, np.nan)
                t, v = np.concatenate((ht, t)), np.concatenate((hv, v))
        keep = t >= t_from
        if spec.scale != 1.0:
            v = v * spec.scale
        return t[keep], v[keep]
