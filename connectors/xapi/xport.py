"""XAPI's ``/rrd_updates`` answer (rrdtool's "xport" XML) as plain numbers.

``GET /rrd_updates?session_id=…&start=T&cf=AVERAGE&interval=5&host=true`` returns every
data source of the host and its VMs since ``T`` at the step asked for:

    <xport><meta><start>…</start><step>5</step><end>…</end><rows>2</rows>
      <columns>2</columns><legend><entry>AVERAGE:vm:<uuid>:cpu0</entry>…</legend></meta>
      <data><row><t>1700000005</t><v>0.25</v>…</row>…</data></xport>

``end`` is the ``start`` of the next incremental request. XAPI keeps longer history at
coarser steps (5 s for 10 min, 1 min for 2 h, 1 h for a week, 1 day for a year): asking
with a ``start`` an hour, a day or a week back and the matching interval backfills the
graphs. Values are floats, "NaN" where nothing was recorded. Anything malformed raises
``XportError``; nothing else escapes, whatever the bytes.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass


class XportError(ValueError):
    """The server's rrd_updates answer is not xport XML."""


@dataclass(frozen=True)
class Column:
    cf: str            # "AVERAGE"
    owner: str         # "vm", "host", "sr"
    uuid: str
    metric: str        # "cpu0", "memory_internal_free", "vif_0_rx", …

    @classmethod
    def parse(cls, entry: str) -> Column:
        parts = entry.split(":", 3)
        if len(parts) != 4 or not all(parts[:3]):
            raise XportError(f"an rrd_updates column is not cf:owner:uuid:name: {entry!r}")
        return cls(*parts)


@dataclass(frozen=True)
class Xport:
    start: int
    step: int
    end: int
    columns: tuple[Column, ...]
    rows: tuple[tuple[int, tuple[float, ...]], ...]     # (timestamp, one value a column)

    def series(self, owner: str, uuid: str, metric: str) -> list[tuple[int, float]]:
        """(time, value) of one data source, oldest first, NaNs left out."""
        for index, column in enumerate(self.columns):
            if (column.owner, column.uuid, column.metric) == (owner, uuid, metric):
                return sorted((t, values[index]) for t, values in self.rows
                              if not math.isnan(values[index]))
        return []


def _int(element: ElementTree.Element | None, what: str) -> int:
    if element is None or element.text is None:
        raise XportError(f"rrd_updates lacks its {what}")
    try:
        return int(element.text.strip())
    except ValueError:
        raise XportError(f"rrd_updates' {what} is not a number: {element.text!r}") from None


def _float(text: str | None) -> float:
    if text is None:
        return math.nan
    try:
        return float(text.strip())
    except ValueError:
        raise XportError(f"an rrd_updates value is not a number: {text!r}") from None


def parse(body: bytes) -> Xport:
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError, RecursionError) as exc:
        raise XportError(f"rrd_updates is not XML ({exc})") from None
    if root.tag != "xport":
        raise XportError("rrd_updates' answer is not an xport document")
    meta = root.find("meta")
    if meta is None:
        raise XportError("rrd_updates lacks its meta section")
    legend = meta.find("legend")
    columns = tuple(Column.parse(entry.text or "")
                    for entry in (legend if legend is not None else ()))
    rows = []
    data = root.find("data")
    for row in (data if data is not None else ()):
        if row.tag != "row":
            continue
        stamp = _int(row.find("t"), "row time")
        values = tuple(_float(v.text) for v in row.findall("v"))
        if len(values) != len(columns):
            raise XportError(f"an rrd_updates row has {len(values)} values for "
                             f"{len(columns)} columns")
        rows.append((stamp, values))
    step = _int(meta.find("step"), "step")
    if step <= 0:
        raise XportError("rrd_updates' step is not positive")
    return Xport(_int(meta.find("start"), "start"), step, _int(meta.find("end"), "end"),
                 columns, tuple(rows))
