"""The window's answer to app.commands.Prompter: commands ask, a human answers in a dialog.

A question is answered with its verb, not "Yes": the button that goes ahead says what it
does ("Force Shut Down", "Remove Server"), as GNOME's and KDE's guidelines ask, so a user
who only reads the buttons still knows. Cancel is the default: Enter never destroys.
"""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.commands import DeleteChoice, DeleteTarget

from .delete_vm import ask_delete


class ConfirmBox(QMessageBox):
    """The question as a box with a ``verb`` button (``go_button``) and Cancel (the
    default, so Enter cancels)."""

    def __init__(self, parent: QWidget | None, title: str, text: str, verb: str) -> None:
        super().__init__(QMessageBox.Icon.Warning, title, text,
                         QMessageBox.StandardButton.Cancel, parent)
        self.go_button = self.addButton(verb, QMessageBox.ButtonRole.AcceptRole)
        self.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.setEscapeButton(QMessageBox.StandardButton.Cancel)


def confirm_box(parent: QWidget | None, title: str, text: str, verb: str) -> ConfirmBox:
    return ConfirmBox(parent, title, text, verb)


class DialogPrompter:
    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def confirm(self, title: str, text: str, verb: str) -> bool:
        box = confirm_box(self.parent, title, text, verb)
        box.exec()
        return box.clickedButton() is box.go_button

    def ask_delete(self, targets: list[DeleteTarget]) -> DeleteChoice | None:
        return ask_delete(targets, self.parent)

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)
