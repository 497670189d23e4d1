"""The Add Server dialog: pick a kind of host, fill in where it is, get a libvirt URI.

Remote presets cover how administrators reach their hosts: SSH with a key or the agent
(``qemu+ssh``, ``xen+ssh``; an optional key file becomes ``?keyfile=``), SSH with a
password (``qemu+libssh``: libvirt asks for it through our credentials dialog, which the
ssh binary cannot), TLS with certificates and TCP with SASL. "Remember password" only
sets the default of the credentials dialog's own box: nothing secret is typed here.

The URI is checked on every keystroke with the connector's own validator, so the sentence
a user reads under the field is the same one the connection manager would raise; Connect
stays disabled until it is valid. A failure to open (ValueError from the manager) is shown
in the dialog by the caller through ``show_error`` instead of closing it.
"""
from __future__ import annotations

from dataclasses import dataclass

from urllib.parse import quote

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from app import colours
from connectors.libvirt.uri import validate_uri


@dataclass(frozen=True)
class Preset:
    label: str
    scheme: str            # "qemu", "xen+ssh", ...; "" for a custom URI
    path: str = "/system"
    remote: bool = False   # asks for host, user and port
    default_port: int = 0  # shown as "default (N)"
    keyfile: bool = False  # offers an SSH private key file
    password: bool = False  # libvirt may ask for a password: offer "Remember password"


PRESETS: tuple[Preset, ...] = (
    Preset("Local KVM", "qemu"),
    Preset("Local Xen", "xen"),
    Preset("KVM over SSH", "qemu+ssh", remote=True, default_port=22, keyfile=True),
    Preset("Xen over SSH", "xen+ssh", remote=True, default_port=22, keyfile=True),
    Preset("KVM over SSH with password", "qemu+libssh", remote=True, default_port=22,
           keyfile=True, password=True),
    Preset("KVM over TLS", "qemu+tls", remote=True, default_port=16514, password=True),
    Preset("KVM over TCP (SASL login)", "qemu+tcp", remote=True, default_port=16509,
           password=True),
    # XAPI, not libvirt: any pool member's address; TLS always (the certificate is shown
    # on first contact), the password asked for and kept in the keyring if wished.
    Preset("XenServer / XCP-ng pool", "xapi", path="", remote=True, default_port=443,
           password=True),
    Preset("Custom libvirt URI", ""),
)


def build_uri(preset: Preset, host: str = "", user: str = "", port: int = 0,
              keyfile: str = "") -> str:
    """The URI a preset stands for; remote parts left empty stay visibly empty."""
    if not preset.scheme:
        return ""
    if not preset.remote:
        return f"{preset.scheme}://{preset.path}"
    authority = host.strip()
    if user.strip():
        authority = f"{user.strip()}@{authority}"
    if port:
        authority = f"{authority}:{port}"
    uri = f"{preset.scheme}://{authority}{preset.path}"
    if keyfile.strip() and preset.keyfile:
        uri += "?keyfile=" + quote(keyfile.strip(), safe="/~._-")
    return uri


class AddServerDialog(QDialog):
    """Collects a valid libvirt URI; ``uri()`` holds it after the dialog is accepted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add Server")
        self.setMinimumWidth(580)

        self.preset_box = QComboBox()
        for preset in PRESETS:
            text = preset.label
            example = build_uri(preset, "host", "user") if preset.remote else build_uri(preset)
            if example:
                text = f"{preset.label} — {example}"
            self.preset_box.addItem(text, preset)

        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("kvm1.example.org")
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("root")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setSpecialValueText("default (22)")
        self.keyfile_edit = QLineEdit()
        self.keyfile_edit.setPlaceholderText("agent or ~/.ssh/id_* (optional)")
        self.keyfile_button = QPushButton("Browse…")
        # Never the default button: Enter in the form connects, it does not open a picker.
        self.keyfile_button.setAutoDefault(False)
        self.keyfile_button.clicked.connect(self._browse_keyfile)
        self.keyfile_row = QWidget()
        row = QHBoxLayout(self.keyfile_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.keyfile_edit)
        row.addWidget(self.keyfile_button)
        self.remember_box = QCheckBox("Remember password in the keyring")
        self.remember_box.setToolTip("When the server asks for a password, offer to keep it "
                                     "in the system keyring (or an encrypted file)")
        self.uri_edit = QLineEdit()
        self.uri_edit.setPlaceholderText("driver[+transport]://[user@][host][:port]/path")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(colours.style(colours.ERROR))
        self.error_label.setObjectName("uriError")

        form = QFormLayout()
        form.addRow("&Type:", self.preset_box)
        form.addRow("&Host:", self.host_edit)
        form.addRow("&User:", self.user_edit)
        form.addRow("&Port:", self.port_spin)
        form.addRow("&Key file:", self.keyfile_row)
        form.addRow("", self.remember_box)
        form.addRow("&URI:", self.uri_edit)
        form.addRow("", self.error_label)
        self._form = form

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.addButton(
            "&Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        # Only once the button is inside the dialog: a button made default before it has
        # a dialog above it is not the dialog's default, and the dialog then took the
        # first auto-default button it found (Browse…, hidden for the local presets).
        self.connect_button.setDefault(True)

        self.preset_box.currentIndexChanged.connect(self._preset_changed)
        for edit in (self.host_edit, self.user_edit):
            edit.textChanged.connect(self._fields_changed)
        self.port_spin.valueChanged.connect(self._fields_changed)
        self.keyfile_edit.textChanged.connect(self._fields_changed)
        self.uri_edit.textChanged.connect(self._validate)
        self._preset_changed()

    def preset(self) -> Preset:
        return self.preset_box.currentData()

    def select_preset(self, label: str) -> None:
        for i in range(self.preset_box.count()):
            if self.preset_box.itemData(i).label == label:
                self.preset_box.setCurrentIndex(i)
                return
        raise KeyError(label)

    def uri(self) -> str:
        return self.uri_edit.text().strip()

    def remember_password(self) -> bool:
        return not self.remember_box.isHidden() and self.remember_box.isChecked()

    def show_error(self, message: str) -> None:
        """Shows why opening failed, keeping the dialog open for a correction."""
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    def _preset_changed(self) -> None:
        preset = self.preset()
        for widget in (self.host_edit, self.user_edit, self.port_spin):
            widget.setVisible(preset.remote)
            self._form.labelForField(widget).setVisible(preset.remote)
        self.keyfile_row.setVisible(preset.keyfile)
        self._form.labelForField(self.keyfile_row).setVisible(preset.keyfile)
        self.remember_box.setVisible(preset.password or not preset.scheme)
        if preset.default_port:
            self.port_spin.setSpecialValueText(f"default ({preset.default_port})")
        custom = not preset.scheme
        self.uri_edit.setReadOnly(not custom)
        if custom:
            self.uri_edit.setFocus()
        elif preset.remote:
            self.host_edit.setFocus()
        self._fields_changed()
        # Rows hidden by this preset leave no empty space: the dialog shrinks back to what
        # it shows (the layout learns about hidden rows only on its next pass).
        QTimer.singleShot(0, self, self._fit_height)

    def _fit_height(self) -> None:
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self.resize(self.width(), self.sizeHint().height())

    def _fields_changed(self) -> None:
        preset = self.preset()
        if preset.scheme:
            self.uri_edit.setText(build_uri(preset, self.host_edit.text(),
                                            self.user_edit.text(), self.port_spin.value(),
                                            self.keyfile_edit.text()))
        self._validate()

    def _validate(self) -> bool:
        text = self.uri()
        message = ""
        if not text:
            message = "Enter a libvirt URI, for example qemu:///system."
        elif self.preset().remote and not self.host_edit.text().strip():
            message = "Enter the host name or address of the server."
        else:
            try:
                validate_uri(text)
            except ValueError as exc:
                message = str(exc)
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        self.connect_button.setEnabled(not message)
        return not message

    def _browse_keyfile(self) -> None:
        from pathlib import Path
        path, _ = QFileDialog.getOpenFileName(self, "SSH private key",
                                              str(Path.home() / ".ssh"))
        if path:
            self.keyfile_edit.setText(path)

    def _accept_if_valid(self) -> None:
        if self._validate():
            self.accept()


__all__ = ["AddServerDialog", "PRESETS", "Preset", "build_uri"]
