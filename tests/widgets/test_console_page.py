"""Preferences → Console: the TLS certificate folder of VNC consoles, from the page to
the options a VM console connects with."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app import console_tls
from app.preferences import Preferences
from connectors.console.tls import TlsOptions
from widgets.dialogs.console_page import ConsolePage


def test_the_folder_typed_on_the_page_is_where_vnc_consoles_look(qtbot, tmp_path):
    preferences = Preferences(QSettings(str(tmp_path / "p.conf"), QSettings.Format.IniFormat))
    assert console_tls.tls_options(preferences) == TlsOptions(cert_dir=None)
    page = ConsolePage(preferences)
    qtbot.addWidget(page)
    page.load()
    assert page.cert_dir.text() == ""
    assert "libvirt-vnc" in page.cert_dir.placeholderText()
    page.cert_dir.setText(f"  {tmp_path}/pki  ")
    page.apply()
    assert console_tls.tls_options(preferences) == TlsOptions(cert_dir=tmp_path / "pki")
    # Another session reads it back; "~" means the home folder.
    again = Preferences(QSettings(str(tmp_path / "p.conf"), QSettings.Format.IniFormat))
    assert ConsolePage(again).preferences.value(console_tls.VNC_CERT_DIR) == f"{tmp_path}/pki"
    again.set_value(console_tls.VNC_CERT_DIR, "~/certs")
    assert console_tls.tls_options(again).cert_dir == Path.home() / "certs"
