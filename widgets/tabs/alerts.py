"""The Alerts tab: performance alerts as a list the user dismisses, plus a desktop
notification when a new one fires (QSystemTrayIcon, where the desktop has a tray; the
Events log always has the alert too)."""
from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QPushButton,
                               QSystemTrayIcon, QTableView, QVBoxLayout, QWidget)

from app.perf.alerts import Alert, AlertEngine, AlertsModel


class AlertsTab(QWidget):
    def __init__(self, model: AlertsModel, engine: AlertEngine | None = None,
                 tray: QSystemTrayIcon | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
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
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.dismiss_all_button = QPushButton("Dismiss all")
        self.dismiss_all_button.clicked.connect(model.dismiss_all)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.dismiss_button)
        buttons.addWidget(self.dismiss_all_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.tray = tray
        if tray is None and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(self)
            from widgets.icons import app_icon
            self.tray.setIcon(app_icon())
            self.tray.show()
        if engine is not None:
            engine.alertRaised.connect(self.notify)

    def dismiss_selected(self) -> None:
        self.model.dismiss([i.row() for i in self.table.selectionModel().selectedRows()])

    def notify(self, alert: Alert) -> None:
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(f"HVConsole: {alert.name}", alert.message,
                                  QSystemTrayIcon.MessageIcon.Warning, 10_000)
