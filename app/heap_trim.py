"""The process's heap after a big snapshot: what was freed goes back to the system.

Why: reading a big inventory allocates far more than it keeps (every VM's XML, its parsed
tree, the libvirt objects of the read), much of it in the libvirt worker threads, each of
which glibc gives a heap (an "arena") of its own. Freed, that memory stays with the
process: at 10,000 VMs over 20 hosts the window sat at 403 MB, of which ``malloc_trim(0)``
handed 48 MB back (benchmarks/inventory_scale.py, ``rss_mb``). So once snapshots stop
arriving for TRIM_DELAY_MS after one that left TRIM_FROM rows or more, or after a server
and its rows went, the heap is trimmed once.

The trim runs in a short-lived thread: it walks every arena (15 ms after reading 10,000
VMs from 20 threads) and ctypes lets go of Python's lock around it, so the UI never
waits for it. Where
the C library has no ``malloc_trim`` (not glibc), nothing is done.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable

from PySide6.QtCore import QTimer

from app.inventory import InventoryModel

TRIM_FROM = 1000          # rows from which a snapshot is worth a trim
TRIM_DELAY_MS = 1000      # quiet after the last big snapshot (20 hosts arrive one by one)


def _libc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


def release_free_heap() -> bool:
    """Hands the C heap's free pages back to the system now (blocking); False where the C
    library cannot."""
    trim = _libc_trim()
    if trim is None:
        return False
    trim()
    return True


def trim_after_big_snapshots(inventory: InventoryModel, trim_from: int = TRIM_FROM,
                             delay_ms: int = TRIM_DELAY_MS,
                             trim: Callable[[], object] = release_free_heap) -> QTimer:
    """From now on, ``delay_ms`` after the last snapshot leaving ``inventory`` with
    ``trim_from`` rows or more (or after a server's removal), ``trim`` runs once in a
    thread of its own. The timer that waits is returned (owned by ``inventory``)."""
    timer = QTimer(inventory)
    timer.setSingleShot(True)
    timer.setInterval(delay_ms)

    def run() -> None:
        threading.Thread(target=trim, name="hvconsole-heap-trim", daemon=True).start()

    def snapshot_applied(rows: int) -> None:
        if rows >= trim_from:
            timer.start()

    timer.timeout.connect(run)
    inventory.snapshotApplied.connect(snapshot_applied)
    inventory.hostRemoved.connect(lambda _conn_id: timer.start())
    return timer
