"""Asks the user for what libvirt's openAuth wants (user name, password, ...).

``ask_credentials`` is the connection manager's auth handler. It must never call
``QDialog.exec()``: that would run a nested event loop inside a coroutine that is itself
running on the qasync loop. It opens the dialog window-modally with ``open()`` and awaits
a future that the dialog's ``finished`` signal resolves.
"""
from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QVBoxLayout, QWidget)

from connectors.libvirt.model import CredentialRequest


class CredentialsDialog(QDialog):
    """One field per request, in the order libvirt asked, defaults filled in."""

    def __init__(self, uri: str, requests: list[CredentialRequest],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Authentication Required")
        self.setMinimumWidth(420)
        intro = QLabel(f"The server <b>{_escape(uri)}</b> needs credentials to connect.")
        intro.setWordWrap(True)
        form = QFormLayout()
        self.fields: list[QLineEdit] = []
        for request in requests:
            edit = QLineEdit(request.default)
            if request.type.secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            label = request.prompt.strip().rstrip(":") or request.type.value.capitalize()
            if request.challenge:
                edit.setToolTip(request.challenge)
            form.addRow(f"{label}:", edit)
            self.fields.append(edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        first_empty = next((f for f in self.fields if not f.text()), None)
        if first_empty or self.fields:
            (first_empty or self.fields[0]).setFocus()

    def values(self) -> list[str]:
        return [field.text() for field in self.fields]


async def ask_credentials(parent: QWidget | None, uri: str,
                          requests: list[CredentialRequest]) -> list[str] | None:
    """The typed values in request order, or None when the user cancels."""
    dialog = CredentialsDialog(uri, requests, parent)
    future: asyncio.Future = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(dialog.values() if result == QDialog.DialogCode.Accepted
                              else None)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(finished)
        dialog.close()
        dialog.deleteLater()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
