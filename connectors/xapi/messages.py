"""XAPI messages (the ``message`` class) as the alerts HVConsole lists: ``ServerAlert``.

A XAPI message is an alert the pool keeps until someone destroys it (XenCenter's
"Dismiss"): a name (``ALARM``, ``HA_HOST_FAILED``, ``VM_CRASHED``…), a priority (1
data-loss imminent, 2 service-loss imminent, 3 service degraded, 4 service recovered,
5 informational), the class and UUID of the object it concerns, a body and a timestamp.

Two things need reading here rather than showing raw:
- the timestamp, which XAPI writes as ISO 8601 in its basic form (``20261203T06:00:00Z``)
  over XML-RPC and JSON-RPC alike, and other clients or dumps in the extended form
  (``2026-12-03T06:00:00.123Z``, ``+00:00``): ``parse_timestamp``;
- an ``ALARM``'s body, which is the alarm's value and its configuration as XML
  (``value: 0.97\\nconfig:\\n<variable><name value="cpu_usage"/><alarm_trigger_level
  value="0.9"/>…``): ``alarm_summary`` turns it into "CPU usage 97 % (alarm level
  90 %)", the way XenCenter words performance alarms.

Both parse what a server (or a hand-made message) sends, so both are fuzzed
(tests/unit/test_xapi_messages.py) and neither raises on bad input.
"""
from __future__ import annotations

import calendar
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Any

from connectors.libvirt.model import ObjectKind, ServerAlert

PRIORITY_WORDS = {1: "Data-loss imminent", 2: "Service-loss imminent",
                  3: "Service degraded", 4: "Service recovered", 5: "Informational"}
# The message classes that are tree rows; "Pool" is the pool's own row (kind None).
_KINDS = {"VM": ObjectKind.VM, "Host": ObjectKind.SERVER, "SR": ObjectKind.POOL}

_STAMP = re.compile(r"^\s*(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:[.,]\d+)?"
                    r"(Z|[+-]\d{2}:?\d{2})?\s*$")


def severity(priority: int) -> str:
    """The Events log's severity: data or service loss is an error, degraded a warning."""
    return "error" if priority <= 2 else "warning" if priority == 3 else "info"


def priority_words(priority: int) -> str:
    return PRIORITY_WORDS.get(priority, f"Priority {priority}")


def parse_timestamp(value: object) -> float | None:
    """XAPI's datetime (basic or extended ISO 8601, UTC unless an offset says otherwise)
    as epoch seconds; None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _STAMP.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59
            and second <= 60):
        return None
    try:
        wall = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (OverflowError, ValueError):
        return None
    zone = match.group(7)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        wall -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return float(wall)


def title_of(name: str) -> str:
    """``VM_CRASHED`` → "VM crashed", ``HA_HOST_FAILED`` → "HA host failed": the code in
    words, keeping the abbreviations people know in capitals."""
    words = [w for w in name.split("_") if w]
    if not words:
        return "Alert"
    keep = {"VM", "HA", "SR", "PBD", "VDI", "PIF", "VIF", "CPU", "IO", "PVS", "VMPP",
            "VMSS", "TLS", "NTP", "DR", "XAPI", "GPU", "VGPU"}
    out = []
    for i, word in enumerate(words):
        if word.upper() == "VMS":
            out.append("VMs")
        elif word.upper() in keep:
            out.append(word.upper())
        elif i == 0:
            out.append(word.capitalize())
        else:
            out.append(word.lower())
    return " ".join(out)


# alarm variable → (words, how its value reads)
def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _rate(value: float) -> str:
    return f"{value / 1048576:.1f} MiB/s"


def _kib(value: float) -> str:
    return f"{value / 1024:.0f} MiB"


_ALARMS: dict[str, tuple[str, Callable[[float], str]]] = {
    "cpu_usage": ("CPU usage", _percent),
    "network_usage": ("Network throughput", _rate),
    "disk_usage": ("Disk throughput", _rate),
    "memory_free_kib": ("Free memory", _kib),
    "mem_usage": ("Memory usage", _percent),
    "fs_usage": ("Control domain disk usage", _percent),
    "log_fs_usage": ("Control domain log disk usage", _percent),
    "dom0_mem_usage": ("Control domain memory usage", _percent),
}


def alarm_summary(body: str) -> str | None:
    """An ALARM message's body in words, or None when it is not one XAPI would write."""
    if not isinstance(body, str):
        return None
    head, sep, config = body.partition("config:")
    if not sep:
        return None
    value_match = re.search(r"value:\s*([-+0-9.eE]+|nan|inf)", head)
    if value_match is None:
        return None
    try:
        value = float(value_match.group(1))
        root = ET.fromstring(config.strip())
    except (ValueError, ET.ParseError):
        return None
    fields: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and "value" in child.attrib:
            fields[child.tag] = child.attrib["value"]
    variable = fields.get("name", "")
    if not variable:
        return None
    words, show = _ALARMS.get(variable, (variable.replace("_", " "), lambda v: f"{v:g}"))
    text = f"{words} {show(value)}"
    try:
        level = float(fields["alarm_trigger_level"])
    except (KeyError, ValueError):
        return text
    text += f" (alarm level {show(level)}"
    try:
        period = float(fields["alarm_trigger_period"])
        if period > 0:
            text += f", for {period:g} s"
    except (KeyError, ValueError):
        pass
    return text + ")"


def _int(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def server_alert(record: Mapping[str, Any], names: Callable[[ObjectKind | None, str], str],
                 ) -> ServerAlert | None:
    """A message record as a ServerAlert (None without a UUID to know it by).
    ``names(kind, uuid)`` is the object's name as the tree shows it ("" if unknown)."""
    if not isinstance(record, Mapping):
        return None
    uuid = record.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        return None
    name = str(record.get("name") or "")
    priority = _int(record.get("priority"), 5)
    cls = str(record.get("cls") or "")
    kind = _KINDS.get(cls)
    obj_key = str(record.get("obj_uuid") or "")
    body = str(record.get("body") or "").strip()
    title = title_of(name)
    if name == "ALARM":
        summary = alarm_summary(body)
        if summary is not None:
            title, body = f"Alarm: {summary}", ""
    wall = parse_timestamp(record.get("timestamp"))
    return ServerAlert(uuid, name, title, body, priority, kind, obj_key,
                       names(kind, obj_key), wall if wall is not None else 0.0)


__all__ = ["PRIORITY_WORDS", "alarm_summary", "parse_timestamp", "priority_words",
           "server_alert", "severity", "title_of"]
