"""Preferences → Connections: how long a call may take, how quickly a dead host is
noticed (libvirt keepalive), and how often a lost host is tried again."""
from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QSpinBox

from app import connection_settings as cs

from .preferences import PreferencesPage, register_page


@register_page
class ConnectionsPage(PreferencesPage):
    title = "Connections"
    order = 30

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.call_timeout = QDoubleSpinBox()
        self.call_timeout.setRange(*cs.LIMITS[cs.CALL_TIMEOUT])
        self.call_timeout.setDecimals(0)
        self.call_timeout.setSuffix(" s")
        self.keepalive_interval = QSpinBox()
        self.keepalive_interval.setRange(*cs.LIMITS[cs.KEEPALIVE_INTERVAL])
        self.keepalive_interval.setSuffix(" s")
        self.keepalive_count = QSpinBox()
        self.keepalive_count.setRange(*cs.LIMITS[cs.KEEPALIVE_COUNT])
        self.reconnect_first = QDoubleSpinBox()
        self.reconnect_first.setRange(*cs.LIMITS[cs.RECONNECT_FIRST])
        self.reconnect_first.setDecimals(1)
        self.reconnect_first.setSuffix(" s")
        self.reconnect_max = QDoubleSpinBox()
        self.reconnect_max.setRange(*cs.LIMITS[cs.RECONNECT_MAX])
        self.reconnect_max.setDecimals(0)
        self.reconnect_max.setSuffix(" s")
        self.window_label = QLabel()
        self.window_label.setWordWrap(True)
        self.keepalive_interval.valueChanged.connect(self._explain)
        self.keepalive_count.valueChanged.connect(self._explain)
        form = QFormLayout(self)
        form.addRow("Call timeout:", self.call_timeout)
        form.addRow("Keepalive interval:", self.keepalive_interval)
        form.addRow("Unanswered keepalives:", self.keepalive_count)
        form.addRow("", self.window_label)
        form.addRow("Reconnect first after:", self.reconnect_first)
        form.addRow("Longest wait between tries:", self.reconnect_max)
        form.addRow("", QLabel("Keepalive changes apply from the next connect."))

    def _explain(self) -> None:
        window = self.keepalive_interval.value() * (self.keepalive_count.value() + 1)
        self.window_label.setText(f"A host that stops answering is shown disconnected "
                                  f"after about {window} s.")

    def load(self) -> None:
        p = self.preferences
        self.call_timeout.setValue(p.value(cs.CALL_TIMEOUT))
        self.keepalive_interval.setValue(p.value(cs.KEEPALIVE_INTERVAL))
        self.keepalive_count.setValue(p.value(cs.KEEPALIVE_COUNT))
        self.reconnect_first.setValue(p.value(cs.RECONNECT_FIRST))
        self.reconnect_max.setValue(p.value(cs.RECONNECT_MAX))
        self._explain()

    def apply(self) -> None:
        p = self.preferences
        p.set_value(cs.CALL_TIMEOUT, self.call_timeout.value())
        p.set_value(cs.KEEPALIVE_INTERVAL, self.keepalive_interval.value())
        p.set_value(cs.KEEPALIVE_COUNT, self.keepalive_count.value())
        p.set_value(cs.RECONNECT_FIRST, self.reconnect_first.value())
        p.set_value(cs.RECONNECT_MAX, self.reconnect_max.value())
