"""Edit → Preferences: a list of pages on the left, the chosen page on the right.

Pages come from a registry: a page is a ``PreferencesPage`` subclass decorated with
``@register_page``; it reads the preferences in ``load`` and writes them in ``apply``.
Adding a page (say "Connections") is one class in any module imported before the dialog
opens, no change here:

    @register_page
    class ConnectionsPage(PreferencesPage):
        title = "Connections"
        order = 30
        def load(self): ...
        def apply(self): ...
"""
from __future__ import annotations

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView,
                               QLabel, QListWidget, QPushButton, QSpinBox, QStackedWidget,
                               QTableWidget, QVBoxLayout, QWidget)

from app import preferences as prefs
from app.perf.alerts import (ALL_HOSTS, ALL_VMS, METRICS, AlertRule, format_duration,
                             load_rules, parse_duration, save_rules)

PAGES: list[type["PreferencesPage"]] = []


def register_page(cls: type["PreferencesPage"]) -> type["PreferencesPage"]:
    """Adds a page to every Preferences dialog opened from now on (ordered by ``order``)."""
    if cls not in PAGES:
        PAGES.append(cls)
        PAGES.sort(key=lambda c: c.order)
    return cls


class PreferencesPage(QWidget):
    """``context`` carries what a page may need besides the preferences (the connection
    manager, the inventory); pages take what they know and ignore the rest."""

    title = "Untitled"
    order = 100

    def __init__(self, preferences: prefs.Preferences, context: dict | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preferences = preferences
        self.context = context or {}

    def load(self) -> None:
        raise NotImplementedError

    def apply(self) -> None:
        raise NotImplementedError


@register_page
class PerformancePage(PreferencesPage):
    title = "Performance"
    order = 10

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.interval = QDoubleSpinBox()
        self.interval.setRange(prefs.MIN_INTERVAL_S, prefs.MAX_INTERVAL_S)
        self.interval.setDecimals(0)
        self.interval.setSuffix(" s")
        self.collect_disk = QCheckBox("Disk throughput and IOPS")
        self.collect_net = QCheckBox("Network throughput")
        self.per_core = QCheckBox("Host CPU per core (one extra call per core and tick)")
        self.history_days = QSpinBox()
        self.history_days.setRange(prefs.MIN_HISTORY_DAYS, prefs.MAX_HISTORY_DAYS)
        self.history_days.setSuffix(" days")
        hint = QLabel("With thousands of VMs, switching disk and network off makes each "
                      "sample cheaper.")
        hint.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Sampling interval:", self.interval)
        form.addRow("Collect:", self.collect_disk)
        form.addRow("", self.collect_net)
        form.addRow("", self.per_core)
        form.addRow("", hint)
        form.addRow("Keep history for:", self.history_days)

    def load(self) -> None:
        p = self.preferences
        self.interval.setValue(p.value(prefs.SAMPLING_INTERVAL))
        self.collect_disk.setChecked(p.value(prefs.COLLECT_DISK))
        self.collect_net.setChecked(p.value(prefs.COLLECT_NET))
        self.per_core.setChecked(p.value(prefs.PER_CORE_HOST_CPU))
        self.history_days.setValue(p.value(prefs.HISTORY_DAYS))

    def apply(self) -> None:
        p = self.preferences
        p.set_value(prefs.SAMPLING_INTERVAL, self.interval.value())
        p.set_value(prefs.COLLECT_DISK, self.collect_disk.isChecked())
        p.set_value(prefs.COLLECT_NET, self.collect_net.isChecked())
        p.set_value(prefs.PER_CORE_HOST_CPU, self.per_core.isChecked())
        p.set_value(prefs.HISTORY_DAYS, self.history_days.value())


class ThresholdSpinBox(QDoubleSpinBox):
    """A number as people write it: "90 %", "2.5 MiB/s", never "90.00 %"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(1)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt's name)
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".")


class DurationSpinBox(QSpinBox):
    """A duration in seconds, shown and typed as people say it ("30 s", "5 min",
    "1 h 30 min"; a bare number is minutes); the arrows step by 10 s below a minute, by a
    minute below ten, by five minutes above."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 24 * 3600)
        # Qt sizes a spin box by its extreme values ("0 s", "24 h"), not by "1 h 30 min".
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("10 min 50 s") + 40)

    def textFromValue(self, value: int) -> str:  # noqa: N802 (Qt's name)
        return format_duration(value)

    def valueFromText(self, text: str) -> int:  # noqa: N802
        value = parse_duration(text)
        return self.value() if value is None else value

    def validate(self, text: str, pos: int):
        value = parse_duration(text)
        ok = value is not None and self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate,
                text, pos)

    def stepBy(self, steps: int) -> None:  # noqa: N802
        value = self.value()
        going_down = steps < 0
        if value < 60 or (value == 60 and going_down):
            step = 10
        elif value < 600 or (value == 600 and going_down):
            step = 60
        else:
            step = 300
        base = (value // step) * step if not going_down or value % step == 0 else \
            (value // step + 1) * step
        self.setValue(max(self.minimum(), min(self.maximum(), base + steps * step)))


@register_page
class AlertsPage(PreferencesPage):
    """Rules as rows: applies to, metric, above (in the metric's unit), for how long,
    on. ``context["targets"]`` may list (label, target) pairs for single VMs and
    servers."""

    title = "Alerts"
    order = 20
    COLUMNS = ("Applies to", "When", "Above", "For", "On")

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.targets = [("Every VM", ALL_VMS), ("Every server", ALL_HOSTS)]
        self.targets += list(self.context.get("targets", []))
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(self.COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(lambda: self.add_rule(
            AlertRule(ALL_VMS, "cpu_percent", 90.0, 5.0)))
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        intro = QLabel("Alert when a value stays above its threshold for the whole "
                       "period. Alerts appear in the Alerts tab, the status bar and the "
                       "Events log.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._ids: list[str] = []

    def add_rule(self, rule: AlertRule) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        target = QComboBox()
        for label, value in self.targets:
            target.addItem(label, value)
        if target.findData(rule.target) < 0:
            target.addItem(rule.target_words(), rule.target)
        target.setCurrentIndex(target.findData(rule.target))
        metric = QComboBox()
        for name, (words, _unit, _scale) in METRICS.items():
            metric.addItem(words, name)
        metric.setCurrentIndex(metric.findData(rule.metric))
        metric.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        threshold = ThresholdSpinBox()
        duration = DurationSpinBox()
        duration.setValue(int(round(rule.minutes * 60.0)))
        enabled = QCheckBox()
        enabled.setChecked(rule.enabled)
        metric.currentIndexChanged.connect(
            lambda _i, m=metric, t=threshold: AlertsPage._unit_for(m, t))
        self._unit_for(metric, threshold)
        threshold.setValue(rule.threshold)
        for column, widget in enumerate((target, metric, threshold, duration, enabled)):
            self.table.setCellWidget(row, column, widget)
        self.table.resizeRowToContents(row)
        self._ids.append(rule.rule_id)
        self._fit_columns()

    @staticmethod
    def _unit_for(metric: QComboBox, threshold: QDoubleSpinBox) -> None:
        """The threshold speaks the metric's unit: "90 %", "50.0 MiB/s"."""
        unit = METRICS[metric.currentData()][1]
        threshold.setSuffix(f" {unit}")
        threshold.setMaximum(100.0 if unit == "%" else 100_000.0)

    def _fit_columns(self) -> None:
        """Every column as wide as its widest editor: nothing is cut ("CPU usage (")."""
        header = self.table.horizontalHeader()
        for column in range(1, len(self.COLUMNS)):
            width = header.sectionSizeFromContents(column).width()
            for row in range(self.table.rowCount()):
                widget = self.table.cellWidget(row, column)
                if widget is not None:
                    width = max(width, widget.sizeHint().expandedTo(
                        widget.minimumSize()).width() + 4)
            header.resizeSection(column, width)

    def rules(self) -> list[AlertRule]:
        out = []
        for row, rule_id in enumerate(self._ids):
            w = [self.table.cellWidget(row, c) for c in range(len(self.COLUMNS))]
            target, metric, threshold, minutes, enabled = w
            assert isinstance(target, QComboBox) and isinstance(metric, QComboBox)
            assert isinstance(threshold, QDoubleSpinBox | QSpinBox)
            assert isinstance(minutes, QDoubleSpinBox | QSpinBox)
            assert isinstance(enabled, QCheckBox)
            out.append(AlertRule(target.currentData(), metric.currentData(),
                                 threshold.value(), minutes.value() / 60.0,
                                 enabled.isChecked(), rule_id))
        return out

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}
                      | ({self.table.currentRow()} if self.table.currentRow() >= 0
                         else set()), reverse=True)
        for row in rows:
            self.table.removeRow(row)
            del self._ids[row]

    def load(self) -> None:
        self.table.setRowCount(0)
        self._ids = []
        for rule in load_rules(self.preferences):
            self.add_rule(rule)

    def apply(self) -> None:
        save_rules(self.preferences, self.rules())


class PreferencesDialog(QDialog):
    def __init__(self, preferences: prefs.Preferences, context: dict | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")
        self.resize(720, 440)
        self.page_list = QListWidget()
        self.page_list.setFixedWidth(150)
        self.stack = QStackedWidget()
        self.pages: list[PreferencesPage] = []
        for page_cls in PAGES:
            page = page_cls(preferences, context)
            page.load()
            self.pages.append(page)
            self.page_list.addItem(page.title)
            self.stack.addWidget(page)
        self.page_list.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.page_list.setCurrentRow(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.Apply)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons = buttons
        body = QHBoxLayout()
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(buttons)

    def page(self, title: str) -> PreferencesPage:
        return next(p for p in self.pages if p.title == title)

    def show_page(self, title: str) -> None:
        self.page_list.setCurrentRow(self.pages.index(self.page(title)))

    def apply(self) -> None:
        for page in self.pages:
            page.apply()

    def accept(self) -> None:
        self.apply()
        super().accept()
