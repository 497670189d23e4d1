"""Long operations as observable tasks: XenCenter's "actions" with progress, cancel and a log.

A Task wraps one asyncio task running on the qasync loop. Widgets watch its signals (the
status bar shows progress, the events log gets start and result); nothing here blocks.
"""
from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import time
from typing import Awaitable, Callable

from PySide6.QtCore import QObject, Signal

from connectors.libvirt.model import ConnectorError

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


class Task(QObject):
    changed = Signal()
    finished = Signal()

    def __init__(self, title: str, target: str, parent: QObject | None = None):
        super().__init__(parent)
        self.title = title
        self.target = target
        self.state = TaskState.RUNNING
        self.progress: int | None = None
        self.detail = ""            # what it is doing now, in a few words
        self.error = ""
        self.started = time.time()
        self.finished_at: float | None = None
        self._future: asyncio.Task | None = None

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

    def _finish(self, state: TaskState, error: str = "") -> None:
        self.state = state
        self.error = error
        self.finished_at = time.time()
        if state is TaskState.SUCCEEDED:
            self.progress = 100
        self.changed.emit()
        self.finished.emit()


def _wants_task(factory) -> bool:
    try:
        return len(inspect.signature(factory).parameters) >= 1
    except (TypeError, ValueError):
        return False


class TaskManager(QObject):
    """Runs coroutines as Tasks and writes their start and outcome to the events log."""

    taskStarted = Signal(object)
    taskFinished = Signal(object)

    def __init__(self, events_log=None, parent: QObject | None = None):
        super().__init__(parent)
        self._log = events_log
        self._active: list[Task] = []

    @property
    def events_log(self):
        return self._log

    def active(self) -> list[Task]:
        return list(self._active)

    def run(self, title: str, target: str,
            coro_factory: Callable[[Task], Awaitable[object]] | Callable[[], Awaitable[object]]
            ) -> Task:
        """Schedules coro_factory() on the running loop. A factory taking one argument
        receives the Task, so it can report progress."""
        task = Task(title, target, self)
        self._active.append(task)
        self._record("info", target, f"{title}: started")
        self.taskStarted.emit(task)
        loop = asyncio.get_event_loop()
        task._future = loop.create_task(self._drive(task, coro_factory))
        return task

    async def _drive(self, task: Task, factory) -> None:
        try:
            await (factory(task) if _wants_task(factory) else factory())
        except asyncio.CancelledError:
            task._finish(TaskState.CANCELLED, "Cancelled")
            self._record("warning", task.target,
                         f"{task.title}: cancelled (a request already sent to the host "
                         "may still complete there)")
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            if not isinstance(exc, ConnectorError):
                log.exception("task %r failed", task.title)
            message = describe_error(exc)
            task._finish(TaskState.FAILED, message)
            self._record("error", task.target, f"{task.title}: failed: {message}")
        else:
            task._finish(TaskState.SUCCEEDED)
            self._record("info", task.target, f"{task.title}: done")
        finally:
            if task in self._active:
                self._active.remove(task)
            self.taskFinished.emit(task)

    def _record(self, severity: str, source: str, message: str) -> None:
        if self._log is not None:
            self._log.add(severity, CATEGORY, source, message)
