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

Alerts land in ``AlertsModel`` (the Alerts list, dismissable) and in the Events log. An
alert is *firing* from then until its value goes back below the threshold, the object
goes away, its rule is removed or its host stops being sampled; the model counts the
firing ones for the Alerts tab's title and the status bar.

With no rules of one's own there are two defaults (``DEFAULT_RULES`` in app.preferences):
a VM's CPU above 90 % for 5 minutes and a server's memory above 90 % for 5 minutes: a
VM spinning at full speed and a host running out of memory are what a new user wants to
hear about first.
"""
from __future__ import annotations

import math
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal

from app.qt_types import AnyIndex

from app import colours
from app import preferences as prefs
from app.perf.monitor import PerfMonitor, vm_values
from connectors.libvirt.model import ConnState

ALL_VMS = "*vm"
ALL_HOSTS = "*host"
ALERT_CATEGORY = "alert"

# metric → (words, unit, scale from the stored number to the unit shown). Throughput is
# in MiB/s, as memory and the graphs count (binary units everywhere).
METRICS = {
    "cpu_percent": ("CPU usage", "%", 1.0),
    "mem_percent": ("Memory usage", "%", 1.0),
    "disk_bps": ("Disk throughput", "MiB/s", 1.0 / 1048576.0),
    "net_bps": ("Network throughput", "MiB/s", 1.0 / 1048576.0),
}


def format_duration(seconds: float) -> str:
    """12 → "12 s", 300 → "5 min", 90 → "1 min 30 s", 5400 → "1 h 30 min": how a person
    says a duration, never "0.2 min" or "5.00"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(seconds // 60, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*(hours?|h|minutes?|mins?|m|seconds?|"
                            r"secs?|s)?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int | None:
    """"5 min", "1 h 30 min", "90 s", "2" (minutes) → seconds; None if it is not one."""
    text = text.strip()
    if not text:
        return None
    total, pos = 0.0, 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None or match.end() == pos:
            return None
        unit = (match.group(2) or "m")[0].lower()
        total += float(match.group(1).replace(",", ".")) * _UNIT_SECONDS[unit]
        pos = match.end()
    return int(round(total))
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
        return (f"{words} above {self.threshold:g} {unit} for "
                f"{format_duration(self.minutes * 60.0)}")

    def target_words(self) -> str:
        if self.target == ALL_VMS:
            return "Every VM"
        if self.target == ALL_HOSTS:
            return "Every server"
        return ("VM " if self.for_vms else "Server ") + self.target.split(":", 1)[1]

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
                f"{format_duration(self.rule.minutes * 60.0)} (now {self.value:.1f} {unit})")

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.rule.rule_id, self.conn_id, self.key)

    # What AlertsModel asks every kind of alert (app.server_alerts.PoolAlert too).
    on_server = False           # dismissed here, not on a server
    severity = "warning"
    tooltip = None

    def status_text(self, ended: float | None) -> str:
        if ended is None:
            return "Firing"
        return "Ended " + time.strftime("%H:%M:%S", time.localtime(ended))


class AlertEngine(QObject):
    """Checks ``rules`` on every tick of ``monitor``; ``alertRaised(Alert)`` per alert,
    ``rulesChanged()`` when the rules were replaced."""

    alertRaised = Signal(object)
    rulesChanged = Signal()

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
        monitor.collectorsChanged.connect(self._sampling_changed)
        monitor.manager.stateChanged.connect(self._sampling_changed)
        self._sample_targets()
        if preferences is not None:
            preferences.changed.connect(self._preference_changed)

    def set_rules(self, rules: list[AlertRule]) -> None:
        self.rules = list(rules)
        ids = {r.rule_id for r in rules}
        for ident in [k for k in self._above if k[0] not in ids]:
            self._forget(ident)
        self._sample_targets()
        self.rulesChanged.emit()

    def _forget(self, ident: tuple[str, str, str], wall: float | None = None) -> None:
        """The object is no longer above (or no longer watched): its alert stops firing."""
        state = self._above.pop(ident, None)
        if state is not None and state[1] and self.model is not None:
            self.model.end(ident, time.time() if wall is None else wall)

    def _sampling_changed(self, *_args) -> None:
        """A host that is no longer connected (or sampled) cannot say its alerts still
        hold: they stop firing, and start afresh when the condition is met again. A
        XenAPI pool is "sampled" while its RRD feed follows it."""
        manager = self.monitor.manager
        for ident in list(self._above):
            server = manager.server(ident[1])
            sampled = self.monitor.collector(ident[1]) is not None or \
                self.monitor.serves_pool(ident[1])
            if not sampled or server is None or server.state is not ConnState.CONNECTED:
                self._forget(ident)

    def _sample_targets(self) -> None:
        """A VM named by a rule is sampled on every tick, like one on screen."""
        self.monitor.set_hot("alerts", {r.target[3:] for r in self.rules
                                        if r.enabled and r.for_vms and r.target != ALL_VMS})

    def _preference_changed(self, key: str) -> None:
        if key == prefs.ALERT_RULES and self.preferences is not None:
            self.set_rules(load_rules(self.preferences))

    def check(self, conn_id: str) -> None:
        if self.monitor.serves_pool(conn_id):
            self._check_pool(conn_id)
            return
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

    def _check_pool(self, conn_id: str) -> None:
        """A XenAPI pool's figures come from its hosts' RRDs (app.perf.xapi_rrd), every
        VM of the pool in each answer: the same rules, read from the feed's newest row."""
        pool = self.monitor.manager.pool(conn_id)
        feed = self.monitor.pools
        if pool is None or feed is None or conn_id not in feed.pools:
            return
        wall = feed.pools[conn_id].last_wall
        if not math.isfinite(wall):
            return
        vm_keys = [vm.key for vm in pool.vms() if vm.state.is_active
                   and not vm.is_control_domain]
        # Every VM's figure of a metric is read once per check (one Python call per VM
        # and metric, on the UI thread), however many rules watch that metric.
        every_vm: dict[str, np.ndarray] = {}
        for rule in self.rules:
            if not rule.enabled:
                continue
            scale = METRICS[rule.metric][2]
            if rule.for_vms and rule.target == ALL_VMS:
                keys = vm_keys
                if rule.metric not in every_vm:
                    every_vm[rule.metric] = np.array(
                        [self._pool_vm_value(conn_id, k, rule.metric) for k in vm_keys],
                        dtype=np.float64)
                values = every_vm[rule.metric] * scale
            elif rule.for_vms:
                key = rule.target[3:]
                keys = [key] if key in vm_keys else []
                values = np.array([self._pool_vm_value(conn_id, k, rule.metric)
                                   for k in keys], dtype=np.float64) * scale
            else:
                if rule.target not in (ALL_HOSTS, f"host:{pool.uri}"):
                    continue
                keys = [conn_id]
                values = np.array([self._host_value(conn_id, rule) * scale])
            with np.errstate(invalid="ignore"):
                above = np.flatnonzero(values > rule.threshold)
            self._follow(rule, conn_id, [keys[i] for i in above.tolist()], values[above],
                         wall)

    def _pool_vm_value(self, conn_id: str, key: str, metric: str) -> float:
        latest = self.monitor.vm_latest
        if metric == "mem_percent":
            assigned = latest(conn_id, key, "mem_assigned_kib")
            used = latest(conn_id, key, "mem_used_kib")
            return min(100.0, used / assigned * 100.0) if assigned > 0 else math.nan
        if metric == "disk_bps":
            return latest(conn_id, key, "disk_rd_bps") + latest(conn_id, key, "disk_wr_bps")
        if metric == "net_bps":
            return latest(conn_id, key, "net_rx_bps") + latest(conn_id, key, "net_tx_bps")
        return latest(conn_id, key, metric)

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
        for key, value in zip(above_keys, values.tolist(), strict=True):
            ident = (rule.rule_id, conn_id, key)
            still.add(ident)
            state = self._above.setdefault(ident, [wall, False])
            if not state[1] and wall - state[0] >= rule.minutes * 60.0:
                state[1] = True
                self._raise(Alert(wall, conn_id, key, self._name(conn_id, key), rule,
                                  value))
        for ident in [k for k in self._above if k[0] == rule.rule_id and k[1] == conn_id
                      and k not in still and (sampled is None or k[2] in sampled)]:
            self._forget(ident, wall)

    def _name(self, conn_id: str, key: str) -> str:
        manager = self.monitor.manager
        if key == conn_id:
            return manager.label(conn_id)
        server = manager.server(conn_id)       # a libvirt host or a XenAPI pool
        vm = server.vm(key) if server is not None else None
        return vm.name if vm is not None else key

    def _raise(self, alert: Alert) -> None:
        if self.model is not None:
            self.model.add(alert)
        if self.events_log is not None:
            self.events_log.add("warning", ALERT_CATEGORY, alert.name, alert.message)
        self.alertRaised.emit(alert)


class AlertsModel(QAbstractTableModel):
    """The Alerts list, newest first; ``dismiss(rows)`` and ``dismiss_all()`` remove.
    ``firingChanged(count)``: the number of listed alerts still firing changed.

    Two kinds of alert share the list: HVConsole's own (``Alert``, from the rules) and
    those a server keeps itself (``app.server_alerts.PoolAlert``, XAPI messages). Both
    answer ``wall``, ``name``, ``message``, ``ident``, ``severity``, ``status_text`` and
    ``on_server``. Dismissing one of ours removes it here; one kept on a server is handed
    to ``serverDismissRequested(list)`` and stays listed until the server says it is gone
    (``remove_where``): a dismissal the server refused must not look done."""

    COLUMNS = ("Time", "Object", "Alert", "Status")
    ALERT_ROLE = Qt.ItemDataRole.UserRole + 1
    FIRING_ROLE = Qt.ItemDataRole.UserRole + 2

    firingChanged = Signal(int)
    serverDismissRequested = Signal(list)

    def __init__(self, parent: QObject | None = None, limit: int = 1000) -> None:
        super().__init__(parent)
        self._alerts: list[Any] = []           # Alert or app.server_alerts.PoolAlert
        self._ended: dict[int, float] = {}      # id(alert) → when it stopped firing
        self._limit = limit

    def alerts(self) -> list[Any]:
        return list(self._alerts)

    def firing_count(self) -> int:
        return sum(1 for a in self._alerts if self._firing(a))

    def _firing(self, alert) -> bool:
        if alert.on_server:
            return bool(alert.firing)
        return id(alert) not in self._ended

    def add(self, alert) -> None:
        before = self.firing_count()
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._alerts.insert(0, alert)
        self.endInsertRows()
        if len(self._alerts) > self._limit:
            self.beginRemoveRows(QModelIndex(), self._limit, len(self._alerts) - 1)
            for gone in self._alerts[self._limit:]:
                self._ended.pop(id(gone), None)
            del self._alerts[self._limit:]
            self.endRemoveRows()
        self._count_changed(before)

    def end(self, ident: tuple[str, str, str], wall: float) -> None:
        """The alert of ``ident`` (rule, connection, object) stopped firing at ``wall``."""
        before = self.firing_count()
        for row, alert in enumerate(self._alerts):
            if alert.ident == ident and id(alert) not in self._ended:
                self._ended[id(alert)] = wall
                last = self.index(row, len(self.COLUMNS) - 1)
                self.dataChanged.emit(self.index(row, 0), last)
        self._count_changed(before)

    def dismiss(self, rows: list[int]) -> None:
        rows = [row for row in set(rows) if 0 <= row < len(self._alerts)]
        remote = [self._alerts[row] for row in sorted(rows) if self._alerts[row].on_server]
        self._remove_rows([row for row in rows if not self._alerts[row].on_server])
        if remote:
            self.serverDismissRequested.emit(remote)

    def dismiss_all(self) -> None:
        remote = [a for a in self._alerts if a.on_server]
        if not remote:
            before = self.firing_count()
            self.beginResetModel()
            self._alerts.clear()
            self._ended.clear()
            self.endResetModel()
            self._count_changed(before)
            return
        self.remove_where(lambda a: not a.on_server)
        self.serverDismissRequested.emit(remote)

    def remove_where(self, gone) -> None:
        """Takes out every alert for which ``gone(alert)`` is true (a server forgot it)."""
        self._remove_rows([row for row, a in enumerate(self._alerts) if gone(a)])

    def _remove_rows(self, rows: list[int]) -> None:
        before = self.firing_count()
        for row in sorted(set(rows), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            self._ended.pop(id(self._alerts[row]), None)
            del self._alerts[row]
            self.endRemoveRows()
        self._count_changed(before)

    def _count_changed(self, before: int) -> None:
        now = self.firing_count()
        if now != before:
            self.firingChanged.emit(now)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._alerts)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        alert = self._alerts[index.row()]
        if role == self.ALERT_ROLE:
            return alert
        ended = self._ended.get(id(alert))
        if role == self.FIRING_ROLE:
            return self._firing(alert)
        if role == Qt.ItemDataRole.DisplayRole:
            column = index.column()
            if column == 0:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(alert.wall))
            if column == 1:
                return alert.name
            if column == 2:
                return alert.message
            return alert.status_text(ended)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 3 and ended is None:
            if alert.severity == "error" or not alert.on_server:
                return colours.brush(colours.ERROR)
            if alert.severity == "warning":
                return colours.brush(colours.WARNING)
        if role == Qt.ItemDataRole.ToolTipRole and alert.on_server:
            return alert.tooltip
        return None
