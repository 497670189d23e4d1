"""First contact with an SSH host: show its key's fingerprint and let the user decide.

The safe answer is the default one: Enter or Escape cancels. Trusting adds the key to
~/.ssh/known_hosts (done by app.remote_access, not here).
"""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout,
                               QWidget)

from connectors.libvirt.hostkeys import HostKeyCheck

from .awaiting import run_dialog


class HostKeyDialog(QDialog):
    def __init__(self, check: HostKeyCheck, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unknown SSH Host Key")
        self.setMinimumWidth(560)
        intro = QLabel(f"<b>HVConsole has never connected to {check.name} before.</b><br>"
                       "Check that the fingerprint below is the host's own (run "
                       "<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> on "
                       "the host, or ask its administrator) before you trust it.")
        intro.setWordWrap(True)
        self.fingerprints = QPlainTextEdit("\n".join(
            f"{key.label:8} {key.fingerprint}" for key in check.offered))
        self.fingerprints.setObjectName("fingerprints")
        self.fingerprints.setReadOnly(True)
        self.fingerprints.setMaximumHeight(90)
        font = self.fingerprints.font()
        font.setFamily("monospace")
        self.fingerprints.setFont(font)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button = buttons.addButton("&Trust and Connect",
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        self.trust_button.setAutoDefault(False)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.fingerprints)
        layout.addWidget(QLabel("The key is saved in ~/.ssh/known_hosts, where ssh and "
                                "virsh find it as well."))
        layout.addWidget(buttons)


async def ask_trust_host_key(parent: QWidget | None, check: HostKeyCheck) -> bool:
    return await run_dialog(HostKeyDialog(check, parent))
