"""The password of the encrypted file that keeps remembered passwords when no system
keyring runs. Creating the file asks twice; opening it asks once."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QVBoxLayout, QWidget)

from app import colours

from .awaiting import run_dialog


class VaultPasswordDialog(QDialog):
    def __init__(self, path: str, creating: bool, parent: QWidget | None = None,
                 error: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Encrypted Password File")
        self.setMinimumWidth(460)
        text = (f"Choose a password for the new encrypted file <code>{path}</code>. "
                "HVConsole asks for it once per session before it reads or stores a "
                "remembered password." if creating else
                f"Enter the password of the encrypted file <code>{path}</code>.")
        intro = QLabel(text)
        intro.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm = QLineEdit()
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel(error)
        self.error.setStyleSheet(colours.style(colours.ERROR))
        self.error.setVisible(bool(error))
        form = QFormLayout()
        form.addRow("&Password:", self.password)
        if creating:
            form.addRow("&Again:", self.confirm)
        self.confirm.setVisible(creating)
        self.creating = creating
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _accept_if_valid(self) -> None:
        if not self.password.text().strip():
            message = "The password cannot be empty."
        elif self.creating and self.password.text() != self.confirm.text():
            message = "The two passwords differ."
        else:
            self.accept()
            return
        self.error.setText(message)
        self.error.setVisible(True)


async def ask_vault_password(parent: QWidget | None, path: str, creating: bool,
                             error: str = "") -> str | None:
    dialog = VaultPasswordDialog(path, creating, parent, error)
    password = dialog.password
    return password.text() if await run_dialog(dialog) else None
