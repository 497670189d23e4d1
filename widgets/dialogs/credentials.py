"""Asks the user for what libvirt's openAuth wants (user name, password, ...).

``ask_credentials`` is the connection manager's auth handler. It must never call
``QDialog.exec()``: that would run a nested event loop inside a coroutine that is itself
running on the qasync loop. It opens the dialog window-modally with ``open()`` and awaits
a future that the dialog's ``finished`` signal resolves.

``ask_remote_credentials`` is the richer form the credential broker uses: it shows why it
asks again ("the saved password was not accepted"), a "Remember password" box when a
keyring can hold it, and, when none can, says so and offers the encrypted file instead.
"""
from __future__ import annotations


from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QLineEdit, QVBoxLayout, QWidget)

from app import colours
from connectors.libvirt.model import CredentialRequest

from .awaiting import run_dialog


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
        self.note_label = QLabel()
        self.note_label.setObjectName("credentialsNote")
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet(colours.style(colours.ERROR))
        self.note_label.setVisible(False)
        self.vault_label = QLabel()
        self.vault_label.setObjectName("vaultMessage")
        self.vault_label.setWordWrap(True)
        self.vault_label.setVisible(False)
        self.remember_box = QCheckBox("&Remember password in the system keyring")
        self.remember_box.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.note_label)
        layout.addLayout(form)
        layout.addWidget(self.vault_label)
        layout.addWidget(self.remember_box)
        layout.addWidget(buttons)
        first_empty = next((f for f in self.fields if not f.text()), None)
        if first_empty or self.fields:
            (first_empty or self.fields[0]).setFocus()

    def values(self) -> list[str]:
        return [field.text() for field in self.fields]

    def offer_remember(self, keyring_usable: bool, vault_message: str,
                       checked: bool = False) -> None:
        """The box under the fields: the system keyring, or (when there is none) the
        encrypted file, with the sentence that says why."""
        if keyring_usable:
            self.remember_box.setText("&Remember password in the keyring")
        else:
            self.remember_box.setText("&Remember password in an encrypted file "
                                      "(asks for the file's password)")
            self.vault_label.setText(vault_message)
            self.vault_label.setVisible(True)
        self.remember_box.setChecked(checked)
        self.remember_box.setVisible(True)

    def set_note(self, note: str) -> None:
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))


async def ask_credentials(parent: QWidget | None, uri: str,
                          requests: list[CredentialRequest]) -> list[str] | None:
    """The typed values in request order, or None when the user cancels."""
    return await _run(CredentialsDialog(uri, requests, parent))


async def ask_remote_credentials(parent: QWidget | None, prompt, unlock_file=None,
                                 remember: bool = False):
    """The broker's ``ask``: a CredentialAnswer, or None when the user cancels.

    ``unlock_file`` is ``async fn() -> bool``: asks for the encrypted file's password and
    switches remembering to it; called only when no system keyring can hold the password
    and the user ticked the box. If it fails, the password is used but not remembered."""
    from app.credentials import CredentialAnswer

    requests = [r if not d or r.default else type(r)(r.type, r.prompt, r.challenge, d)
                for r, d in zip(prompt.requests, prompt.defaults, strict=False)]
    dialog = CredentialsDialog(prompt.uri, requests, parent)
    dialog.set_note(prompt.note)
    if any(r.type.secret for r in requests):
        dialog.offer_remember(prompt.vault.usable, prompt.vault.message, remember)
    values = await _run(dialog)
    if values is None:
        return None
    keep = not dialog.remember_box.isHidden() and dialog.remember_box.isChecked()
    if keep and not prompt.vault.usable:
        keep = bool(unlock_file is not None and await unlock_file())
    return CredentialAnswer(values, keep)


async def _run(dialog: CredentialsDialog) -> list[str] | None:
    values = dialog.values
    return values() if await run_dialog(dialog) else None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
