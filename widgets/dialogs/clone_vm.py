"""VM → Clone…: the new name, where the copies go, full or linked, then the copy with
its progress; Cancel stops it before the clone is defined (what was copied is deleted).
"""
from __future__ import annotations

import asyncio

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QLabel, QLineEdit, QProgressBar, QRadioButton, QVBoxLayout)

from app.new_vm.clone import ClonePlan, CloneSession, clone_problems, suggested_clone_name
from app.new_vm.validation import size_text

from .new_vm.common import note_label, problem_label


class CloneDialog(QDialog):
    cloned = Signal(str)            # the clone's key

    def __init__(self, session: CloneSession, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.plan = ClonePlan()
        self.running = False
        vm = session.vm
        self.setWindowTitle(f"Clone {vm.name}")
        self.setObjectName("cloneDialog")
        self.name = QLineEdit()
        self.name.setObjectName("cloneName")
        self.pool = QComboBox()
        self.pool.setObjectName("clonePool")
        self.full = QRadioButton("Full clone: a copy of every disk (independent)")
        self.full.setChecked(True)
        self.linked = QRadioButton("Linked clone: new disks that read the original's "
                                   "(instant, small; the original's disks must stay "
                                   "unchanged)")
        self.linked.setObjectName("linked")
        self.start = QCheckBox("Start the clone when it is made")
        self.disks = note_label()
        self.phase = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setVisible(False)
        self.problem = problem_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.clone_button = self.buttons.addButton(
            "&Clone", QDialogButtonBox.ButtonRole.AcceptRole)
        self.clone_button.setDefault(True)
        form = QFormLayout()
        form.addRow("Name:", self.name)
        form.addRow("Copies go to:", self.pool)
        layout = QVBoxLayout(self)
        layout.addWidget(note_label(f"A new VM like {vm.name}, with a new UUID and new MAC "
                                    "addresses; UEFI variables are copied too."))
        layout.addLayout(form)
        layout.addWidget(self.full)
        layout.addWidget(self.linked)
        layout.addWidget(self.disks)
        layout.addWidget(self.start)
        layout.addWidget(self.phase)
        layout.addWidget(self.bar)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for signal in (self.name.textChanged, self.pool.currentIndexChanged,
                       self.linked.toggled, self.start.toggled):
            signal.connect(self._check)
        session.ready.connect(self._ready)
        session.progress.connect(self._progress)
        session.finished.connect(self._finished)
        self.resize(560, 360)
        self.clone_button.setEnabled(False)
        self.problem.setText("Reading what the host offers…")
        self.load_task = asyncio.ensure_future(session.load())

    def _ready(self, error: str) -> None:
        if error:
            self.problem.setText(error)
            return
        facts = self.session.facts
        assert facts is not None            # ready without an error: the facts are in
        self.pool.addItem("Beside each original disk", "")
        for pool in facts.pools:
            if pool.active:
                self.pool.addItem(f"{pool.name} ({size_text(pool.available)} free)",
                                  pool.name)
        disks = [d for d in self.session.vm.disks if d.device == "disk" and not d.readonly]
        self.disks.setText("Disks: " + (", ".join(f"{d.target} ({d.source})" for d in disks)
                                        or "none"))
        self.name.setText(suggested_clone_name(self.session.vm, facts.names))
        self._check()

    def _read(self) -> None:
        self.plan.name = self.name.text().strip()
        self.plan.pool = self.pool.currentData() or ""
        self.plan.linked = self.linked.isChecked()
        self.plan.start = self.start.isChecked()

    def _check(self, *_args) -> list[str]:
        self._read()
        if self.session.facts is None:
            return ["Reading what the host offers…"]
        found = clone_problems(self.plan, self.session.vm, self.session.facts)
        self.problem.setText(found[0] if found else "")
        self.clone_button.setEnabled(not found and not self.running)
        return found

    def accept(self) -> None:
        if self.running or self._check():
            return
        self.running = True
        self.clone_button.setEnabled(False)
        self.bar.setVisible(True)
        for widget in (self.name, self.pool, self.full, self.linked, self.start):
            widget.setEnabled(False)
        self.session.clone(self.plan)

    def _progress(self, phase: str, fraction: float) -> None:
        self.phase.setText(phase)
        self.bar.setValue(int(fraction * 100))

    def _finished(self, key: str, error: str) -> None:
        self.running = False
        self.bar.setVisible(False)
        for widget in (self.name, self.pool, self.full, self.linked, self.start):
            widget.setEnabled(True)
        if error:
            self.phase.setText("")
            self.problem.setText(error)
            self._check_button_only()
            return
        self.cloned.emit(key)
        super().accept()

    def _check_button_only(self) -> None:
        self.clone_button.setEnabled(True)

    def reject(self) -> None:
        if self.running:
            if not self.session.cancel():
                self.phase.setText("The clone is defined already; it is being started.")
            else:
                self.phase.setText("Cancelling: the disk being copied finishes first, then "
                                   "every copy is deleted…")
            return
        self.load_task.cancel()
        super().reject()
