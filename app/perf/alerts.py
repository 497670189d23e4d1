"""Performance alerts: "CPU above 90 % for 5 minutes", per VM or per host, as XenCenter's
perfmon alerts.

A rule names what it watches (every VM, every host, or one object by its key), a metric,
a threshold and for how long the value must stay above it. ``AlertEngine`` checks the rules
on every tick of ``PerfMonitor`` with numpy over all VMs of the tick at once, and remembers
only the objects currently above a threshold, so 10,000 quiet VMs cost one comparison
each. An alert fires once when an object has been above for the whole period, and may fire
again only after the value went back below (or the alert was dismissed and the condition
was met afresh). A missing value (NaN: no data this tick) counts as "not above": a gap
must not make an alert.

Alerts land in ``AlertsModel`` (the Alerts list, dismissable) and in the Events log.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal

from app import preferences as prefs
from app.perf.monitor import PerfMonitor, vm_values

ALL_VMS = "*vm"
ALL_HOSTS = "*host"
ALERT_CATEGORY = "alert"

# metric → (words, unit, scale from the stored number to the unit shown)
METRICS = {
    "cpu_percent": ("CPU usage", "%", 1.0),
    "mem_percent": ("Memory usage", "%", 1.0),
    "disk_bps": ("Disk throughput", "MB/s", 1e-6),
    "net_bps": ("Network throughput", "MB/s", 1e-6),
}
HOST_SOURCES = {"disk_bps": ("vms_disk_rd_bps", "vms_disk_wr_bps"),
                "net_bps": ("vms_net_rx_bps", "vms_net_tx_bps")}


@dataclass(frozen=True)
class AlertRule:
    """``target``: ALL_VMS, ALL_HOSTS, "vm:<uuid>" or "host:<uri>". ``threshold`` is in the
    metric's unit (percent, MB/s)."""

    target: str
    metric: str
    threshold: float
    minutes: float = 5.0
    enabled: bool = True
    rule_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def for_vms(self) -> bool:
        return self.target == ALL_VMS or self.target.startswith("vm:")

    def describe(self) -> str:
        words, unit, _ = METRICS[self.metric]
        return f"{words} above {self.threshold:g} {unit} for {self.minutes:g} min"

    @classmethod
    def from_dict(cls, d: dict) -> "AlertRule":
        rule = cls(str(d["target"]), str(d["metric"]), float(d["threshold"]),
                   float(d.get("minutes", 5.0)), bool(d.get("enabled", True)),
                   str(d.get("rule_id") or uuid.uuid4().hex[:8]))
        if rule.metric not in METRICS:
            raise ValueError(f"unknown metric {rule.metric!r}")
        return rule


def load_rules(preferences: prefs.Preferences) -> list[AlertRule]:
    rules = []
    for d in preferences.value(prefs.ALERT_RULES):
        try:
            rules.append(AlertRule.from_dict(d))
        except (KeyError, TypeError, ValueError):
            continue  # a hand-edited rule that makes no sense is skipped, not fatal
    return rules


def save_rules(preferences: prefs.Preferences, rules: list[AlertRule]) -> None:
    preferences.set_value(prefs.ALERT_RULES, [asdict(r) for r in rules])


@dataclass(frozen=True)
class Alert:
    wall: float
    conn_id: str
    key: str            # VM UUID, or the conn_id for a host
    name: str
    rule: AlertRule
    value: float        # in the rule's unit

    @property
    def message(self) -> str:
        words, unit, _ = METRICS[self.rule.metric]
        return (f"{words} has been above {self.rule.threshold:g} {unit} for "
                f"{self.rule.minutes:g} min (now {self.value:.1f} {unit})")


class AlertEngine(QObject):
    """Checks ``rules`` on every tick of ``monitor``; ``alertRaised(Alert)`` per alert."""

    alertRaised = Signal(object)

    def __init__(self, monitor: PerfMonitor, model: "AlertsModel | None" = None,
                 events_log=None, preferences: prefs.Preferences | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self.model = model
        self.events_log = events_log
        self.preferences = preferences
        self.rules: list[AlertRule] = load_rules(preferences) if preferences else []
        # (rule_id, conn_id, key) → [since (wall), fired]
        self._above: dict[tuple[str, str, str], list] = {}
        monitor.ticked.connect(self.check)
        self._sample_targets()
        if preferences is not None:
            preferences.changed.connect(self._preference_changed)

    def set_rules(self, rules: list[AlertRule]) -> None:
        self.rules = list(rules)
        ids = {r.rule_id for r in rules}
        self._above = {k: v for k, v in self._above.items() if k[0] in ids}
        self._sample_targets()

    def _sample_targets(self) -> None:
        """A VM named by a rule is sampled on every tick, like one on screen."""
        self.monitor.set_hot("alerts", {r.target[3:] for r in self.rules
                                        if r.enabled and r.for_vms and r.target != ALL_VMS})

    def _preference_changed(self, key: str) -> None:
        if key == prefs.ALERT_RULES:
            self.set_rules(load_rules(self.preferences))

    def check(self, conn_id: str) -> None:
        tick = self.monitor.latest_tick(conn_id)
        if tick is None:
            return
        for rule in self.rules:
            if not rule.enabled:
                continue
            scale = METRICS[rule.metric][2]
            if rule.for_vms:
                keys = tick.vms.keys
                values = vm_values(tick, rule.metric) * scale
                if rule.target != ALL_VMS:
                    row = tick.vms.index.get(rule.target[3:])
                    if row is None:
                        continue
                    keys, values = [keys[row]], values[row:row + 1]
            else:
                host = self.monitor.manager.host(conn_id)
                if rule.target != ALL_HOSTS and (host is None or
                                                 rule.target != f"host:{host.uri}"):
                    continue
                keys, values = [conn_id], np.array([self._host_value(conn_id, rule)
                                                   * scale])
            with np.errstate(invalid="ignore"):
                above = np.flatnonzero(values > rule.threshold)
            # A tick that sampled only the hot VMs says nothing about the others.
            sampled = tick.vms.index if rule.for_vms and not tick.full else None
            self._follow(rule, conn_id, [keys[i] for i in above.tolist()],
                         values[above], tick.wall, sampled)

    def _host_value(self, conn_id: str, rule: AlertRule) -> float:
        m = self.monitor
        if rule.metric == "mem_percent":
            total = m.host_latest(conn_id, "mem_total_kib")
            used = m.host_latest(conn_id, "mem_used_kib")
            return used / total * 100.0 if total > 0 else float("nan")
        sources = HOST_SOURCES.get(rule.metric)
        if sources is not None:
            return sum(m.host_latest(conn_id, s) for s in sources)
        return m.host_latest(conn_id, rule.metric)

    def _follow(self, rule: AlertRule, conn_id: str, above_keys: list[str],
                values: np.ndarray, wall: float, sampled: dict | None = None) -> None:
        still = set()
        for key, value in zip(above_keys, values.tolist()):
            ident = (rule.rule_id, conn_id, key)
            still.add(ident)
            state = self._above.setdefault(ident, [wall, False])
            if not state[1] and wall - state[0] >= rule.minutes * 60.0:
                state[1] = True
                self._raise(Alert(wall, conn_id, key, self._name(conn_id, key), rule,
                                  value))
        for ident in [k for k in self._above if k[0] == rule.rule_id and k[1] == conn_id
                      and k not in still and (sampled is None or k[2] in sampled)]:
            del self._above[ident]

    def _name(self, conn_id: str, key: str) -> str:
        manager = self.monitor.manager
        if key == conn_id:
            return manager.label(conn_id)
        host = manager.host(conn_id)
        vm = host.vm(key) if host is not None else None
        return vm.name if vm is not None else key

    def _raise(self, alert: Alert) -> None:
        if self.model is not None:
            self.model.add(alert)
        if self.events_log is not None:
            self.events_log.add("warning", ALERT_CATEGORY, alert.name, alert.message)
        self.alertRaised.emit(alert)


class AlertsModel(QAbstractTableModel):
    """The Alerts list, newest first; ``dismiss(rows)`` and ``dismiss_all()`` remove."""

    COLUMNS = ("Time", "Object", "Alert")
    ALERT_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None, limit: int = 1000) -> None:
        super().__init__(parent)
        self._alerts: list[Alert] = []
        self._limit = limit

    def alerts(self) -> list[Alert]:
        return list(self._alerts)

    def add(self, alert: Alert) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._alerts.insert(0, alert)
        self.endInsertRows()
        if len(self._alerts) > self._limit:
            self.beginRemoveRows(QModelIndex(), self._limit, len(self._alerts) - 1)
            del self._alerts[self._limit:]
            self.endRemoveRows()

    def dismiss(self, rows: list[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._alerts):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._alerts[row]
                self.endRemoveRows()

    def dismiss_all(self) -> None:
        self.beginResetModel()
        self._alerts.clear()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._alerts)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        alert = self._alerts[index.row()]
        if role == self.ALERT_ROLE:
            return alert
        if role == Qt.ItemDataRole.DisplayRole:
            column = index.column()
            if column == 0:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(alert.wall))
            if column == 1:
                return alert.name
            return alert.message
        return None
