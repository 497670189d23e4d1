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
