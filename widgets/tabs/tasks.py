"""The Tasks tab: what is running now and what ran in this session, with progress and
Cancel (XenCenter's running-tasks list).

One row per task of the TaskManager, newest first: its title and target, a progress
bar (a moving one while the task cannot say how far it is), what it is doing now
(``Task.detail``: a migration's data left, dirty rate and expected downtime, read from
libvirt's job statistics), and a Cancel button while it runs. A finished task keeps its
row with its outcome ("moved to kvm2 (3.4 s, paused 187 ms)", or the error) until the
list holds ``KEEP`` finished ones.

A bulk operation (app/task_group.py) is one row too, with how many of its VMs are done,
its totals and one Cancel that stops the VMs not started yet; each VM's task is a row
under it.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QHeaderView, QProgressBar, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app import colours
from app.task_group import TaskGroup
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
        self._groups: dict[int, tuple[TaskGroup, QTreeWidgetItem]] = {}
        tasks.taskStarted.connect(self.add)
        tasks.groupStarted.connect(self.add_group)
        for task in tasks.active():
            self.add(task)

    def _row_widgets(self, item: QTreeWidgetItem, title: str) -> QPushButton:
        bar = QProgressBar()
        bar.setMaximumHeight(16)
        bar.setTextVisible(True)
        self.list.setItemWidget(item, PROGRESS, bar)
        cancel = QPushButton("Cancel")
        cancel.setObjectName("cancelTask")
        cancel.setToolTip(f"Cancel: {title}")
        self.list.setItemWidget(item, CANCEL, cancel)
        return cancel

    def add_group(self, group: TaskGroup) -> None:
        self.list.setRootIsDecorated(True)
        item = QTreeWidgetItem([group.title, TaskGroup.where(group.actions), "", "", ""])
        self.list.insertTopLevelItem(0, item)
        cancel = self._row_widgets(item, group.title)
        cancel.setText("Cancel Rest")
        cancel.setToolTip("Cancel the VMs not started yet (those already sent to their "
                          "host finish)")
        cancel.clicked.connect(group.cancel_pending)
        for skip in group.skipped:
            item.addChild(QTreeWidgetItem(["Skipped", skip.target, "",
                                           f"skipped: {skip.reason}", ""]))
        self._groups[id(group)] = (group, item)
        group.changed.connect(self._group_changed)
        self.refresh_group(group)

    def _group_changed(self) -> None:
        group = self.sender()
        if isinstance(group, TaskGroup):
            self.refresh_group(group)

    def refresh_group(self, group: TaskGroup) -> None:
        found = self._groups.get(id(group))
        if found is None:
            return
        item = found[1]
        bar = self.list.itemWidget(item, PROGRESS)
        if isinstance(bar, QProgressBar):
            bar.setRange(0, max(1, group.total))
            bar.setValue(group.finished_count)
            bar.setFormat(f"{group.finished_count} of {group.total}")
        cancel = self.list.itemWidget(item, CANCEL)
        if cancel is not None:
            cancel.setVisible(not group.done)
        text = group.summary.split(": ", 1)[-1]
        item.setText(STATUS, text)
        item.setToolTip(STATUS, text)

    def add(self, task: Task) -> None:
        item = QTreeWidgetItem([task.title, task.target, "", "", ""])
        parent = self._groups.get(id(task.group)) if task.group is not None else None
        if parent is not None:
            parent[1].addChild(item)
        else:
            self.list.insertTopLevelItem(0, item)
        cancel = self._row_widgets(item, task.title)
        cancel.clicked.connect(task.cancel)
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

    def group_rows(self, group: TaskGroup) -> list[tuple[str, str]]:
        """(title, status) of a group's own row and then of each of its VMs' rows."""
        found = self._groups.get(id(group))
        if found is None:
            return []
        item = found[1]
        children = [item.child(i) for i in range(item.childCount())]
        return [(item.text(TITLE), item.text(STATUS))] + [
            (c.text(TITLE), c.text(STATUS)) for c in children if c is not None]

    def group_cancel_button(self, group: TaskGroup) -> QPushButton | None:
        found = self._groups.get(id(group))
        widget = self.list.itemWidget(found[1], CANCEL) if found else None
        return widget if isinstance(widget, QPushButton) else None

    def _trim(self) -> None:
        finished = [(t, item) for t, item in self._rows.values()
                    if t.done and t.group is None]
        for task, item in finished[:-KEEP] if len(finished) > KEEP else []:
            self.list.takeTopLevelItem(self.list.indexOfTopLevelItem(item))
            del self._rows[id(task)]
        groups = [(g, item) for g, item in self._groups.values() if g.done]
        for group, item in groups[:-KEEP] if len(groups) > KEEP else []:
            self.list.takeTopLevelItem(self.list.indexOfTopLevelItem(item))
            del self._groups[id(group)]
            for task in group.tasks:
                self._rows.pop(id(task), None)
