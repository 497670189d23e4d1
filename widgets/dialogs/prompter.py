"""The window's answer to app.commands.Prompter: commands ask, a human answers in a dialog."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.commands import DeleteChoice

from .delete_vm import ask_delete


class DialogPrompter:
    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def confirm(self, title: str, text: str) -> bool:
        box = QMessageBox(QMessageBox.Warning, title, text,
                          QMessageBox.Yes | QMessageBox.Cancel, self.parent)
        box.setDefaultButton(QMessageBox.Cancel)
        return box.exec() == QMessageBox.Yes

    def ask_delete(self, vms: list) -> DeleteChoice | None:
        return ask_delete(vms, self.parent)

    def choose(self, title: str, text: str, options: list[str]) -> int | None:
        """One of several ways to go on (the index), or None for Cancel; Cancel is the
        default button, so Enter never destroys anything."""
        box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Cancel, self.parent)
        buttons = [box.addButton(option, QMessageBox.DestructiveRole if index else
                                 QMessageBox.AcceptRole)
                   for index, option in enumerate(options)]
        box.setDefaultButton(QMessageBox.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return buttons.index(clicked) if clicked in buttons else None

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)
