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

import fcntl
import logging
import os
import time
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


TORN_LOCK_AGE_S = 0.05


def clear_torn_lock(settings_path: str) -> bool:
    """Removes a lock file that a killed HVConsole left half-made; True when it did.

    QSettings locks its file with QLockFile while saving. Killed between creating the
    lock and writing its owner into it, HVConsole leaves an empty lock whose owner cannot
    be checked, and Qt then waits 30 s for it to go stale — inside the next save, on the
    window's thread. A lock with an owner is left to Qt (it sees a dead owner at once).
    One without is torn when nobody holds the flock() Qt takes on it the moment it is
    made (the kernel drops it with its holder); the age check covers that moment.
    """
    lock = settings_path + ".lock"
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        head = os.read(fd, 64)
        age = time.time() - os.fstat(fd).st_mtime
        if head.split(b"\n", 1)[0].strip().isdigit() or age < TORN_LOCK_AGE_S:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False                 # a live session is writing its owner just now
        os.unlink(lock)
    except OSError as exc:
        log.warning("a torn lock on the settings file could not be removed: %s", exc)
        return False
    finally:
        os.close(fd)
    log.info("removed a torn lock on the settings file left by a killed session: %s", lock)
    return True


def report_failures_to(listener: Callable[[str], object]) -> Callable[[], None]:
    """Calls ``listener(sentence)`` at every failed save; returns the way to stop."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


__all__ = ["clear_torn_lock", "report_failures_to", "sync"]
