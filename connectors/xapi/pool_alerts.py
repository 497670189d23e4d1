"""A pool's messages as the alerts it tells its listener about (``ServerAlertsChanged``).

XAPI's ``del`` event for a message need not carry the record, so which message ref is
which alert (its UUID, the key the app knows it by) is remembered here from the ``add``.
After a full snapshot all of the pool's messages are sent as the whole list; later
events add and remove. A message new to us also becomes a HypervisorEvent, the object's
line in the Events log — after a resync (EVENTS_LOST) too, for those raised meanwhile.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connectors.libvirt.model import (HostEvent, HypervisorEvent, ObjectKind, ServerAlert,
                                      ServerAlertsChanged)
from connectors.xapi import messages
from connectors.xapi.cache import XapiEvent

Names = Callable[[ObjectKind | None, str], str]


class PoolAlerts:
    def __init__(self, emit: Callable[[HostEvent], None], names: Names) -> None:
        self._emit = emit
        self._names = names
        self._keys: dict[str, str] = {}        # message ref -> its UUID (the alert's key)

    def snapshot(self, records: Mapping[str, Mapping[str, Any]],
                 announce: bool = False) -> None:
        """Every message the pool holds (``ref -> record``), replacing what was said;
        with ``announce``, those not known before go to the Events log as new."""
        known = set(self._keys.values())
        self._keys = {}
        alerts = []
        for ref, record in records.items():
            alert = messages.server_alert(record, self._names)
            if alert is not None:
                self._keys[ref] = alert.key
                alerts.append(alert)
                if announce and alert.key not in known:
                    self._log(alert)
        self._emit(ServerAlertsChanged(tuple(alerts), full=True))

    def apply(self, events: Iterable[XapiEvent]) -> None:
        """The message events of one event.from batch."""
        added: list[ServerAlert] = []
        removed: list[str] = []
        for event in events:
            if event.cls != "message":
                continue
            if event.operation == "del":
                key = self._keys.pop(event.ref, None)
                if key is not None:
                    removed.append(key)
                continue
            if event.snapshot is None:
                continue
            alert = messages.server_alert(event.snapshot, self._names)
            if alert is None:
                continue
            self._keys[event.ref] = alert.key
            added.append(alert)
            if event.operation == "add":
                self._log(alert)
        if added or removed:
            self._emit(ServerAlertsChanged(tuple(added), tuple(removed)))

    def _log(self, alert: ServerAlert) -> None:
        kind = alert.kind if alert.kind is not None else ObjectKind.SERVER
        text = f"{alert.title}: {alert.body}" if alert.body else alert.title
        self._emit(HypervisorEvent(kind, alert.obj_key, alert.obj_name, text,
                                   messages.severity(alert.priority)))
