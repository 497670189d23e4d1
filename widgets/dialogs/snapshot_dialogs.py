"""The Snapshots tab's questions: Take Snapshot, Revert, Delete and Edit, each a small
dialog (``SnapshotPrompts``), answered by scripts in tests instead."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QDialogButtonBox,
                               QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QRadioButton,
                               QVBoxLayout, QWidget)

from app import colours
from app.snapshots import SnapshotsController
from connectors.libvirt.capabilities import Offer
from connectors.libvirt.snapshot_ops import SnapshotInfo, TakeRequest

INTERNAL_RUNNING = ("An internal snapshot of a running VM always saves its memory "
                    "(QEMU's savevm).")


def _disable(widget: QWidget, offer: Offer) -> None:
    widget.setEnabled(bool(offer))
    if not offer:
        widget.setToolTip(offer.reason)


class TakeSnapshotDialog(QDialog):
    def __init__(self, controller: SnapshotsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        offers = controller.offers
        assert offers is not None and controller.vm is not None
        self.running = controller.running()
        self.setWindowTitle(f"Take a Snapshot of {controller.vm.name}")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name_edit = QLineEdit(controller.default_name())
        self.name_edit.setObjectName("snapshotName")
        self.taken = {s.name for s in controller.snapshots}
        form.addRow("&Name:", self.name_edit)
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("snapshotDescription")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setMaximumHeight(80)
        form.addRow("&Description:", self.description_edit)
        self.internal_radio = QRadioButton("&Internal (inside the qcow2 disk images)")
        self.internal_radio.setObjectName("internalRadio")
        self.external_radio = QRadioButton("E&xternal (an overlay file per disk)")
        self.external_radio.setObjectName("externalRadio")
        group = QButtonGroup(self)
        group.addButton(self.internal_radio)
        group.addButton(self.external_radio)
        _disable(self.internal_radio, offers.internal)
        _disable(self.external_radio, offers.external)
        (self.internal_radio if offers.internal else self.external_radio).setChecked(True)
        form.addRow("Kind:", self.internal_radio)
        form.addRow("", self.external_radio)
        self.memory_check = QCheckBox("Include the guest's &memory (it comes back running)")
        self.memory_check.setObjectName("memoryCheck")
        self.memory_check.setChecked(self.running)
        self.memory_offer = offers.memory
        form.addRow("", self.memory_check)
        self.quiesce_check = QCheckBox("&Quiesce: the guest agent flushes and freezes the "
                                       "file systems first")
        self.quiesce_check.setObjectName("quiesceCheck")
        self.quiesce_offer = offers.quiesce
        form.addRow("", self.quiesce_check)
        layout.addLayout(form)
        self.reason_label = QLabel()
        self.reason_label.setObjectName("takeReasons")
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet(colours.style(colours.MUTED))
        layout.addWidget(self.reason_label)
        self.buttons = QDialogButtonBox()
        self.buttons.addButton("Take Snapshot", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for signal in (self.internal_radio.toggled, self.memory_check.toggled,
                       self.name_edit.textChanged):
            signal.connect(self._update)
        self._update()

    def _update(self) -> None:
        reasons = []
        internal = self.internal_radio.isChecked()
        if internal and self.running:
            self.memory_check.setChecked(True)
            self.memory_check.setEnabled(False)
            self.memory_check.setToolTip(INTERNAL_RUNNING)
        else:
            _disable(self.memory_check, self.memory_offer)
            if not self.memory_offer:
                self.memory_check.setChecked(False)
        quiesce = Offer(False, "Quiescing applies to an external snapshot of the disks "
                               "only.") if internal or self.memory_check.isChecked() \
            else self.quiesce_offer
        _disable(self.quiesce_check, quiesce)
        if not quiesce:
            self.quiesce_check.setChecked(False)
        for radio in (self.internal_radio, self.external_radio):
            if not radio.isEnabled():
                reasons.append(radio.toolTip())
        if not self.quiesce_check.isEnabled() and not internal:
            reasons.append(self.quiesce_check.toolTip())
        name = self.name_edit.text().strip()
        problem = ("A snapshot needs a name." if not name else
                   f"This VM already has a snapshot called {name}." if name in self.taken
                   else "")
        if problem:
            reasons.insert(0, problem)
        self.reason_label.setText("\n".join(r for r in reasons if r))
        ok = self.buttons.buttons()[0]
        ok.setEnabled(not problem and (self.internal_radio.isEnabled()
                                       or self.external_radio.isEnabled()))

    def request(self) -> TakeRequest:
        return TakeRequest(self.name_edit.text().strip(),
                           self.description_edit.toPlainText().strip(),
                           external=self.external_radio.isChecked(),
                           memory=self.memory_check.isChecked(),
                           quiesce=self.quiesce_check.isChecked())


class RevertDialog(QDialog):
    def __init__(self, snapshot: SnapshotInfo, vm_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Revert {vm_name}")
        layout = QVBoxLayout(self)
        text = QLabel(f"Revert {vm_name} to the snapshot “{snapshot.name}”?\n\nEverything "
                      "that changed in the VM since the snapshot was taken is lost (take a "
                      "snapshot first to keep it).")
        text.setWordWrap(True)
        layout.addWidget(text)
        self.running_radio = QRadioButton("Afterwards the VM is &running")
        self.running_radio.setObjectName("revertRunning")
        self.paused_radio = QRadioButton("Afterwards the VM is &paused")
        self.paused_radio.setObjectName("revertPaused")
        self.running_radio.setChecked(True)
        layout.addWidget(self.running_radio)
        layout.addWidget(self.paused_radio)
        if not snapshot.has_memory:
            layout.addWidget(QLabel("This snapshot holds no memory: the VM starts afresh "
                                    "from its disks."))
        buttons = QDialogButtonBox()
        buttons.addButton("Revert", QDialogButtonBox.ButtonRole.DestructiveRole)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        buttons.clicked.connect(lambda b: self.done(
            QDialog.DialogCode.Rejected if b is cancel else QDialog.DialogCode.Accepted))
        layout.addWidget(buttons)


class DeleteDialog(QDialog):
    def __init__(self, snapshot: SnapshotInfo, children: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Delete Snapshot")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Delete the snapshot “{snapshot.name}”?"))
        self.only_radio = QRadioButton("&This snapshot only (its children keep their data)")
        self.only_radio.setObjectName("deleteOnly")
        self.children_radio = QRadioButton(f"This snapshot and its {children} "
                                           f"&descendant{'s' if children != 1 else ''}")
        self.children_radio.setObjectName("deleteChildren")
        self.only_radio.setChecked(True)
        self.children_radio.setEnabled(children > 0)
        layout.addWidget(self.only_radio)
        layout.addWidget(self.children_radio)
        buttons = QDialogButtonBox()
        buttons.addButton("Delete", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class EditDialog(QDialog):
    def __init__(self, snapshot: SnapshotInfo, rename: Offer,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit Snapshot")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name_edit = QLineEdit(snapshot.name)
        self.name_edit.setObjectName("editName")
        _disable(self.name_edit, rename)
        form.addRow("&Name:", self.name_edit)
        self.description_edit = QPlainTextEdit(snapshot.description)
        self.description_edit.setObjectName("editDescription")
        form.addRow("&Description:", self.description_edit)
        layout.addLayout(form)
        if not rename:
            note = QLabel(rename.reason)
            note.setWordWrap(True)
            layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


@dataclass(frozen=True)
class EditAnswer:
    name: str
    description: str


class SnapshotPrompts:
    """The tab's questions, answered in dialogs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def ask_take(self, controller: SnapshotsController) -> TakeRequest | None:
        dialog = TakeSnapshotDialog(controller, self.parent)
        return dialog.request() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def ask_revert(self, snapshot: SnapshotInfo, vm_name: str) -> bool | None:
        """True: running afterwards; False: paused; None: cancelled."""
        dialog = RevertDialog(snapshot, vm_name, self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.running_radio.isChecked()

    def ask_delete(self, snapshot: SnapshotInfo, children: int) -> bool | None:
        """True: with its children; False: this one; None: cancelled."""
        dialog = DeleteDialog(snapshot, children, self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.children_radio.isChecked()

    def ask_edit(self, snapshot: SnapshotInfo, rename: Offer) -> EditAnswer | None:
        dialog = EditDialog(snapshot, rename, self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return EditAnswer(dialog.name_edit.text().strip(),
                          dialog.description_edit.toPlainText().strip())
