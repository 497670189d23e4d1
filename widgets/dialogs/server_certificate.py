"""First contact with a XenServer / XCP-ng host: show its TLS certificate's fingerprint
and let the user decide, as XenCenter does.

XAPI hosts use self-signed certificates, so nothing but the user's comparison with the
fingerprint the host itself shows (``xe host-get-server-certificate``, or the host's
console) can vouch for one. The safe answer is the default: Enter or Escape cancels.
Trusting keeps the fingerprint in trusted-certificates.json (app.certificates).
"""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit,
                               QVBoxLayout, QWidget)

from connectors.xapi.tls import ServerCertificate, hex_fingerprint

from .awaiting import run_dialog


class ServerCertificateDialog(QDialog):
    def __init__(self, shown: ServerCertificate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unknown Server Certificate")
        self.setMinimumWidth(700)
        intro = QLabel(f"<b>HVConsole has never connected to {shown.address} before.</b>"
                       "<br>Its TLS certificate is not signed by anyone you trust (XenServer "
                       "and XCP-ng hosts sign their own). Compare the fingerprint below "
                       "with the host's own (<code>openssl x509 -noout -fingerprint -sha256 "
                       "-in /etc/xensource/xapi-ssl.pem</code> on the host) before you "
                       "trust it.")
        intro.setWordWrap(True)
        self.fingerprint = QPlainTextEdit(f"SHA-256  {shown.fingerprint}\n"
                                          f"         {hex_fingerprint(shown.fingerprint)}")
        self.fingerprint.setObjectName("fingerprint")
        self.fingerprint.setReadOnly(True)
        self.fingerprint.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.fingerprint.setMaximumHeight(70)
        font = self.fingerprint.font()
        font.setFamily("monospace")
        self.fingerprint.setFont(font)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button = buttons.addButton("&Trust and Connect",
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        self.trust_button.setAutoDefault(False)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.fingerprint)
        layout.addWidget(QLabel("A later, different certificate at this address will be "
                                "refused with a warning."))
        layout.addWidget(buttons)


async def ask_trust_certificate(parent: QWidget | None, shown: ServerCertificate) -> bool:
    return await run_dialog(ServerCertificateDialog(shown, parent))
