"""The Add Server dialog: pick a kind of host, fill in where it is, get a libvirt URI.

The URI is checked on every keystroke with the connector's own validator, so the sentence
a user reads under the field is the same one the connection manager would raise; Connect
stays disabled until it is valid. A failure to open (ValueError from the manager) is shown
in the dialog by the caller through ``show_error`` instead of closing it.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QLineEdit, QSpinBox, QVBoxLayout, QWidget)

from connectors.libvirt.uri import validate_uri


@dataclass(frozen=True)
class Preset:
    label: str
    scheme: str            # "qemu", "xen+ssh", ...; "" for a custom URI
    path: str = "/system"
    remote: bool = False   # asks for host, user and port


PRESETS: tuple[Preset, ...] = (
    Preset("Local KVM", "qemu"),
    Preset("Local Xen", "xen"),
    Preset("KVM over SSH", "qemu+ssh", remote=True),
    Preset("Xen over SSH", "xen+ssh", remote=True),
    Preset("Custom libvirt URI", ""),
)


def build_uri(preset: Preset, host: str = "", user: str = "", port: int = 0) -> str:
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
    return f"{preset.scheme}://{authority}{preset.path}"


class AddServerDialog(QDialog):
    """Collects a valid libvirt URI; ``uri()`` holds it after the dialog is accepted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add Server")
        self.setMinimumWidth(460)

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
        self.uri_edit = QLineEdit()
        self.uri_edit.setPlaceholderText("driver[+transport]://[user@][host][:port]/path")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setObjectName("uriError")

        form = QFormLayout()
        form.addRow("&Type:", self.preset_box)
        form.addRow("&Host:", self.host_edit)
        form.addRow("&User:", self.user_edit)
        form.addRow("&Port:", self.port_spin)
        form.addRow("&URI:", self.uri_edit)
        form.addRow("", self.error_label)
        self._form = form

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.addButton(
            "&Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setDefault(True)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        self.preset_box.currentIndexChanged.connect(self._preset_changed)
        for edit in (self.host_edit, self.user_edit):
            edit.textChanged.connect(self._fields_changed)
        self.port_spin.valueChanged.connect(self._fields_changed)
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

    def show_error(self, message: str) -> None:
        """Shows why opening failed, keeping the dialog open for a correction."""
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    def _preset_changed(self) -> None:
        preset = self.preset()
        for widget in (self.host_edit, self.user_edit, self.port_spin):
            widget.setVisible(preset.remote)
            self._form.labelForField(widget).setVisible(preset.remote)
        custom = not preset.scheme
        self.uri_edit.setReadOnly(not custom)
        if custom:
            self.uri_edit.setFocus()
        elif preset.remote:
            self.host_edit.setFocus()
        self._fields_changed()

    def _fields_changed(self) -> None:
        preset = self.preset()
        if preset.scheme:
            self.uri_edit.setText(build_uri(preset, self.host_edit.text(),
                                            self.user_edit.text(), self.port_spin.value()))
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

    def _accept_if_valid(self) -> None:
        if self._validate():
            self.accept()


__all__ = ["AddServerDialog", "PRESETS", "Preset", "build_uri"]
