"""Saving the settings file (``~/.config/hvconsole/hvconsole.conf``) and saying when it fails.

Preferences, alert rules, host settings (maintenance mode), the console protocol of each
VM and the window's geometry all live in one QSettings INI file. QSettings already writes
it whole or not at all (a temporary file renamed over the old one: QSaveFile; checked by
tests/unit/test_atomic_file.py with kill -9), but a write it could not finish (a full
disk, a read-only folder) only shows in ``status()``, which nobody reads: the change then
silently vanishes at the next start. ``sync`` checks it and hands a sentence to whoever
listens (the launcher sends it to the Events log); the value stays in effect in memory
and QSettings tries the file again at the next change.
"""
from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QSettings

log = logging.getLogger(__name__)

_listeners: list[Callable[[str], object]] = []


def sync(settings: QSettings) -> bool:
    """Writes pending changes to disk; False (and the listeners told) when that failed."""
    settings.sync()
    # A QSettings keeps its first error for good, even after a later write succeeded; a
    # fresh object on the same file shares its pending changes (Qt keeps one cache per
    # file), writes whatever is still unwritten and tells how that went today.
    probe = QSettings(settings.fileName(), settings.format())
    probe.sync()
    status = probe.status()
    if status == QSettings.Status.NoError:
        return True
    why = ("the file could not be written: the disk may be full or the folder read-only"
           if status == QSettings.Status.AccessError else "the file is not a settings file")
    message = (f"Your settings could not be saved to {settings.fileName()} ({why}). The "
               "change applies until HVConsole quits; free some space or fix the folder's "
               "permissions and it is saved with the next change.")
    log.error("%s", message)
    for listener in list(_listeners):
        listener(message)
    return False


def report_failures_to(listener: Callable[[str], object]) -> Callable[[], None]:
    """Calls ``listener(sentence)`` at every failed save; returns the way to stop."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


__all__ = ["report_failures_to", "sync"]
