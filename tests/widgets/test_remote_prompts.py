"""The window's remote-host dialogs driven as a user would: the credentials dialog with no
system keyring (it says so, and "Remember" unlocks a real encrypted file), and the unknown
host key dialog, whose default answer is Cancel."""
from __future__ import annotations

import asyncio
import subprocess

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.credentials import CredentialPrompt
from app.vault import EncryptedFileVault, KeyringVault
from connectors.libvirt.hostkeys import HostKey, HostKeyCheck, KeyStatus
from connectors.libvirt.model import CredentialRequest, CredentialType
from widgets.dialogs.credentials import CredentialsDialog
from widgets.dialogs.host_key import HostKeyDialog
from widgets.dialogs.vault_password import VaultPasswordDialog
from widgets.remote_prompts import RemotePrompts

URI = "qemu+tcp://kvm1.example.org/system"
REQUESTS = [CredentialRequest(CredentialType.AUTHNAME, "Please enter your authentication name"),
            CredentialRequest(CredentialType.PASSPHRASE, "Please enter your password")]


def _visible(kind):
    for widget in QApplication.allWidgets():
        if isinstance(widget, kind) and widget.isVisible():
            return widget
    return None


async def _dialog(kind, timeout=5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (found := _visible(kind)) is None:
        assert loop.time() < deadline, f"no {kind.__name__} opened"
        await asyncio.sleep(0.02)
    return found


class _Remote:
    """Stands in for RemoteAccess.unlock_encrypted_file with the real file vault."""

    def __init__(self, path):
        self.file_vault = EncryptedFileVault(path, time_cost=1)

    async def unlock_encrypted_file(self, password, vault):
        await asyncio.to_thread(vault.unlock, password)


def test_no_keyring_is_said_and_remember_unlocks_the_encrypted_file(qtbot, aloop, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    prompts = RemotePrompts(window)
    prompts.remote = _Remote(tmp_path / "secrets.cfg")
    prompts.remember_by_default(URI, True)
    status = KeyringVault().status()
    prompt = CredentialPrompt(URI, REQUESTS, ["alice", ""], "", status)

    async def story():
        pending = asyncio.ensure_future(prompts.credentials(prompt))
        dialog = await _dialog(CredentialsDialog)
        assert dialog.vault_label.isVisible()
        assert "No system keyring" in dialog.vault_label.text()
        assert "encrypted file" in dialog.remember_box.text()
        assert dialog.remember_box.isChecked(), "Add Server's choice is the default"
        assert dialog.fields[0].text() == "alice"
        dialog.fields[1].setText("pw-typed")
        dialog.accept()
        unlock = await _dialog(VaultPasswordDialog)
        unlock.password.setText("file-pw")
        unlock.confirm.setText("other")
        unlock._accept_if_valid()
        assert "differ" in unlock.error.text() and unlock.isVisible()
        unlock.confirm.setText("file-pw")
        unlock._accept_if_valid()
        return await asyncio.wait_for(pending, 10)

    answer = aloop.run_until_complete(story())
    assert answer.values == ["alice", "pw-typed"] and answer.remember
    assert prompts.remote.file_vault.unlocked and prompts.remote.file_vault.exists()


def test_unknown_host_key_dialog_shows_fingerprints_and_defaults_to_cancel(qtbot, aloop,
                                                                           tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "k")], check=True)
    key = HostKey(*(tmp_path / "k.pub").read_text().split()[:2])
    check = HostKeyCheck("kvm1", 2222, KeyStatus.UNKNOWN, (key,))
    window = QWidget()   # as in the application: a closed dialog must not end the loop
    qtbot.addWidget(window)
    window.show()
    prompts = RemotePrompts(window)

    async def story(press_enter: bool):
        pending = asyncio.ensure_future(prompts.host_key(check))
        dialog = await _dialog(HostKeyDialog)
        assert key.fingerprint in dialog.fingerprints.toPlainText()
        if press_enter:
            qtbot.keyClick(dialog, Qt.Key.Key_Return)
        else:
            dialog.trust_button.click()
        return await asyncio.wait_for(pending, 5)

    assert aloop.run_until_complete(story(True)) is False
    assert aloop.run_until_complete(story(False)) is True
