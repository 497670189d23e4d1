"""The process's use of the cycle collector: a big inventory is kept out of its passes.

Why: at 10,000 VMs the tree's model alone holds 30,000 objects the collector tracks
(counted with gc.get_objects; the records and their parts come on top), and every full
collection walked them all again: a pass of about 100 ms holding the GIL in whichever
thread triggered it, felt as a UI stall (benchmarks/inventory_scale.py reports the
costliest pass as ``max_gc_pass_ms``). A big
inventory lives as long as its connections, so once a full snapshot (a connect or a
reconnect) leaves FREEZE_FROM rows or more, everything alive is moved out of the
collector's sight (``gc.freeze``). Removing a server unfreezes it all: its rows point at
each other and only the collector can free them. (What is alive at a freeze and later
ends up in a reference cycle waits for the next removal to be collected.)

The policy belongs to the process, not to the tree's model (which only says when a
snapshot was applied and when a server went): the launcher installs it
(``widgets.launcher.Session.build``), as do the benchmarks that measure the app.

And the collector runs on the Qt thread only (``collect_on_qt_thread``): a Qt object in a
reference cycle is destroyed by the pass that finds it, in whichever thread's allocation
happened to trigger that pass — a libvirt worker, a history writer — and Qt objects
destroyed off their thread crashed the process (segfaults in the window's tests, inside
Qt's event processing). Automatic collection is turned off and the same thresholds are
checked from a timer on the Qt thread instead.
"""
from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QCoreApplication, QObject, QTimer

from app.inventory import InventoryModel

CHECK_MS = 250            # how often the Qt thread looks whether a pass is due

FREEZE_FROM = 1000        # rows from which a snapshot is frozen


def freeze_big_inventories(inventory: InventoryModel, freeze_from: int = FREEZE_FROM) -> None:
    """From now on, a snapshot that leaves ``inventory`` with ``freeze_from`` rows or more
    freezes the heap, and removing a server unfreezes it."""

    def snapshot_applied(rows: int) -> None:
        if rows >= freeze_from:
            gc.freeze()

    # Functions, not methods of an object kept somewhere: the connections hold them, and
    # nothing here holds the inventory (a Qt object in a reference cycle would be freed by
    # the collector on whatever thread it runs).
    inventory.snapshotApplied.connect(snapshot_applied)
    inventory.hostRemoved.connect(_host_removed)


def _host_removed(_conn_id: str) -> None:
    gc.unfreeze()   # its rows point at each other: the collector may free them now


def collect_due() -> int:
    """Run the pass automatic collection would have run by now (none: -1), on the calling
    thread, which must be the Qt thread."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    generation = -1
    for gen in range(3):
        if thresholds[gen] and counts[gen] > thresholds[gen]:
            generation = gen
        else:
            break
    if generation >= 0:
        gc.collect(generation)
    return generation


class _QtThreadCollector(QObject):
    def __init__(self, app: QCoreApplication) -> None:
        super().__init__(app)
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(collect_due)
        self._timer.start()


_collector: _QtThreadCollector | None = None


def collect_on_qt_thread(app: QCoreApplication) -> None:
    """From now on the cycle collector runs on ``app``'s thread only (once per process;
    call it from that thread)."""
    global _collector
    if _collector is not None:
        return
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("collect_on_qt_thread must be called on the Qt (main) thread")
    _collector = _QtThreadCollector(app)
    gc.disable()
