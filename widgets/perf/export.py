"""The Performance tab's "Export CSV…": what the graphs draw, one row per time stamp."""
from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Sequence

import numpy as np

from connectors.atomic_file import replace_text

Shown = tuple[str, str, str, np.ndarray, np.ndarray]   # graph, line, unit, times, values


def write_csv(path: str, shown: Sequence[Shown]) -> int:
    """One column per line ("CPU: vCPU 0 (%)"), empty where a line has no point; returns
    the number of rows written. Raises OSError when the file cannot be written."""
    data = [d for d in shown if len(d[3])]
    times = np.unique(np.concatenate([d[3] for d in data])) if data else np.empty(0)
    columns = []
    for _title, _label, _unit, t, v in data:
        column = np.full(len(times), np.nan)
        column[np.searchsorted(times, t)] = v
        columns.append(column)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["time"] + [f"{title}: {label} ({unit})"
                                for title, label, unit, _t, _v in data])
    for r, t in enumerate(times.tolist()):
        stamp = datetime.fromtimestamp(t).isoformat(timespec="seconds")
        writer.writerow([stamp] + ["" if math.isnan(c[r]) else f"{c[r]:.6g}"
                                   for c in columns])
    # Whole or not at all: exporting over last week's file on a full disk keeps it.
    replace_text(path, text.getvalue(), mode=0o644)
    return len(times)
