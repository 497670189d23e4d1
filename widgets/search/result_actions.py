"""Acting on a search's results: every VM command (start, shut down, …, Organize) on the
selected results or on all of them, through the command's own ``run_on`` — so many VMs
get the one confirmation naming how many VMs on which servers, and run as one task group
(app/commands/bulk.py), exactly as from the tree's multi-selection.

The menus are built when they open, from the commands' current verdicts: an entry is
greyed, with the command's reason as its tooltip, when it can run on none of the VMs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from PySide6.QtWidgets import QMenu

from app.commands.base import Command
from app.inventory import Node


def fill_menu(menu: QMenu, commands: Sequence[Command | None],
              nodes: Callable[[], list[Node]], node_name: Callable[[Node], str]) -> None:
    """Replaces ``menu``'s entries by ``commands`` acting on ``nodes()`` (asked now)."""
    menu.clear()
    chosen = nodes()
    for command in commands:
        if command is None:
            menu.addSeparator()
            continue
        entry = menu.addAction(command.action.icon(), command.action.text())
        verdict = command.evaluate(chosen)
        enabled = verdict.enabled
        entry.setEnabled(enabled)
        explanation = verdict.explanation(node_name)
        if explanation:
            entry.setToolTip(f"{command.verb}: {explanation}" if not enabled
                             else f"{command.verb} (not for {explanation})")
        entry.triggered.connect(partial(command.run_on, chosen))
    menu.setToolTipsVisible(True)
