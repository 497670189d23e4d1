"""The credentials dialog that libvirt's openAuth questions reach through the manager."""
from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from connectors.libvirt.model import CredentialRequest, CredentialType
from widgets.dialogs.credentials import CredentialsDialog, ask_credentials

REQUESTS = [
    CredentialRequest(CredentialType.AUTHNAME, "Username", default="admin"),
    CredentialRequest(CredentialType.PASSPHRASE, "Password"),
]


def _open_dialog() -> CredentialsDialog:
    for widget in QApplication.allWidgets():
        if isinstance(widget, CredentialsDialog) and widget.isVisible():
            return widget
    return None


def test_fields_follow_the_requests(qtbot):
    dialog = CredentialsDialog("qemu+ssh://kvm1/system", REQUESTS)
    qtbot.addWidget(dialog)
    user, password = dialog.fields
    assert user.text() == "admin"
    assert user.echoMode() == QLineEdit.EchoMode.Normal
    assert password.echoMode() == QLineEdit.EchoMode.Password


def _window(qtbot) -> QWidget:
    """A parent window, as in the application: closing the dialog must not end the loop."""
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    return window


def test_typed_values_come_back_in_request_order(qtbot, aloop):
    window = _window(qtbot)

    async def story():
        pending = asyncio.ensure_future(ask_credentials(window, "qemu+ssh://kvm1/system",
                                                        REQUESTS))
        await asyncio.sleep(0.05)
        dialog = _open_dialog()
        assert dialog is not None, "the dialog did not open"
        dialog.fields[1].setText("s3cret")
        dialog.accept()
        return await asyncio.wait_for(pending, 5)

    assert aloop.run_until_complete(story()) == ["admin", "s3cret"]


def test_cancel_answers_none(qtbot, aloop):
    window = _window(qtbot)

    async def story():
        pending = asyncio.ensure_future(ask_credentials(window, "xen+ssh://x/system", REQUESTS))
        await asyncio.sleep(0.05)
        dialog = _open_dialog()
        assert dialog is not None
        dialog.reject()
        return await asyncio.wait_for(pending, 5)

    assert aloop.run_until_complete(story()) is None
    assert _open_dialog() is None
