"""The Alerts tab: performance alerts, and the alerts XenServer / XCP-ng pools keep
themselves (app.server_alerts), as a list the user dismisses, plus a desktop
notification when a new one fires (QSystemTrayIcon, where the desktop has a tray; the
Events log always has the alert too).

With nothing listed the tab says what it watches (the rules, or that there are none) and
offers the way to Preferences → Alerts, where rules are made: an empty table said neither.
The number of alerts still firing is on the tab's title and in the status bar (the main
window shows it, from ``AlertsModel.firingChanged``).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QStackedWidget, QSystemTrayIcon, QTableView,
                               QVBoxLayout, QWidget)

from app.perf.alerts import Alert, AlertEngine, AlertsModel


class AlertsTab(QWidget):
    """``editRulesRequested()``: the user asked for the rules (Preferences → Alerts)."""

    editRulesRequested = Signal()

    def __init__(self, model: AlertsModel, engine: AlertEngine | None = None,
                 tray: QSystemTrayIcon | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.engine = engine
        self.setObjectName("alertsTab")
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 150)
        self.table.setColumnWidth(1, 160)
        self.table.setColumnWidth(3, 120)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.dismiss_all_button = QPushButton("Dismiss all")
        self.dismiss_all_button.clicked.connect(model.dismiss_all)
        self.rules_button = QPushButton("Alert rules…")
        self.rules_button.setToolTip("Preferences → Alerts: what raises an alert")
        self.rules_button.clicked.connect(self.editRulesRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.rules_button)
        buttons.addStretch(1)
        buttons.addWidget(self.dismiss_button)
        buttons.addWidget(self.dismiss_all_button)
        listing = QWidget()
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.addWidget(self.table)
        listing_layout.addLayout(buttons)

        self.empty_text = QLabel()
        self.empty_text.setObjectName("alertsEmptyText")
        self.empty_text.setWordWrap(True)
        self.empty_text.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.empty_button = QPushButton()
        self.empty_button.setObjectName("alertsEmptyButton")
        self.empty_button.clicked.connect(self.editRulesRequested)
        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        empty_layout.setContentsMargins(24, 24, 24, 24)
        empty_layout.addWidget(self.empty_text)
        row = QHBoxLayout()
        row.addWidget(self.empty_button)
        row.addStretch(1)
        empty_layout.addLayout(row)
        empty_layout.addStretch(1)

        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(listing)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.tray = tray
        if tray is None and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(self)
            from widgets.icons import app_icon
            self.tray.setIcon(app_icon())
            self.tray.show()
        if engine is not None:
            engine.alertRaised.connect(self.notify)
            engine.rulesChanged.connect(self._update_page)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._update_page)
        self._update_page()

    def showing_list(self) -> bool:
        return self.stack.currentIndex() == 1

    def _update_page(self, *_args) -> None:
        if self.model.rowCount():
            self.stack.setCurrentIndex(1)
            return
        rules = [r for r in self.engine.rules if r.enabled] if self.engine else []
        if rules:
            lines = [f"• {r.target_words()}: {r.describe()}" for r in rules]
            self.empty_text.setText("No alerts. You will be alerted here (and in the "
                                    "Events log) when:\n" + "\n".join(lines))
            self.empty_button.setText("Edit alert rules…")
        else:
            self.empty_text.setText("No alert rules are set, so HVConsole raises no "
                                    "alerts of its own (a XenServer / XCP-ng pool's own "
                                    "alerts still appear here). Rules (such as \u201ca "
                                    "VM's CPU above 90 % for 5 min\u201d) are made in "
                                    "Preferences → Alerts.")
            self.empty_button.setText("Set up alerts…")
        self.stack.setCurrentIndex(0)

    def dismiss_selected(self) -> None:
        self.model.dismiss([i.row() for i in self.table.selectionModel().selectedRows()])

    def notify(self, alert: Alert) -> None:
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(f"HVConsole: {alert.name}", alert.message,
                                  QSystemTrayIcon.MessageIcon.Warning, 10_000)
