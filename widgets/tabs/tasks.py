"""The Tasks tab: what is running now and what ran in this session, with progress and
Cancel (XenCenter's running-tasks list).

One row per task of the TaskManager, newest first: its title and target, a progress
bar (a moving one while the task cannot say how far it is), what it is doing now
(``Task.detail``: a migration's data left, dirty rate and expected downtime, read from
libvirt's job statistics), and a Cancel button while it runs. A finished task keeps its
row with its outcome ("moved to kvm2 (3.4 s, paused 187 ms)", or the error) until the
list holds ``KEEP`` finished ones.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QHeaderView, QProgressBar, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app import colours
from app.tasks import Task, TaskState

COLUMNS = ("Task", "Target", "Progress", "Status", "")
TITLE, TARGET, PROGRESS, STATUS, CANCEL = range(5)
KEEP = 50


class TasksTab(QWidget):
    def __init__(self, tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.list = QTreeWidget()
        self.list.setObjectName("taskList")
        self.list.setColumnCount(len(COLUMNS))
        self.list.setHeaderLabels(COLUMNS)
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(TITLE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(TARGET, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(CANCEL, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(TITLE, 220)
        header.resizeSection(TARGET, 160)
        header.resizeSection(PROGRESS, 110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self._rows: dict[int, tuple[Task, QTreeWidgetItem]] = {}
        tasks.taskStarted.connect(self.add)
        for task in tasks.active():
            self.add(task)

    def add(self, task: Task) -> None:
        item = QTreeWidgetItem([task.title, task.target, "", "", ""])
        self.list.insertTopLevelItem(0, item)
        bar = QProgressBar()
        bar.setMaximumHeight(16)
        bar.setTextVisible(True)
        self.list.setItemWidget(item, PROGRESS, bar)
        cancel = QPushButton("Cancel")
        cancel.setObjectName("cancelTask")
        cancel.setToolTip(f"Cancel: {task.title}")
        cancel.clicked.connect(task.cancel)
        self.list.setItemWidget(item, CANCEL, cancel)
        self._rows[id(task)] = (task, item)
        task.changed.connect(self._changed)     # a bound method: no lambda cycle
        self.refresh(task)
        self._trim()

    def _changed(self) -> None:
        task = self.sender()
        if isinstance(task, Task):
            self.refresh(task)

    def refresh(self, task: Task) -> None:
        found = self._rows.get(id(task))
        if found is None:
            return
        _task, item = found
        bar = self.list.itemWidget(item, PROGRESS)
        cancel = self.list.itemWidget(item, CANCEL)
        if isinstance(bar, QProgressBar):
            if task.done:
                bar.setRange(0, 100)
                bar.setValue(100 if task.state is TaskState.SUCCEEDED else bar.value())
            elif task.progress is None:
                bar.setRange(0, 0)
            else:
                bar.setRange(0, 100)
                bar.setValue(task.progress)
        if cancel is not None:
            cancel.setVisible(not task.done)
        if task.done:
            text = task.outcome or task.state.label
        else:
            text = task.detail or "Running…"
        item.setText(STATUS, text)
        item.setToolTip(STATUS, text)
        failed = task.state is TaskState.FAILED
        item.setForeground(STATUS, colours.brush(colours.ERROR) if failed else
                           self.list.palette().text())

    def rows(self) -> list[tuple[str, str]]:
        """(title, status) of every row, newest first: what the user reads."""
        items = [self.list.topLevelItem(i) for i in range(self.list.topLevelItemCount())]
        return [(item.text(TITLE), item.text(STATUS)) for item in items if item is not None]

    def cancel_button(self, task: Task) -> QPushButton | None:
        found = self._rows.get(id(task))
        if found is None:
            return None
        widget = self.list.itemWidget(found[1], CANCEL)
        return widget if isinstance(widget, QPushButton) else None

    def _trim(self) -> None:
        finished = [(t, item) for t, item in self._rows.values() if t.done]
        for task, item in finished[:-KEEP] if len(finished) > KEEP else []:
            self.list.takeTopLevelItem(self.list.indexOfTopLevelItem(item))
            del self._rows[id(task)]
