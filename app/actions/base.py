"""An action is one piece of work on one object: what its Events row says, and the work.

Commands decide (may this run on what is selected, and why not); actions do. The split
is XenCenter's Command/AsyncAction: a command turns a selection into actions, one per
object it applies to, and the TaskManager runs each as a Task — one row in the Events
log, progress in the status bar, cancel — whoever started it: a menu, a bulk operation,
a command-line verb or a test.

``run(task)`` gets its Task to report progress (``task.set_progress``) and returns the
outcome in words ("shutdown requested") or None for "done"; it raises a ConnectorError
worded for the user when the host refuses.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.contracts import Connections, Host, Inventory, LifecycleHost

if TYPE_CHECKING:
    from app.tasks import Task, TaskManager


@dataclass
class ActionContext:
    """What actions reach: the connections, the tree's model (to follow an outcome) and
    the task manager (whose Events log takes their warnings)."""

    manager: Connections
    inventory: Inventory
    tasks: TaskManager

    def host(self, conn_id: str) -> Host:
        """The connection, or LookupError worded for the user when it is gone."""
        host = self.manager.host(conn_id)
        if host is None:
            raise LookupError("the server's connection is gone")
        return host

    def server(self, conn_id: str) -> LifecycleHost:
        """The connection whatever its kind (a XenAPI pool too), for VM lifecycle."""
        server = self.manager.server(conn_id)
        if server is None:
            raise LookupError("the server's connection is gone")
        return server

    def conn_state(self, conn_id: str):
        return self.manager.state(conn_id)[0] if self.manager.server(conn_id) else None

    def host_label(self, conn_id: str) -> str:
        return self.manager.label(conn_id)


class Action(ABC):
    """Subclasses set ``title`` (the Events row: "Starting VM web-01") and ``target``
    ("kvm1 » web-01") in their constructor and implement ``run``."""

    title = ""
    target = ""
    cancellable = True      # stops waiting; a request already sent may still complete

    @abstractmethod
    async def run(self, task: Task) -> str | None:
        """The work; the outcome in words, or None for "done"."""
