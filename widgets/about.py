"""Help → About: which HVConsole, Qt and libvirt a bug report is about."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def about_text() -> str:
    # app.cli holds the version lookups so that `hvconsole --version` and this box agree.
    from app.version import hvconsole_version, libvirt_version, qt_version
    return (f"<h3>HVConsole {hvconsole_version()}</h3>"
            "<p>A desktop console for KVM and Xen hosts.</p>"
            f"<p>Qt {qt_version()}<br>libvirt {libvirt_version()}</p>"
            "<p>Licensed under the GNU GPL, version 2 or later.</p>")


def show_about(parent: QWidget) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle("About HVConsole")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text())
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
