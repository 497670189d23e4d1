"""Performance of XenServer / XCP-ng pools, from the RRDs XAPI keeps on its hosts.

libvirt hosts are sampled by HVConsole (app/perf/collector.py) and their history is
HVConsole's own (history.py). A XAPI host samples itself: every 5 s into round-robin
archives it keeps server-side (5 s for 10 minutes, 1 minute for 2 hours, 1 hour for a
week, 1 day for a year), served as ``/rrd_updates`` (connectors/xapi/xport.py). So for a
pool, ``XapiRrdFeed``:

- on connect, backfills the 1-hour, 1-day and 1-week ranges from those archives
  (``start`` that far back with the archive's step: 60 s, 3600 s, 3600 s);
- then asks every ``STEP_S`` for what is new since the last answer's ``end``
  (incremental, AVERAGE), which is the live series;
- turns XAPI's data sources into the metrics the Performance tab draws (cpu_percent,
  mem_*_kib, disk_*_bps, net_*_bps, and the host sums), per VM UUID and for the pool.

The PerfMonitor asks the feed for a pool's live and history series (``serves``), so the
same Performance tab, graphs and readouts show them. Fetching and parsing run in the
pool's worker threads; the loop only merges numpy arrays.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import weakref
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from connectors.libvirt.model import ConnState
from connectors.xapi import xport
from connectors.xapi.pool import XapiPool

log = logging.getLogger(__name__)

STEP_S = 5.0                 # XAPI's finest archive
LIVE_SPAN_S = 600.0          # ... which it keeps 10 minutes
BACKFILL = ((3600.0, 60), (86400.0, 3600), (7 * 86400.0, 3600))   # (range, step)
POOL = ""                    # the object key of the pool's own (host) figures

_VBD = re.compile(r"vbd_\w+_(read|write)$")
_VIF = re.compile(r"vif_\d+_(rx|tx)$")

Series = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]   # (object, metric) -> t, v


def metrics_of(doc: xport.Xport) -> Series:
    """The Performance tab's metrics per object (VM UUID; POOL for the hosts together)
    from one xport answer, oldest row first."""
    order = np.argsort([t for t, _ in doc.rows], kind="stable")
    times = np.array([doc.rows[i][0] for i in order], dtype=np.float64)
    values = np.array([doc.rows[i][1] for i in order], dtype=np.float64).reshape(
        len(times), len(doc.columns))
    by_owner: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(list))
    for index, column in enumerate(doc.columns):
        by_owner[(column.owner, column.uuid)][column.metric].append(index)
    out: Series = {}
    hosts: list[dict[str, np.ndarray]] = []
    vm_sums: dict[str, np.ndarray] = {}

    def total(columns: list[int]) -> np.ndarray:
        return values[:, columns].sum(axis=1) if columns else np.full(len(times), np.nan)

    def pick(sources: dict[str, list[int]], pattern: re.Pattern[str], which: str
             ) -> list[int]:
        return [i for name, cols in sources.items() if (m := pattern.match(name))
                and m.group(1) == which for i in cols]

    for (owner, uuid), sources in by_owner.items():
        cpus = [i for name, cols in sources.items()
                if re.fullmatch(r"cpu\d+", name) for i in cols]
        if owner == "vm":
            series = {"cpu_percent": values[:, cpus].mean(axis=1) * 100.0 if cpus
                      else np.full(len(times), np.nan)}
            memory = total(sources.get("memory", []))
            free_kib = total(sources.get("memory_internal_free", []))
            series["mem_assigned_kib"] = memory / 1024.0
            series["mem_used_kib"] = memory / 1024.0 - free_kib
            series["disk_rd_bps"] = total(pick(sources, _VBD, "read"))
            series["disk_wr_bps"] = total(pick(sources, _VBD, "write"))
            series["net_rx_bps"] = total(pick(sources, _VIF, "rx"))
            series["net_tx_bps"] = total(pick(sources, _VIF, "tx"))
            for name, array in series.items():
                out[(uuid, name)] = (times, array)
            for vm_metric, host_metric in (("disk_rd_bps", "vms_disk_rd_bps"),
                                           ("disk_wr_bps", "vms_disk_wr_bps"),
                                           ("net_rx_bps", "vms_net_rx_bps"),
                                           ("net_tx_bps", "vms_net_tx_bps")):
                vm_sums[host_metric] = np.nansum(
                    [vm_sums.get(host_metric, np.zeros(len(times))), series[vm_metric]],
                    axis=0)
        elif owner == "host":
            avg = sources.get("cpu_avg", [])
            host = {"cpu_percent": (values[:, avg[0]] if avg else
                                    values[:, cpus].mean(axis=1) if cpus
                                    else np.full(len(times), np.nan)) * 100.0,
                    "mem_total_kib": total(sources.get("memory_total_kib", [])),
                    "mem_free_kib": total(sources.get("memory_free_kib", []))}
            host["mem_used_kib"] = host["mem_total_kib"] - host["mem_free_kib"]
            hosts.append(host)
    if hosts:
        out[(POOL, "cpu_percent")] = (times, np.mean([h["cpu_percent"] for h in hosts],
                                                     axis=0))
        for name in ("mem_total_kib", "mem_free_kib", "mem_used_kib"):
            out[(POOL, name)] = (times, np.sum([h[name] for h in hosts], axis=0))
    for name, array in vm_sums.items():
        out[(POOL, name)] = (times, array)
    return out


class PoolSeries:
    """One pool's figures: the live window and the three backfilled ranges."""

    def __init__(self) -> None:
        self.live: Series = {}
        self.history: dict[float, Series] = {}
        self.end = 0            # the last answer's end: the next request's start
        self.last_wall = math.nan

    def extend_live(self, fresh: Series, now: float) -> None:
        for name, (t, v) in fresh.items():
            old_t, old_v = self.live.get(name, (np.empty(0), np.empty(0)))
            keep = old_t < (t[0] if len(t) else math.inf)
            t2 = np.concatenate((old_t[keep], t))
            v2 = np.concatenate((old_v[keep], v))
            recent = t2 >= now - LIVE_SPAN_S
            self.live[name] = (t2[recent], v2[recent])

    def latest(self, key: str, metric: str) -> float:
        t, v = self.live.get((key, metric), (np.empty(0), np.empty(0)))
        return float(v[-1]) if len(v) else math.nan


class XapiRrdFeed:
    """Follows every connected pool of ``manager``; ``ticked(conn_id)`` is called after
    each merge (the PerfMonitor's signal, so graphs redraw as for libvirt hosts)."""

    def __init__(self, manager, ticked: Callable[[str], None],
                 step_s: float = STEP_S) -> None:
        self._manager = weakref.ref(manager)
        self.ticked = ticked
        self.step_s = step_s
        self.pools: dict[str, PoolSeries] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        manager.stateChanged.connect(self._state_changed)
        manager.connectionRemoved.connect(self._stop)

    def serves(self, conn_id: str) -> bool:
        return conn_id in self.pools

    # ---- what the monitor asks ----

    def live_series(self, conn_id: str, key: str | None, metric: str
                    ) -> tuple[np.ndarray, np.ndarray]:
        pool = self.pools.get(conn_id)
        if pool is None:
            return np.empty(0), np.empty(0)
        return pool.live.get((key or POOL, metric), (np.empty(0), np.empty(0)))

    def history_series(self, conn_id: str, key: str | None, metric: str, t_from: float,
                       t_to: float) -> tuple[np.ndarray, np.ndarray]:
        """From the finest backfilled range that reaches back to t_from."""
        pool = self.pools.get(conn_id)
        if pool is None:
            return np.empty(0), np.empty(0)
        span = t_to - t_from
        for range_s, _step in BACKFILL:
            if range_s >= span * 0.99 or range_s == BACKFILL[-1][0]:
                t, v = pool.history.get(range_s, {}).get((key or POOL, metric),
                                                         (np.empty(0), np.empty(0)))
                inside = (t >= t_from) & (t <= t_to)
                return t[inside], v[inside]
        return np.empty(0), np.empty(0)

    def latest(self, conn_id: str, key: str | None, metric: str) -> float:
        pool = self.pools.get(conn_id)
        return math.nan if pool is None else pool.latest(key or POOL, metric)

    # ---- following the pools ----

    def _state_changed(self, conn_id: str) -> None:
        manager = self._manager()
        pool = manager.pool(conn_id) if manager is not None else None
        if pool is None:
            return
        running = self._tasks.get(conn_id)
        if pool.state is ConnState.CONNECTED:
            if running is None or running.done():
                self.pools.setdefault(conn_id, PoolSeries())
                self._tasks[conn_id] = asyncio.ensure_future(self._follow(conn_id, pool))
        elif running is not None:
            running.cancel()

    def _stop(self, conn_id: str) -> None:
        task = self._tasks.pop(conn_id, None)
        if task is not None:
            task.cancel()
        self.pools.pop(conn_id, None)

    async def close(self) -> None:
        for conn_id in list(self._tasks):
            self._stop(conn_id)

    async def _follow(self, conn_id: str, pool: XapiPool) -> None:
        series = self.pools[conn_id]
        now = time.time()
        try:
            for range_s, step in BACKFILL:
                doc = await self._get(pool, int(now - range_s), step)
                series.history[range_s] = metrics_of(doc)
            # A little short of the 5-second archive's reach, so it is that one that
            # answers (a start beyond it gets the minute archive).
            series.end = int(now - LIVE_SPAN_S + 60)
            while pool.state is ConnState.CONNECTED:
                doc = await self._get(pool, series.end, int(STEP_S))
                series.end = max(series.end, doc.end)
                series.last_wall = time.time()
                series.extend_live(metrics_of(doc), series.last_wall)
                self.ticked(conn_id)
                await asyncio.sleep(self.step_s)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - graphs stop; the connection goes on
            log.warning("performance of %s: %s", pool.uri, err)

    async def _get(self, pool: XapiPool, start: int, step: int) -> xport.Xport:
        body = await pool.fetch(f"/rrd_updates?start={start}&cf=AVERAGE&interval={step}"
                                "&host=true")
        return await asyncio.to_thread(xport.parse, body)
