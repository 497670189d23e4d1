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
"""
from __future__ import annotations

import gc

from app.inventory import InventoryModel

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
