"""Preferences → Console: the folder with the certificates of VNC servers that use TLS
(VeNCrypt), as app.console_tls reads it."""
from __future__ import annotations

from PySide6.QtWidgets import (QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QWidget)

from app import console_tls

from .preferences import PreferencesPage, register_page


@register_page
class ConsolePage(PreferencesPage):
    title = "Console"
    order = 40

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.cert_dir = QLineEdit()
        self.cert_dir.setPlaceholderText(console_tls.default_folders_text())
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.cert_dir, 1)
        line.addWidget(browse)
        explain = QLabel(
            "For VNC consoles that use TLS: the folder with ca-cert.pem, the certificate of "
            "the CA that signed the servers' certificates (and client-cert.pem with "
            "client-key.pem when a server checks clients). A subfolder named after a "
            "server holds that server's own CA. Empty: "
            f"{console_tls.default_folders_text()}.")
        explain.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("TLS certificates:", row)
        form.addRow("", explain)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with ca-cert.pem",
                                                  self.cert_dir.text())
        if folder:
            self.cert_dir.setText(folder)

    def load(self) -> None:
        self.cert_dir.setText(self.preferences.value(console_tls.VNC_CERT_DIR))

    def apply(self) -> None:
        self.preferences.set_value(console_tls.VNC_CERT_DIR, self.cert_dir.text())
