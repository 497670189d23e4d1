"""Running a New VM or Clone action as a task, and saying how it ended: shared by the
wizard's session and the Clone dialog's (both cancel only until the VM is defined: what
follows cannot be undone by cancelling)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.actions.new_vm import CloneVM, CreateVM
from app.tasks import Task, TaskManager, TaskState
from connectors.libvirt.clone_ops import CloneJob
from connectors.libvirt.create_ops import CreateJob


class CreationRunner(QObject):
    """Signals: ``progress(phase, fraction)`` while the action runs; ``finished(key,
    error)`` when it ended (key "" and the sentence when it did not make the VM)."""

    progress = Signal(str, float)
    finished = Signal(str, str)

    def __init__(self, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.task: Task | None = None
        self.job: CreateJob | CloneJob | None = None

    def run(self, action: CreateVM | CloneVM, cancelled: str) -> Task:
        """``cancelled``: what the user is told when they cancelled it."""
        self.job = action.job
        task = self.tasks.run_action(action)
        self.task = task
        task.finished.connect(lambda: self._ended(task, action, cancelled))
        return task

    def _ended(self, task: Task, action: CreateVM | CloneVM, cancelled: str) -> None:
        if task.state is TaskState.SUCCEEDED:
            self.finished.emit(action.key, "")
        elif task.state is TaskState.CANCELLED:
            self.finished.emit("", cancelled)
        else:
            self.finished.emit("", task.error)

    def cancel(self) -> bool:
        """False once the VM is defined (the rest cannot be undone by cancelling)."""
        if self.task is None or self.job is None or self.job.defined:
            return False
        self.task.cancel()
        return True
