"""Long operations as observable tasks: XenCenter's "actions" with progress, cancel and a log.

A Task wraps one asyncio task running on the qasync loop. Widgets watch its signals (the
status bar shows progress); nothing here blocks.

One task is one row of the events log, written when it starts ("Starting VM web-01…") and
rewritten in place with its outcome. The outcome is what really happened, not just that
the call returned: a coroutine may return a sentence ("shutdown requested": the guest was
asked, it has not stopped), and whoever learns the end later (the VM shut off) calls
``Task.set_outcome``, which rewrites the same row again.
"""
from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
import weakref
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from PySide6.QtCore import QObject, Signal

from connectors.libvirt.model import ConnectorError

if TYPE_CHECKING:
    from app.actions.base import Action
    from app.task_group import TaskGroup

log = logging.getLogger(__name__)

CATEGORY = "action"


class TaskState(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


def describe_error(exc: BaseException) -> str:
    """Our connectors word their errors for users; anything else is a bug, said as such."""
    if isinstance(exc, ConnectorError):
        return str(exc) or type(exc).__name__
    return f"Unexpected error: {exc or type(exc).__name__}"


DONE = "done"


class Task(QObject):
    """``outcomeChanged`` fires when the outcome is learned after the task finished."""

    changed = Signal()
    finished = Signal()
    outcomeChanged = Signal()

    def __init__(self, title: str, target: str, parent: QObject | None = None):
        super().__init__(parent)
        self.title = title
        self.target = target
        self.state = TaskState.RUNNING
        self.progress: int | None = None
        self.detail = ""            # what it is doing now, in a few words
        self.error = ""
        self.outcome = ""               # "done", "shutdown requested", the error, ...
        self.outcome_severity = "info"
        self.started = time.time()
        self.finished_at: float | None = None
        self._future: asyncio.Task | None = None
        self._row = None                # its events log Entry (TaskManager keeps it)
        self.group: TaskGroup | None = None     # the bulk operation it is part of

    @property
    def done(self) -> bool:
        return self.state is not TaskState.RUNNING

    def set_progress(self, percent: int | None) -> None:
        """Coroutines may report progress through this; None means indeterminate."""
        self.progress = None if percent is None else max(0, min(100, int(percent)))
        self.changed.emit()

    def set_detail(self, text: str) -> None:
        """A line on what the work is doing now ("Memory: 120 MiB left, …")."""
        if text != self.detail:
            self.detail = text
            self.changed.emit()

    def cancel(self) -> None:
        """Stops waiting for the work. A libvirt call already sent to the host keeps going
        there: only the wait for its answer is abandoned."""
        if self._future is not None and not self._future.done():
            self._future.cancel()

    @property
    def summary(self) -> str:
        """The sentence users read in the status bar and the Events log."""
        if not self.done:
            return f"{self.title}…"
        return f"{self.title}: {self.outcome}"

    def set_outcome(self, outcome: str, severity: str = "info") -> None:
        """What became of a finished task's request, learned later ("shut off")."""
        self.outcome = outcome
        self.outcome_severity = severity
        self.changed.emit()
        self.outcomeChanged.emit()

    def _finish(self, state: TaskState, error: str = "", outcome: str = "",
                severity: str = "info") -> None:
        self.state = state
        self.error = error
        self.outcome = outcome
        self.outcome_severity = severity
        self.finished_at = time.time()
        if state is TaskState.SUCCEEDED:
            self.progress = 100
        self.changed.emit()
        self.finished.emit()


class TaskManager(QObject):
    """Runs coroutines as Tasks; each has one row in the events log, kept up to date."""

    taskStarted = Signal(object)
    taskFinished = Signal(object)
    groupStarted = Signal(object)       # app.task_group.TaskGroup (task_group.run_group)

    def __init__(self, events_log=None, parent: QObject | None = None):
        super().__init__(parent)
        self._log = events_log
        self._active: list[Task] = []

    @property
    def events_log(self):
        return self._log

    def active(self) -> list[Task]:
        return list(self._active)

    def run_action(self, action: Action) -> Task:
        """Runs one action as a Task (its Events row, progress, cancel)."""
        return self.run(action.title, action.target, action.run)

    def run_actions(self, actions: Iterable[Action], at_once: int | None = None
                    ) -> list[Task]:
        """One Task per action; with ``at_once``, no more than that many run at the same
        time (the others wait, listed, their rows saying so), as a bulk migration wants."""
        actions = list(actions)
        if at_once is None or at_once >= len(actions):
            return [self.run_action(a) for a in actions]
        gate = asyncio.Semaphore(max(1, at_once))

        def gated(action: Action) -> Callable[[Task], Awaitable[object]]:
            async def run(task: Task) -> object:
                async with gate:
                    return await action.run(task)
            return run
        return [self.run(a.title, a.target, gated(a)) for a in actions]

    def run(self, title: str, target: str,
            coro_factory: Callable[[Task], Awaitable[object]],
            group: TaskGroup | None = None) -> Task:
        """Schedules ``coro_factory(task)`` on the running loop; the factory gets its Task
        to report progress. A coroutine that returns a string words its outcome
        ("shutdown requested"); otherwise success reads "done"."""
        task = Task(title, target, self)
        task.group = group
        self._active.append(task)
        self._track(task)
        self.taskStarted.emit(task)
        loop = asyncio.get_event_loop()
        task._future = loop.create_task(self._drive(task, coro_factory))
        return task

    async def _drive(self, task: Task, factory) -> None:
        try:
            result = await factory(task)
        except asyncio.CancelledError:
            task._finish(TaskState.CANCELLED, "Cancelled",
                         "cancelled (a request already sent to the host may still "
                         "complete there)", "warning")
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            if not isinstance(exc, ConnectorError):
                log.exception("task %r failed", task.title)
            message = describe_error(exc)
            task._finish(TaskState.FAILED, message, f"failed: {message}", "error")
        else:
            task._finish(TaskState.SUCCEEDED,
                         outcome=result if isinstance(result, str) and result else DONE)
        finally:
            if task in self._active:
                self._active.remove(task)
            self.taskFinished.emit(task)

    def _track(self, task: Task) -> None:
        """The task's one row: written now, rewritten when it ends and when its outcome
        is learned later. (The slot holds the task weakly: no reference cycle of Qt
        objects for the cycle collector to free on some other thread.)"""
        if self._log is None:
            return
        task._row = self._log.add("info", CATEGORY, task.target, task.summary)
        rewrite = functools.partial(self._rewrite, weakref.ref(task))
        task.finished.connect(rewrite)
        task.outcomeChanged.connect(rewrite)

    def _rewrite(self, task_ref) -> None:
        task = task_ref()
        if task is None or self._log is None or task._row is None:
            return
        severity = task.outcome_severity if task.done else "info"
        task._row = self._log.update(task._row, severity=severity, message=task.summary)
