"""Connection preferences (Edit → Preferences → Connections) and how they reach the hosts.

The settings are added to app.preferences' table from here, so that module needs no
change for them. ``ConnectionPreferences`` turns them into the connector's
``ConnectionSettings`` for the manager (new connections) and for every open host (the
call timeout and the reconnect delays count from the next call; keepalive from the next
connect, since libvirt sets it once per connection).
"""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject

from app import preferences as prefs
from connectors.libvirt.model import ConnectionSettings

CALL_TIMEOUT = "connections/call_timeout_s"
KEEPALIVE_INTERVAL = "connections/keepalive_interval_s"
KEEPALIVE_COUNT = "connections/keepalive_count"
RECONNECT_FIRST = "connections/reconnect_initial_s"
RECONNECT_MAX = "connections/reconnect_max_s"

LIMITS = {CALL_TIMEOUT: (2, 600), KEEPALIVE_INTERVAL: (1, 120), KEEPALIVE_COUNT: (1, 20),
          RECONNECT_FIRST: (0.5, 600), RECONNECT_MAX: (2, 3600)}
_DEFAULTS = ConnectionSettings()
_VALUES = ((CALL_TIMEOUT, _DEFAULTS.call_timeout_s, float),
           (KEEPALIVE_INTERVAL, _DEFAULTS.keepalive_interval_s, int),
           (KEEPALIVE_COUNT, _DEFAULTS.keepalive_count, int),
           (RECONNECT_FIRST, _DEFAULTS.reconnect_initial_s, float),
           (RECONNECT_MAX, _DEFAULTS.reconnect_max_s, float))

for _key, _default, _kind in _VALUES:
    prefs.SETTINGS.setdefault(_key, prefs.Setting(_key, _default,
                                                  prefs._clamped(_kind, *LIMITS[_key])))


def settings_from(preferences: prefs.Preferences,
                  base: ConnectionSettings | None = None) -> ConnectionSettings:
    """Reconnecting waits the first delay, then doubles it up to the longest wait."""
    base = base or ConnectionSettings()
    first = preferences.value(RECONNECT_FIRST)
    return dataclasses.replace(
        base,
        call_timeout_s=preferences.value(CALL_TIMEOUT),
        keepalive_interval_s=preferences.value(KEEPALIVE_INTERVAL),
        keepalive_count=preferences.value(KEEPALIVE_COUNT),
        reconnect_initial_s=first,
        reconnect_max_s=max(first, preferences.value(RECONNECT_MAX)))


class ConnectionPreferences(QObject):
    """Keeps the manager's and the hosts' settings in step with the preferences."""

    def __init__(self, manager, preferences: prefs.Preferences,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._manager = manager
        self._preferences = preferences
        self.apply()
        preferences.changed.connect(self._changed)

    def _changed(self, key: str) -> None:
        if key.startswith("connections/"):
            self.apply()

    def apply(self) -> None:
        settings = settings_from(self._preferences, self._manager.settings)
        self._manager.settings = settings
        for host in self._manager.hosts().values():
            host.settings = dataclasses.replace(settings, workers=host.settings.workers)
