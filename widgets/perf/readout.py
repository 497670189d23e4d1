"""The hover read-out: the values of one graph's lines at one instant.

Why one instant: the lines of a graph are not equally long (per-vCPU lines start when
"Per vCPU" was ticked, and exist only live; a 1-hour graph's history is in 1-minute steps,
its live end in 2-second ticks). Taking each line's own nearest point mixed times: "CPU
0.3 %, vCPU 1: 98.9 %" joined a value of now to one of minutes ago. So the instant is the
point nearest to the pointer on any line, and each line reports its value *at that
instant* or "no data". All lines of one object are sampled on the same ticks (the same
time stamps in the rings and the history), so "at that instant" is an exact match up to a
small tolerance.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

import numpy as np

from widgets.perf.specs import format_value

Line = tuple[str, np.ndarray, np.ndarray]     # label, times, values (NaN: gap)


def nearest_instant(lines: Sequence[Line], x: float) -> float | None:
    """The time of the known point nearest to ``x`` on any line."""
    best = None
    for _label, t, v in lines:
        known = t[np.isfinite(v)]
        if not len(known):
            continue
        i = int(np.clip(np.searchsorted(known, x), 0, len(known) - 1))
        for j in (i - 1, i):
            if 0 <= j < len(known) and (best is None or abs(known[j] - x) < abs(best - x)):
                best = float(known[j])
    return best


def value_at(t: np.ndarray, v: np.ndarray, when: float, tolerance: float) -> float:
    """The line's known value at ``when`` (± tolerance), NaN when it has none there."""
    if not len(t):
        return float("nan")
    i = int(np.clip(np.searchsorted(t, when), 0, len(t) - 1))
    for j in (i, i - 1):
        if 0 <= j < len(t) and abs(t[j] - when) <= tolerance and np.isfinite(v[j]):
            return float(v[j])
    return float("nan")


def stamp(when: float) -> str:
    moment = datetime.fromtimestamp(when)
    if moment.date() == datetime.now().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def readout(title: str, unit: str, lines: Sequence[Line], x: float, *,
            tolerance: float, reach: float) -> str:
    """"CPU at 12:03:04 — CPU: 41.0 %, vCPU 0: no data". ``reach``: how far from the
    pointer a point may be and still be the one read (beyond: "no data" at the
    pointer's own time: the pointer is over a gap or before the data begin)."""
    when = nearest_instant(lines, x)
    if when is None or abs(when - x) > reach:
        return f"{title} at {stamp(x)}: no data"
    parts = [f"{label}: {format_value(value_at(t, v, when, tolerance), unit, 'no data')}"
             for label, t, v in lines]
    return f"{title} at {stamp(when)} — " + ", ".join(parts)
