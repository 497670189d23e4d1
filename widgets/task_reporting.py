"""What the running tasks tell the user outside the Tasks tab: the status bar's progress
and last result, and a failure's message.

A migration's task reports how far it is and what it does now (libvirt's job statistics);
an outcome learned after the task ended ("shut off" after "Shut down requested") replaces
the result while it is still the one shown.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from app.commands import Prompter
from app.task_group import TaskGroup
from app.tasks import Task, TaskManager, TaskState
from widgets.status_bar import MainStatusBar


class TaskReporter(QObject):
    def __init__(self, tasks: TaskManager, status: MainStatusBar, prompter: Prompter | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._status = status
        self._prompter = prompter
        self._shown: Task | None = None
        tasks.taskStarted.connect(self._started)
        tasks.taskFinished.connect(self._finished)
        tasks.groupStarted.connect(self._group_started)

    def _running_titles(self) -> list[str]:
        return [f"{task.title} — {task.detail}" if task.detail else task.title
                for task in self._tasks.active()]

    def _started(self, task: Task) -> None:
        task.changed.connect(self._progressed)
        self._progressed()

    def _progressed(self) -> None:
        active = self._tasks.active()
        self._status.set_running(self._running_titles())
        self._status.set_progress(active[-1].progress if active else None)

    def _finished(self, task: Task) -> None:
        running = self._running_titles()
        self._status.set_running(running)
        failed = task.state is TaskState.FAILED
        if not running and task.group is None:
            self._shown = task
            self._status.set_result(task.summary, failed)
        task.outcomeChanged.connect(self._outcome_changed)
        prompter = self._prompter
        # A bulk operation's failures are told once, when it ends (_group_finished).
        if failed and prompter is not None and task.group is None:
            # Not from inside the task's coroutine: a message box there would run its
            # own event loop in the middle of an asyncio step.
            QTimer.singleShot(0, lambda: prompter.show_error(task.title, task.error))

    def _group_started(self, group: TaskGroup) -> None:
        group.finished.connect(self._group_finished)

    def _group_finished(self) -> None:
        group = self.sender()
        if not isinstance(group, TaskGroup):
            return
        failed = [r for r in group.results() if r.state == "failed"]
        self._status.set_result(group.summary, bool(failed))
        prompter = self._prompter
        if failed and prompter is not None:
            lines = [f"{r.target}: {r.text}" for r in failed[:10]]
            if len(failed) > 10:
                lines.append(f"… and {len(failed) - 10} more (Tasks tab)")
            text = group.summary + "\n\n" + "\n".join(lines)
            QTimer.singleShot(0, lambda: prompter.show_error(group.title, text))

    def _outcome_changed(self) -> None:
        task = self.sender()
        if isinstance(task, Task) and task is self._shown and not self._running_titles():
            self._status.set_result(task.summary, task.outcome_severity == "error")
