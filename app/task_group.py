"""Bulk work as one task group: many actions (one per VM), run a few at a time, watched
and cancelled together.

Why a group and not just many tasks: "Shut down" on 200 selected VMs is one thing the
user asked for. The group says how far it got (12 of 200), lists each VM's result (done,
failed and why, skipped and why), and Cancel stops what has not started yet; a request
already sent to a host is left to finish (libvirt has no way to take it back). Objects
the command refused before anything ran (a paused VM asked to shut down) are results of
the group too, so the user reads about every VM they selected.

Each action is still an ordinary Task (its own Events row, its own outcome); the group
adds one Events row of its own that ends with the totals.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Sequence

from PySide6.QtCore import QObject, Signal

from app.tasks import Task, TaskState

if TYPE_CHECKING:
    from app.actions.base import Action
    from app.tasks import TaskManager

AT_ONCE = 8             # actions of a group in flight at the same time
NOT_STARTED = "not started: cancelled"
CATEGORY = "action"


@dataclass(frozen=True)
class Skipped:
    """An object of the selection the group did not run on, and why."""

    target: str         # "kvm1 » web-01"
    reason: str         # "paused; it must be running"


@dataclass(frozen=True)
class Result:
    target: str
    state: str          # "done", "failed", "skipped", "cancelled", "running", "waiting"
    text: str           # the outcome in words


class TaskGroup(QObject):
    """``changed`` on any progress; ``finished`` once, when every task has ended."""

    changed = Signal()
    finished = Signal()

    def __init__(self, title: str, manager: TaskManager, actions: Sequence[Action],
                 skipped: Sequence[Skipped] = (), at_once: int = AT_ONCE,
                 parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else manager)
        self.title = title
        self.skipped = list(skipped)
        self._manager = manager
        self._gate = asyncio.Semaphore(max(1, at_once))
        self._started: set[int] = set()
        self._cancelled: set[int] = set()
        self._entered: set[int] = set()
        self._finished = False
        self._row = None
        self.actions = list(actions)
        self.tasks: list[Task] = []

    def start(self) -> None:
        """Starts the work (``run_group`` calls this once it has announced the group)."""
        manager, title = self._manager, self.title
        log = manager.events_log
        if log is not None:
            self._row = log.add("info", CATEGORY, self.where(self.actions), f"{title}…")
            for skip in self.skipped:
                log.add("warning", CATEGORY, skip.target, f"{title}: skipped: {skip.reason}")
        self.tasks = [manager.run(a.title, a.target, self._gated(a), group=self)
                      for a in self.actions]
        for task in self.tasks:
            task.set_detail("waiting")
            task.changed.connect(self.changed)
            task.finished.connect(self._task_finished)
        if not self.tasks:
            self._task_finished()

    @staticmethod
    def where(actions: Sequence[Action]) -> str:
        servers = sorted({a.target.split(" » ")[0] for a in actions})
        return ", ".join(servers) if servers else ""

    def _gated(self, action: Action) -> Callable[[Task], Awaitable[object]]:
        async def run(task: Task) -> object:
            # A task cancelled before its coroutine first ran cannot be interrupted by
            # asyncio (nothing catches it there): it is stopped here, when it comes up.
            self._entered.add(id(task))
            if id(task) in self._cancelled:
                raise asyncio.CancelledError
            async with self._gate:
                if id(task) in self._cancelled:
                    raise asyncio.CancelledError
                self._started.add(id(task))
                task.set_detail("")
                return await action.run(task)
        return run

    # ---- what the user sees ----

    @property
    def total(self) -> int:
        return len(self.actions)

    @property
    def finished_count(self) -> int:
        return sum(1 for t in self.tasks if t.done)

    @property
    def done(self) -> bool:
        return self._finished

    def was_started(self, task: Task) -> bool:
        return id(task) in self._started

    def results(self) -> list[Result]:
        out = []
        for task in self.tasks:
            if not task.done:
                state = "running" if self.was_started(task) else "waiting"
                out.append(Result(task.target, state, state))
            elif task.state is TaskState.SUCCEEDED:
                out.append(Result(task.target, "done", task.outcome))
            elif task.state is TaskState.FAILED:
                out.append(Result(task.target, "failed", task.error))
            else:
                out.append(Result(task.target, "cancelled", task.outcome))
        out.extend(Result(s.target, "skipped", s.reason) for s in self.skipped)
        return out

    def counts(self) -> Counter[str]:
        return Counter(r.state for r in self.results())

    @property
    def summary(self) -> str:
        counts = self.counts()
        parts = [f"{counts[s]} {s}" for s in ("done", "failed", "cancelled", "skipped",
                                               "running", "waiting") if counts[s]]
        return f"{self.title}: " + (", ".join(parts) if parts else "nothing to do")

    # ---- cancel ----

    def cancel_pending(self) -> int:
        """Cancels the tasks that have not started; returns how many."""
        pending = [t for t in self.tasks if not t.done and not self.was_started(t)]
        for task in pending:
            self._cancelled.add(id(task))
            if id(task) in self._entered:
                task.cancel()       # waiting for its turn: stop the wait
        return len(pending)

    def _task_finished(self) -> None:
        for task in self.tasks:
            if task.state is TaskState.CANCELLED and not self.was_started(task) \
                    and task.outcome != NOT_STARTED:
                task.set_outcome(NOT_STARTED, "warning")
        self.changed.emit()
        if self._finished or any(not t.done for t in self.tasks):
            return
        self._finished = True
        self.changed.emit()
        log = self._manager.events_log
        if log is not None and self._row is not None:
            counts = self.counts()
            severity = "error" if counts["failed"] else (
                "warning" if counts["skipped"] or counts["cancelled"] else "info")
            self._row = log.update(self._row, severity=severity, message=self.summary)
        self.finished.emit()


def run_group(manager: TaskManager, title: str, actions: Sequence[Action],
              skipped: Sequence[Skipped] = (), at_once: int = AT_ONCE) -> TaskGroup:
    """Bulk work as one group: announced (``manager.groupStarted``) before its tasks
    start, so that views know the group before its tasks."""
    group = TaskGroup(title, manager, list(actions), list(skipped), at_once)
    manager.groupStarted.emit(group)
    group.start()
    return group
