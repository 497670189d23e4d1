"""The Snapshots tab (XenCenter's): the selected VM's snapshot tree with the current one
marked, and Take, Revert, Delete and Edit.

What the host cannot do is said where the user looks for it: a driver without snapshots
(libvirt's Xen driver) once, in place of the tree; a disabled action in its tooltip and,
for Revert, in a line under the buttons (an external snapshot needs libvirt 9.9).
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QPushButton,
                               QTreeView, QVBoxLayout, QWidget)

from app import colours
from app.actions.snapshots import SnapshotAction
from app.inventory import NodeKind
from app.snapshots import INFO_ROLE, SnapshotsController
from connectors.libvirt.model import ActionError
from connectors.libvirt.snapshot_ops import SnapshotInfo
from widgets.dialogs.snapshot_dialogs import SnapshotPrompts

NO_SELECTION = "Select a VM to see its snapshots."


class SnapshotsTab(QWidget):
    def __init__(self, manager, tasks=None, prompts: SnapshotPrompts | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.tasks = tasks
        self.prompts = prompts or SnapshotPrompts(self)
        self.controller = SnapshotsController(self)
        self.controller.changed.connect(self._update)
        self.target: tuple[str, str] | None = None
        self.pending: Any = None
        layout = QVBoxLayout(self)
        self.notice = QLabel(NO_SELECTION)
        self.notice.setObjectName("snapshotsNotice")
        self.notice.setWordWrap(True)
        layout.addWidget(self.notice)
        buttons = QHBoxLayout()
        self.take_button = QPushButton("&Take Snapshot…")
        self.take_button.setObjectName("takeSnapshotButton")
        self.revert_button = QPushButton("&Revert…")
        self.revert_button.setObjectName("revertSnapshotButton")
        self.delete_button = QPushButton("&Delete…")
        self.delete_button.setObjectName("deleteSnapshotButton")
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setObjectName("editSnapshotButton")
        self.refresh_button = QPushButton("Re&fresh")
        for button, slot in ((self.take_button, self.take), (self.revert_button, self.revert),
                             (self.delete_button, self.delete),
                             (self.edit_button, self.edit),
                             (self.refresh_button, self.refresh)):
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.reason = QLabel()
        self.reason.setObjectName("snapshotsReason")
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(colours.style(colours.WARNING))
        layout.addWidget(self.reason)
        self.tree = QTreeView()
        self.tree.setObjectName("snapshotTree")
        self.tree.setModel(self.controller.model)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setAlternatingRowColors(True)
        self.tree.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.tree.doubleClicked.connect(lambda _i: self.edit())
        layout.addWidget(self.tree, 1)
        self.status = QLabel()
        self.status.setObjectName("snapshotsStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self._update()

    # ---- selection ----

    def set_selection(self, nodes: list) -> None:
        target = None
        vm = None
        if len(nodes) == 1 and nodes[0].kind is NodeKind.VM:
            target, vm = (nodes[0].conn_id, nodes[0].key), nodes[0].obj
        if target == self.target:
            if vm is not None:
                self.controller.vm = vm          # a fresh record of the same VM
                self._update()
            return
        self.target = target
        host = self.manager.host(target[0]) if target else None
        self.controller.set_vm(host, vm)
        self.status.clear()
        if target is not None and self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self.target is not None:
            self.refresh()

    def selected(self) -> SnapshotInfo | None:
        rows = self.tree.selectionModel().selectedRows()
        return rows[0].data(INFO_ROLE) if rows else None

    def select(self, name: str) -> None:
        item = self.controller.model.find(name)
        if item is not None:
            self.tree.setCurrentIndex(item.index())

    # ---- actions ----

    def refresh(self) -> Any:
        return self._run(None, self.controller.refresh)

    def take(self) -> Any:
        request = self.prompts.ask_take(self.controller)
        if request is None:
            return None
        return self._run(f"Taking snapshot {request.name}",
                         lambda: self.controller.take(request))

    def revert(self) -> Any:
        snap = self.selected()
        vm = self.controller.vm
        if snap is None or vm is None or not self.controller.abilities(snap).revert:
            return None
        running = self.prompts.ask_revert(snap, vm.name)
        if running is None:
            return None
        return self._run(f"Reverting to snapshot {snap.name}",
                         lambda: self.controller.revert(snap.name, running))

    def delete(self) -> Any:
        snap = self.selected()
        if snap is None:
            return None
        children = self._descendants(snap.name)
        with_children = self.prompts.ask_delete(snap, children)
        if with_children is None:
            return None
        return self._run(f"Deleting snapshot {snap.name}",
                         lambda: self.controller.delete(snap.name, with_children))

    def edit(self) -> Any:
        snap = self.selected()
        if snap is None:
            return None
        answer = self.prompts.ask_edit(snap, self.controller.rename_offer(snap))
        if answer is None:
            return None
        new_name = answer.name if answer.name and answer.name != snap.name else None
        return self._run(f"Changing snapshot {snap.name}",
                         lambda: self.controller.edit(snap.name, answer.description,
                                                      new_name))

    def _descendants(self, name: str) -> int:
        children = [s.name for s in self.controller.snapshots if s.parent == name]
        return len(children) + sum(self._descendants(c) for c in children)

    def _run(self, title: str | None, work: Callable[[], Awaitable[Any]]) -> Any:
        """The work as an action (one Events row, progress in the status bar) when the
        tab has the window's tasks, else a plain asyncio task; its failure is said under
        the tree either way. Refresh is no action: it changes nothing."""
        vm = self.controller.vm
        target = self.target
        if vm is None or target is None:
            return None

        async def guarded() -> None:
            try:
                await work()
                if title:
                    self.status.setText(f"{title}: done.")
            except ActionError as err:
                self.status.setText(str(err))
                if title:
                    raise

        if title is not None and self.tasks is not None:
            action = SnapshotAction(f"{title} of {vm.name}",
                                    self.manager.label(target[0]), vm.name, guarded)
            self.pending = self.tasks.run_action(action)
        else:
            self.pending = asyncio.ensure_future(guarded())
        if title:
            self.status.setText(f"{title}…")
        return self.pending

    # ---- showing ----

    def _update(self) -> None:
        c = self.controller
        vm = c.vm
        selected = self.selected()
        able = c.abilities(selected)
        for button, offer in ((self.take_button, able.take),
                              (self.revert_button, able.revert),
                              (self.delete_button, able.delete),
                              (self.edit_button, able.edit)):
            button.setEnabled(bool(offer))
            button.setToolTip(offer.reason)
        self.refresh_button.setEnabled(vm is not None and bool(c.supported))
        self.tree.setVisible(bool(c.supported))
        if vm is None:
            self.notice.setText(NO_SELECTION)
        elif not c.supported:
            self.notice.setText(c.supported.reason)
        else:
            kind = c.current_kind()
            count = len(c.snapshots)
            words = (f"{count} {kind} snapshot{'s' if count != 1 else ''}" if kind else
                     "No snapshots yet")
            self.notice.setText(f"<b>{vm.name}</b>: {words}.")
        reason = ""
        if selected is not None and not able.revert:
            reason = f"Revert is not offered: {able.revert.reason}"
        elif c.offers is not None and not c.offers.internal and not c.offers.external:
            reason = c.offers.internal.reason
        self.reason.setText(reason)
        self.reason.setVisible(bool(reason))
        self.tree.header().setStretchLastSection(True)
        self.tree.expandAll()
        for column in range(3):
            self.tree.resizeColumnToContents(column)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Delete and self.delete_button.isEnabled():
            self.delete()
            return
        super().keyPressEvent(event)
