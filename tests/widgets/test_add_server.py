"""Add Server: presets fill in the URI, a malformed one is explained and cannot be sent."""
from __future__ import annotations

import pytest

from connectors.libvirt.uri import validate_uri
from widgets.dialogs.add_server import AddServerDialog


@pytest.fixture
def dialog(qtbot):
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_local_kvm_is_the_default_and_valid(dialog):
    assert dialog.uri() == "qemu:///system"
    assert dialog.uri_edit.isReadOnly()
    assert dialog.connect_button.isEnabled()
    assert not dialog.error_label.isVisible()


def test_ssh_preset_builds_the_uri_from_the_fields(dialog):
    dialog.select_preset("KVM over SSH")
    assert dialog.host_edit.isVisible()
    assert not dialog.connect_button.isEnabled(), "no host yet"
    dialog.host_edit.setText("kvm1.example.org")
    dialog.user_edit.setText("admin")
    dialog.port_spin.setValue(2222)
    assert dialog.uri() == "qemu+ssh://admin@kvm1.example.org:2222/system"
    assert dialog.connect_button.isEnabled()
    dialog.select_preset("Xen over SSH")
    assert dialog.uri() == "xen+ssh://admin@kvm1.example.org:2222/system"
    dialog.select_preset("Local Xen")
    assert dialog.uri() == "xen:///system"
    assert not dialog.host_edit.isVisible()


@pytest.mark.parametrize("text", ["qemu", "://system", "qemu+ssh//host/system",
                                  "qemu:///system extra words"])
def test_malformed_uris_show_the_validators_sentence_and_disable_connect(dialog, text):
    with pytest.raises(ValueError) as raised:
        validate_uri(text)
    dialog.select_preset("Custom libvirt URI")
    assert not dialog.uri_edit.isReadOnly()
    dialog.uri_edit.setText(text)
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text() == str(raised.value)
    assert not dialog.connect_button.isEnabled()
    dialog.connect_button.click()
    assert dialog.result() != AddServerDialog.DialogCode.Accepted


def test_a_valid_custom_uri_is_returned_on_connect(dialog):
    dialog.select_preset("Custom libvirt URI")
    dialog.uri_edit.setText("  test:///default ")
    assert dialog.connect_button.isEnabled()
    assert not dialog.error_label.isVisible()
    dialog.connect_button.click()
    assert dialog.result() == AddServerDialog.DialogCode.Accepted
    assert dialog.uri() == "test:///default"


def test_remote_presets_build_ssh_tls_and_sasl_uris(dialog):
    dialog.select_preset("KVM over SSH")
    dialog.host_edit.setText("kvm1")
    dialog.user_edit.setText("root")
    assert dialog.keyfile_row.isVisible() and not dialog.remember_box.isVisible()
    dialog.keyfile_edit.setText("/home/me/.ssh/id_kvm lab")
    assert dialog.uri() == "qemu+ssh://root@kvm1/system?keyfile=/home/me/.ssh/id_kvm%20lab"
    validate_uri(dialog.uri())
    dialog.select_preset("KVM over SSH with password")
    assert dialog.uri().startswith("qemu+libssh://root@kvm1/system?keyfile=")
    assert dialog.remember_box.isVisible()
    dialog.select_preset("KVM over TLS")
    assert dialog.uri() == "qemu+tls://root@kvm1/system"
    assert not dialog.keyfile_row.isVisible()
    dialog.select_preset("KVM over TCP (SASL login)")
    dialog.user_edit.setText("")
    dialog.port_spin.setValue(16599)
    assert dialog.uri() == "qemu+tcp://kvm1:16599/system"
    assert dialog.port_spin.specialValueText() == "default (16509)"
    dialog.remember_box.setChecked(True)
    assert dialog.remember_password() and dialog.connect_button.isEnabled()
    dialog.connect_button.click()
    assert dialog.remember_password(), "still known after the dialog closed"


def _type_and_press_enter(qtbot, dialog, preset):
    """Fill the form by keyboard as a user does, then press Enter where the caret is."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication
    dialog.select_preset(preset.label)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)
    if preset.remote:
        dialog.host_edit.setFocus()
        qtbot.keyClicks(dialog.host_edit, "kvm1.example.org")
        dialog.user_edit.setFocus()
        qtbot.keyClicks(dialog.user_edit, "admin")
    elif not preset.scheme:
        dialog.uri_edit.setFocus()     # it starts from the previous preset's URI
        qtbot.keyClick(dialog.uri_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(dialog.uri_edit, "test:///default")
    focused = QApplication.focusWidget()
    assert focused is not None and dialog.isAncestorOf(focused)
    qtbot.keyClick(focused, Qt.Key.Key_Return)


@pytest.mark.parametrize("preset", __import__(
    "widgets.dialogs.add_server", fromlist=["PRESETS"]).PRESETS, ids=lambda p: p.label)
def test_enter_connects_with_every_preset(qtbot, monkeypatch, preset):
    """Enter is Connect, whichever field has the caret; Browse… is never the default
    button (it used to open the key file picker on Enter)."""
    from PySide6.QtWidgets import QFileDialog
    pickers = []
    # A real file picker is modal and would block the test; record that it was asked for.
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: pickers.append(a) or ("", "")))
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    _type_and_press_enter(qtbot, dialog, preset)
    assert pickers == []
    assert dialog.result() == AddServerDialog.DialogCode.Accepted, preset.label
    assert not dialog.isVisible()
    expected = {"": "test:///default"}.get(preset.scheme)
    if expected is None:
        expected = (f"{preset.scheme}://admin@kvm1.example.org{preset.path}"
                    if preset.remote else f"{preset.scheme}:///system")
    assert dialog.uri() == expected
    assert not dialog.keyfile_button.autoDefault()


def test_enter_with_an_invalid_uri_explains_instead_of_connecting(qtbot, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog
    pickers = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",   # modal: it would block the test
                        staticmethod(lambda *a, **k: pickers.append(a) or ("", "")))
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.select_preset("KVM over SSH")
    dialog.host_edit.setFocus()
    qtbot.keyClick(dialog.host_edit, Qt.Key.Key_Return)     # no host typed yet
    assert dialog.isVisible() and dialog.result() != AddServerDialog.DialogCode.Accepted
    assert dialog.error_label.text() == "Enter the host name or address of the server."
    assert pickers == []


def test_the_dialog_shrinks_back_after_a_preset_with_more_fields(qtbot):
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    local_height = dialog.height()
    dialog.select_preset("KVM over SSH with password")
    qtbot.waitUntil(lambda: dialog.height() > local_height + 60)
    dialog.select_preset("Local KVM")
    qtbot.waitUntil(lambda: dialog.height() <= local_height + 2)
    assert not dialog.host_edit.isVisible()
