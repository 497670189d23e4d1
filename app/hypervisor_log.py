"""Hypervisor events into the Events log, one row per thing that happened to a VM.

libvirt reports one user-visible change as several events: a boot is RESUMED and STARTED,
a shutdown SHUTDOWN then STOPPED, an ACPI reboot three REBOOT events. Logged one by one, a
start read "Started (booted)" and a misleading "Resumed (unpaused)", and every action filled
three or four rows. Here an event that only completes the one logged just before for the
same VM (within ``WINDOW_S``) takes that row's place or is left out; which events complete
which is the connector's wording knowledge (``wording.completes``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from app.events_log import Entry, EventsLog
from connectors.libvirt import wording
from connectors.libvirt.model import HypervisorEvent, ObjectKind

HYPERVISOR = "hypervisor"
WINDOW_S = 10.0     # a shutdown's STOPPED came 1.5 s after its SHUTDOWN on a busy machine
_PRUNE_AT = 1000


@dataclass(slots=True)
class _Last:
    entry: Entry
    at: float
    message: str        # the event alone ("Started (booted)"), as wording said it


class HypervisorRows:
    def __init__(self, events_log: EventsLog, window_s: float = WINDOW_S) -> None:
        self._log = events_log
        self.window_s = window_s
        self._last: dict[tuple[str, str], _Last] = {}

    def record(self, conn_id: str, event: HypervisorEvent, source: str,
               message: str) -> Entry | None:
        """Logs ``message`` for ``event``; None when it added nothing to the row before."""
        if event.kind is not ObjectKind.VM:
            return self._log.add(event.severity, HYPERVISOR, source, message)
        now = time.monotonic()
        key = (conn_id, event.key)
        last = self._last.get(key)
        if last is not None and now - last.at <= self.window_s:
            how = wording.completes(last.message, event.message)
            if how == "skip":
                return None
            if how == "replace":
                self._log.remove(last.entry)
        entry = self._log.add(event.severity, HYPERVISOR, source, message)
        self._last[key] = _Last(entry, now, event.message)
        if len(self._last) > _PRUNE_AT:
            self._last = {k: v for k, v in self._last.items()
                          if now - v.at <= self.window_s}
        return entry
