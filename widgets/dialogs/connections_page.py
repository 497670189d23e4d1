"""Preferences → Connections: how long a call may take, how quickly a dead host is
noticed (libvirt keepalive), and how often a lost host is tried again."""
from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QSpinBox

from app import connection_settings as cs

from .preferences import PreferencesPage, register_page


def _number(key: str, suffix: str = "", decimals: int | None = None):
    """A spin box bounded by the setting's limits (whole numbers unless ``decimals``)."""
    low, high = cs.LIMITS[key]
    if decimals is None:
        box: QSpinBox | QDoubleSpinBox = QSpinBox()
        box.setRange(int(low), int(high))
    else:
        double = QDoubleSpinBox()
        double.setDecimals(decimals)
        double.setRange(float(low), float(high))
        box = double
    box.setSuffix(suffix)
    return box


@register_page
class ConnectionsPage(PreferencesPage):
    title = "Connections"
    order = 30

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.call_timeout = _number(cs.CALL_TIMEOUT, " s", 0)
        self.keepalive_interval = _number(cs.KEEPALIVE_INTERVAL, " s")
        self.keepalive_count = _number(cs.KEEPALIVE_COUNT)
        self.reconnect_first = _number(cs.RECONNECT_FIRST, " s", 1)
        self.reconnect_max = _number(cs.RECONNECT_MAX, " s", 0)
        self.window_label = QLabel()
        self.window_label.setWordWrap(True)
        self.keepalive_interval.valueChanged.connect(self._explain)
        self.keepalive_count.valueChanged.connect(self._explain)
        self._fields = {cs.CALL_TIMEOUT: self.call_timeout,
                        cs.KEEPALIVE_INTERVAL: self.keepalive_interval,
                        cs.KEEPALIVE_COUNT: self.keepalive_count,
                        cs.RECONNECT_FIRST: self.reconnect_first,
                        cs.RECONNECT_MAX: self.reconnect_max}
        rows = (("Call timeout:", self.call_timeout),
                ("Keepalive interval:", self.keepalive_interval),
                ("Unanswered keepalives:", self.keepalive_count),
                ("", self.window_label),
                ("Reconnect first after:", self.reconnect_first),
                ("Longest wait between tries:", self.reconnect_max),
                ("", QLabel("Keepalive changes apply from the next connect.")))
        form = QFormLayout(self)
        for label, widget in rows:
            form.addRow(label, widget)

    def _explain(self) -> None:
        window = self.keepalive_interval.value() * (self.keepalive_count.value() + 1)
        self.window_label.setText(f"A host that stops answering is shown disconnected "
                                  f"after about {window} s.")

    def load(self) -> None:
        for key, box in self._fields.items():
            box.setValue(self.preferences.value(key))
        self._explain()

    def apply(self) -> None:
        for key, box in self._fields.items():
            self.preferences.set_value(key, box.value())
