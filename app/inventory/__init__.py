"""Every connected host and what it holds, for the tree: the model and its parts.

- ``nodes``: ``Node`` (one row), ``NodeKind``, ``HostFacts`` (what the tree keeps of a
  connection); plain Python.
- ``diff``: the diff engine: a host's queued events folded into the net change per
  object, and the rows that change, planned before any row moves; plain Python.
- ``model``: ``InventoryModel``, the Qt item model: batches, executes the plans as row
  signals, answers lookups.
- ``presenter``: ``RowPresenter``, what a row shows (text, icon, tooltip, grey, the usage
  cells, these from a ``UsageSource``: app.contracts).
- ``proxy``: ``InventoryFilterProxy`` (the filter box) and ``iter_nodes``.
- ``columns``: the columns and the roles beyond Qt's own.

The names other code imports are re-exported here; the parts' own names are imported
from their modules.
"""
from __future__ import annotations

from app.inventory.columns import (COLUMNS, CPU_COLUMN, FILTER_ROLE, MEMORY_COLUMN,
                                   NAME_COLUMN, NODE_ROLE, SORT_ROLE, STATE_COLUMN,
                                   USAGE_COLUMNS, USAGE_ROLE)
from app.inventory.model import InventoryModel
from app.inventory.nodes import Node, NodeKind
from app.inventory.proxy import InventoryFilterProxy, iter_nodes

__all__ = ["NODE_ROLE", "FILTER_ROLE", "USAGE_ROLE", "SORT_ROLE", "COLUMNS", "NAME_COLUMN",
           "STATE_COLUMN", "CPU_COLUMN", "MEMORY_COLUMN", "USAGE_COLUMNS", "NodeKind", "Node",
           "InventoryModel", "InventoryFilterProxy", "iter_nodes"]
