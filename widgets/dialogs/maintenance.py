"""Enter and Exit Maintenance Mode (XenCenter's), for one host.

Entering: the dialog lists the other hosts that can take VMs (all ticked: HVConsole then
places each VM where it fits, by free memory; untick to keep VMs off a host), and shows
the plan app.maintenance made — each running VM and where it goes, or why it cannot go
anywhere — refreshed when the ticks change. A VM that cannot move keeps running here
unless "Shut down the VMs that cannot move" is ticked. Exiting asks whether to bring
back the VMs maintenance mode moved away.
"""
from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QListWidget, QListWidgetItem, QMessageBox, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app import colours
from app.maintenance import EvacuationPlan, MaintenanceMode
from connectors.libvirt.model import ActionError


class EnterMaintenanceDialog(QDialog):
    """``planned()`` whenever a plan has come back (tests, screenshots)."""

    planned = Signal()

    def __init__(self, maintenance: MaintenanceMode, conn_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.maintenance = maintenance
        self.conn_id = conn_id
        self.plan: EvacuationPlan | None = None
        self._job: asyncio.Task | None = None
        manager = maintenance.manager
        label = manager.label(conn_id)
        self.setWindowTitle(f"Enter Maintenance Mode: {label}")
        self.setObjectName("enterMaintenanceDialog")
        self.setMinimumWidth(560)
        intro = QLabel(f"{label} will start no VM while it is in maintenance mode. Its "
                       "running VMs move to the hosts ticked below (each where it fits "
                       "best by free memory); shut-off VMs stay defined here.")
        intro.setWordWrap(True)
        self.targets = QListWidget()
        self.targets.setObjectName("maintenanceTargets")
        self.targets.setMaximumHeight(100)
        for dest, dest_label, why in maintenance.migrations.destinations(conn_id):
            item = QListWidgetItem(dest_label if not why else f"{dest_label} — {why}")
            item.setData(Qt.ItemDataRole.UserRole, dest)
            if why:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            else:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
            self.targets.addItem(item)
        self.targets.itemChanged.connect(self._replan)
        self.moves = QTreeWidget()
        self.moves.setObjectName("maintenancePlan")
        self.moves.setHeaderLabels(["VM", "Goes to"])
        self.moves.setRootIsDecorated(False)
        self.moves.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.moves.header().resizeSection(0, 200)
        self.shut_down = QCheckBox("Shut down the VMs that cannot move (the guest is asked "
                                   "to, as with Shut Down)")
        self.shut_down.setObjectName("shutDownRefused")
        self.status = QLabel("Planning…")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Enter Maintenance Mode",
                                         QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setDefault(True)
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Move the running VMs to:"))
        layout.addWidget(self.targets)
        layout.addWidget(self.moves)
        layout.addWidget(self.shut_down)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._replan()

    def chosen(self) -> list[str]:
        return [self.targets.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.targets.count())
                if self.targets.item(i).checkState() == Qt.CheckState.Checked]

    def _replan(self, *_args) -> None:
        if self._job is not None and not self._job.done():
            self._job.cancel()
        self.ok.setEnabled(False)
        self.status.setText("Planning…")
        self._job = asyncio.ensure_future(self._plan(self.chosen()))

    async def _plan(self, targets: list[str]) -> None:
        try:
            plan = await self.maintenance.plan(self.conn_id, targets)
        except ActionError as err:
            self.status.setText(str(err))
            return
        self.plan = plan
        manager = self.maintenance.manager
        self.moves.clear()
        for move in plan.moves:
            copies = move.request.options.copy_storage
            where = manager.label(move.dest) + (
                f" (copying {len(copies)} disk{'s' if len(copies) > 1 else ''})"
                if copies else "")
            QTreeWidgetItem(self.moves, [move.name, where])
        for refusal in plan.refused:
            item = QTreeWidgetItem(self.moves, [refusal.name,
                                                f"cannot move: {refusal.reasons[0]}"])
            item.setForeground(1, colours.brush(colours.ERROR))
            item.setToolTip(1, "\n".join(refusal.reasons))
        self.shut_down.setEnabled(bool(plan.refused))
        if not plan.moves and not plan.refused:
            self.status.setText("No VM runs here: the host is only marked.")
        elif plan.refused:
            self.status.setText(f"{len(plan.refused)} VM(s) cannot move; they keep running "
                                "here unless you tick Shut down.")
        else:
            self.status.setText(f"{len(plan.moves)} VM(s) will move.")
        self.ok.setEnabled(True)
        self.planned.emit()

    def done(self, result: int) -> None:  # noqa: D102 - QDialog's
        if self._job is not None and not self._job.done():
            self._job.cancel()
        super().done(result)


def ask_exit(maintenance: MaintenanceMode, conn_id: str,
             parent: QWidget | None = None) -> bool | None:
    """Exit Maintenance Mode? None: cancelled; else whether to bring the VMs back."""
    label = maintenance.manager.label(conn_id)
    moved = maintenance.evacuated(conn_id)
    box = QMessageBox(QMessageBox.Icon.Question, f"Exit Maintenance Mode: {label}",
                      f"VMs may start on {label} again.", parent=parent)
    box.setObjectName("exitMaintenanceBox")
    bring = None
    if moved:
        names = ", ".join(e.name for e in moved[:5]) + (
            f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        bring = QCheckBox(f"Bring back the VMs moved away: {names}")
        bring.setChecked(True)
        box.setCheckBox(bring)
    exit_button = box.addButton("Exit Maintenance Mode", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(exit_button)
    box.exec()
    if box.clickedButton() is not exit_button:
        return None
    return bool(bring is not None and bring.isChecked())
