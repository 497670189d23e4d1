"""Snapshot work on one VM as actions: Take, Revert, Delete, Edit — each one Events row,
progress in the status bar, started from the Snapshots tab (or a script)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

from .base import Action

if TYPE_CHECKING:
    from app.tasks import Task


class SnapshotAction(Action):
    """``work`` does it (app.snapshots.SnapshotsController's take/revert/delete/edit,
    which reads the VM's snapshots again afterwards)."""

    def __init__(self, title: str, server: str, vm_name: str,
                 work: Callable[[], Awaitable[object]]) -> None:
        self.title = title                      # "Taking snapshot before of web-01"
        self.target = f"{server} » {vm_name}"
        self._work = work

    async def run(self, task: Task | None) -> str | None:
        await self._work()
        return None
