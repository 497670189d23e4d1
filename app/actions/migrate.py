"""Actions that move VMs: one migration, entering and leaving maintenance mode.

The work is app.migration's and app.maintenance's; these give it the shape every action
has (its Events row, progress and Cancel through its Task), so the Migrate dialog, a drop
in the tree, maintenance mode and scripts start migrations the same way. What the
actions need of those services is said here as protocols (they import this module, not
the other way round).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .base import Action

if TYPE_CHECKING:
    from app.maintenance import EvacuationPlan
    from app.migration import MigrationRequest
    from app.tasks import Task


class Migrator(Protocol):
    async def run_migration(self, request: MigrationRequest, task: Task) -> str: ...


class Maintainer(Protocol):
    async def run_enter(self, plan: EvacuationPlan, shut_down_refused: bool,
                        task: Task) -> str | None: ...

    async def run_exit(self, conn_id: str, bring_back: bool, task: Task) -> str | None: ...


class MigrateVMAction(Action):
    """One VM to one host. Cancel aborts libvirt's job: the VM stays where it was."""

    def __init__(self, migrator: Migrator, request: MigrationRequest, source: str) -> None:
        self.migrator = migrator
        self.request = request
        name = request.name or request.key
        self.title = f"Migrating VM {name}"
        self.target = f"{source} » {name}"

    async def run(self, task: Task) -> str | None:
        return await self.migrator.run_migration(self.request, task)


class EnterMaintenanceAction(Action):
    def __init__(self, maintainer: Maintainer, plan: EvacuationPlan, label: str,
                 shut_down_refused: bool) -> None:
        self.maintainer = maintainer
        self.plan = plan
        self.shut_down_refused = shut_down_refused
        self.title = f"Entering maintenance mode on {label}"
        self.target = label

    async def run(self, task: Task) -> str | None:
        return await self.maintainer.run_enter(self.plan, self.shut_down_refused, task)


class ExitMaintenanceAction(Action):
    def __init__(self, maintainer: Maintainer, conn_id: str, label: str,
                 bring_back: bool) -> None:
        self.maintainer = maintainer
        self.conn_id = conn_id
        self.bring_back = bring_back
        self.title = f"Exiting maintenance mode on {label}"
        self.target = label

    async def run(self, task: Task) -> str | None:
        return await self.maintainer.run_exit(self.conn_id, self.bring_back, task)
