"""The user's preferences, kept with QSettings (``~/.config/hvconsole/hvconsole.conf``).

Why a table of ``Setting``s: every preference has a key, a default and a rule that keeps a
stored value sane (a hand-edited file with "interval = 0.01" must not make the app sample
a hundred times a second). Pages of the Preferences dialog read and write through
``value``/``set_value``, and whoever uses a preference listens to ``changed(key)``.
Adding a preference is one ``Setting`` line here plus a widget on a page.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QSettings, Signal

from app import settings_file

SAMPLING_INTERVAL = "perf/interval_s"
COLLECT_DISK = "perf/collect_disk"
COLLECT_NET = "perf/collect_net"
PER_CORE_HOST_CPU = "perf/per_core_host_cpu"
HISTORY_DAYS = "perf/history_days"
ALERT_RULES = "alerts/rules"
CUSTOM_FIELDS = "organize/fields"     # app.organize.fields: [{"name", "kind"}, ...]
TREE_VIEW = "organize/view"           # app.inventory.views.View.key: "server", "tag", ...

MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 300.0
MIN_HISTORY_DAYS = 1
MAX_HISTORY_DAYS = 90


# What the Alerts tab watches until the user makes rules of their own (app.perf.alerts):
# a VM's CPU above 90 % for 5 minutes, a server's memory above 90 % for 5 minutes.
DEFAULT_ALERT_RULES = (
    {"target": "*vm", "metric": "cpu_percent", "threshold": 90.0, "minutes": 5.0,
     "enabled": True, "rule_id": "default-vm-cpu"},
    {"target": "*host", "metric": "mem_percent", "threshold": 90.0, "minutes": 5.0,
     "enabled": True, "rule_id": "default-host-memory"},
)


def _to_bool(value: Any) -> bool:
    # QSettings' INI backend hands booleans back as the strings "true"/"false".
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _clamped(kind: Callable, low: float, high: float) -> Callable[[Any], Any]:
    def convert(value: Any):
        number = float(value)
        if math.isnan(number):
            raise ValueError("not a number")
        # Clamped before the conversion: int("inf") raises OverflowError, which no caller
        # expects (a hand-edited "history_days = inf" stopped the start; found by
        # benchmarks/fuzz_campaign.py).
        return kind(min(high, max(low, number)))
    return convert


def _json_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    parsed = json.loads(value) if value else []
    if not isinstance(parsed, list):
        raise ValueError("not a list")
    return parsed


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    convert: Callable[[Any], Any]   # raises (TypeError/ValueError) for nonsense
    stored: Callable[[Any], Any] = lambda v: v  # how QSettings keeps it


SETTINGS = {s.key: s for s in (
    Setting(SAMPLING_INTERVAL, 2.0, _clamped(float, MIN_INTERVAL_S, MAX_INTERVAL_S)),
    Setting(COLLECT_DISK, True, _to_bool),
    Setting(COLLECT_NET, True, _to_bool),
    Setting(PER_CORE_HOST_CPU, True, _to_bool),
    Setting(HISTORY_DAYS, 7, _clamped(int, MIN_HISTORY_DAYS, MAX_HISTORY_DAYS)),
    Setting(ALERT_RULES, [dict(r) for r in DEFAULT_ALERT_RULES], _json_list,
            stored=json.dumps),
    Setting(CUSTOM_FIELDS, [], _json_list, stored=json.dumps),
    Setting(TREE_VIEW, "server", str),
)}


class Preferences(QObject):
    """``value(key)`` is always a sane value of the setting's type (its default when the
    stored one is unreadable); ``set_value`` stores it and emits ``changed(key)`` when the
    value really changed."""

    changed = Signal(str)

    def __init__(self, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings(
            "hvconsole", "hvconsole")

    def value(self, key: str) -> Any:
        setting = SETTINGS[key]
        raw = self._settings.value(key, None)
        if raw is None:
            return setting.default
        try:
            return setting.convert(raw)
        except (TypeError, ValueError):
            return setting.default

    def set_value(self, key: str, value: Any) -> None:
        setting = SETTINGS[key]
        value = setting.convert(value)
        if value == self.value(key) and self._settings.contains(key):
            return
        self._settings.setValue(key, setting.stored(value))
        settings_file.sync(self._settings)
        self.changed.emit(key)

    # Shorthands for the preferences read most.

    @property
    def interval_s(self) -> float:
        return self.value(SAMPLING_INTERVAL)

    @property
    def groups(self) -> frozenset[str]:
        """The statistics groups to collect (see connectors.libvirt.stats.GROUP_FLAGS)."""
        groups = {"state", "cpu", "vcpu", "balloon"}
        if self.value(COLLECT_DISK):
            groups.add("disk")
        if self.value(COLLECT_NET):
            groups.add("net")
        return frozenset(groups)

    @property
    def per_core_host_cpu(self) -> bool:
        return self.value(PER_CORE_HOST_CPU)

    @property
    def history_days(self) -> int:
        return self.value(HISTORY_DAYS)
