"""The Properties dialog's questions, asked in dialogs (``Prompts`` of base.py)."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QMessageBox, QWidget

from app.properties.changes import Change
from app.properties.session import DiskChoice, EditSession
from app.properties.words import size_bytes
from widgets.dialogs.properties.add_disk import ask_new_disk
from widgets.dialogs.properties.summary import SummaryDialog


class DialogPrompts:
    """``Prompts`` answered by a human."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def confirm_removal(self, label: str, volume: str | None) -> tuple[bool, bool]:
        box = QMessageBox(QMessageBox.Icon.Question, "Remove device",
                          f"Remove the {label} from this VM?", parent=self.parent)
        remove = box.addButton("Remove", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        check = None
        if volume:
            check = QCheckBox(f"Also delete its volume {volume} (its data is lost)")
            box.setCheckBox(check)
        box.exec()
        return box.clickedButton() is remove, bool(check and check.isChecked())

    def choose_new_disk(self, session: EditSession) -> DiskChoice | None:
        return ask_new_disk(session, self.parent)

    def confirm_changes(self, name: str, changes: list[Change], running: bool) -> bool:
        dialog = SummaryDialog(name, changes, running, self.parent)
        return dialog.exec() == QDialog.DialogCode.Accepted

    def confirm_shrink(self, target: str, old: int, new: int) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning, "Shrink disk",
                          f"Shrink {target} from {size_bytes(old)} to {size_bytes(new)}?\n\n"
                          f"Whatever the guest keeps past {size_bytes(new)} is cut off and "
                          "lost, and a file system that is not shrunk first inside the "
                          "guest is damaged.", parent=self.parent)
        shrink = box.addButton("Shrink", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is shrink
