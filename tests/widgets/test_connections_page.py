"""Preferences → Connections: the page writes the preferences, and the manager and its open
hosts pick them up (test driver connection, real manager)."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from app import connection_settings as cs
from app.connection_manager import ConnectionManager
from app.config import ConnectionsStore
from app.events_log import EventsLog
from app.inventory import InventoryModel
from app.preferences import Preferences
from widgets.dialogs.connections_page import ConnectionsPage
from widgets.dialogs.preferences import PreferencesDialog


def test_page_changes_reach_manager_and_open_hosts(qtbot, tmp_path):
    preferences = Preferences(QSettings(str(tmp_path / "p.conf"), QSettings.Format.IniFormat))
    manager = ConnectionManager(InventoryModel(), EventsLog(),
                                store=ConnectionsStore(tmp_path / "c.json"))
    keeper = cs.ConnectionPreferences(manager, preferences)  # noqa: F841 - kept alive
    dialog = PreferencesDialog(preferences, {"manager": manager})
    qtbot.addWidget(dialog)
    page = dialog.page("Connections")
    assert isinstance(page, ConnectionsPage)
    page.load()
    assert page.call_timeout.value() == manager.settings.call_timeout_s
    page.call_timeout.setValue(12)
    page.keepalive_interval.setValue(4)
    page.keepalive_count.setValue(3)
    assert "16 s" in page.window_label.text()
    page.reconnect_first.setValue(2)
    page.reconnect_max.setValue(60)
    page.apply()
    settings = manager.settings
    assert (settings.call_timeout_s, settings.keepalive_interval_s, settings.keepalive_count,
            settings.reconnect_initial_s, settings.reconnect_max_s) == (12, 4, 3, 2, 60)
    preferences.set_value(cs.CALL_TIMEOUT, 100000)     # a hand-edited file stays sane
    assert manager.settings.call_timeout_s == cs.LIMITS[cs.CALL_TIMEOUT][1]
