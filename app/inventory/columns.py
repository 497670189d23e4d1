"""The tree's columns and the item-data roles it offers beyond Qt's own.

Shared by the model (what it answers), the presenter (what a cell shows), the filter proxy
(what it matches and sorts by) and the views (the usage delegate draws USAGE_ROLE).
"""
from __future__ import annotations

from PySide6.QtCore import Qt

NODE_ROLE = Qt.ItemDataRole.UserRole + 1     # the Node behind a row
FILTER_ROLE = Qt.ItemDataRole.UserRole + 2   # what the filter box matches: name + state
USAGE_ROLE = Qt.ItemDataRole.UserRole + 3    # CPU/Memory columns: fraction 0..1 (NaN: none)
SORT_ROLE = Qt.ItemDataRole.UserRole + 4     # what a sorted column compares

COLUMNS = ("Name", "State", "CPU", "Memory")
NAME_COLUMN, STATE_COLUMN, CPU_COLUMN, MEMORY_COLUMN = 0, 1, 2, 3
USAGE_COLUMNS = (CPU_COLUMN, MEMORY_COLUMN)
