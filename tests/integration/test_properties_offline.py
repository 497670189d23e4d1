"""A shut-off VM changed through its Properties dialog: nothing changes when nothing was
changed (byte for byte, unknown elements and metadata kept), the XML page applies a
valid edit and refuses an invalid one with libvirt's or the parser's words, General's
fields round-trip through virsh, and after its boot order, firmware, display and CPU
topology changed the VM still boots. One guest for the module; it boots once, last.
"""
from __future__ import annotations

import asyncio
import subprocess

import libvirt
import pytest
from PySide6.QtCore import Qt

from connectors.libvirt import domxml
from tests.integration.guest import wait_for_serial
from tests.integration.properties_helpers import (Guests, ScriptedPrompts, apply, choose,
                                                  connect, in_thread, open_dialog, vm_key)
from widgets.dialogs.properties.boot import BootPage
from widgets.dialogs.properties.cpu import CpuPage
from widgets.dialogs.properties.display import DisplayPage
from widgets.dialogs.properties.general import GeneralPage
from widgets.dialogs.properties.xml import XmlPage

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]

SECURE_INACTIVE = libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE
EXTRAS = ("<metadata>\n    <hvc:tags xmlns:hvc='https://hvconsole.example/tags/1'>"
          "<hvc:tag>lab</hvc:tag></hvc:tags>\n  </metadata>")
COMMANDLINE = ("<qemu:commandline>\n    <qemu:env name='HVCONSOLE_TEST' value='1'/>\n"
               "  </qemu:commandline>")


@pytest.fixture(scope="module")
def lab(qapp, aloop, libvirt_uri, test_guest_files):
    conn = libvirt.open(libvirt_uri)
    guests = Guests(conn, test_guest_files.accel)
    name = guests.name("props-off")
    # 256 MiB: OVMF (UEFI, chosen below) stops with an exception in 128.
    text = guests.definition(name, disk=True, cdrom=True, vcpus=(1, 2),
                             memory_mib=256).to_xml()
    # What HVConsole does not model must survive: an application's metadata, QEMU's
    # own command line.
    text = text.replace("<domain type=", "<domain xmlns:qemu='http://libvirt.org/schemas/"
                        "domain/qemu/1.0' type=", 1)
    text = text.replace("</description>", "</description>\n  " + EXTRAS, 1)
    text = text.replace("</domain>", "  " + COMMANDLINE + "\n</domain>", 1)
    dom = conn.defineXML(text)
    host = connect(aloop, libvirt_uri)
    try:
        yield {"host": host, "dom": dom, "name": name, "key": vm_key(aloop, host, name),
               "conn": conn, "guests": guests}
    finally:
        aloop.run_until_complete(host.disconnect())
        aloop.run_until_complete(asyncio.sleep(0.5))
        guests.close()
        conn.close()


def dumpxml(dom) -> str:
    return dom.XMLDesc(SECURE_INACTIVE)


def virsh(*args: str) -> str:
    return subprocess.run(["virsh", "-q", "-c", "qemu:///system", *args], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


def test_apply_with_nothing_changed_leaves_the_definition_byte_for_byte(aloop, lab):
    dom = lab["dom"]
    before = dumpxml(dom)
    assert "hvc:tags" in before and "qemu:commandline" in before
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    for row in range(dialog.page_list.count()):     # every page shown once
        dialog.page_list.setCurrentRow(row)
        aloop.run_until_complete(asyncio.sleep(0))
    assert apply(aloop, dialog) is None
    assert dialog.status.text() == "Nothing to change."
    assert dumpxml(dom) == before

    # One change changes one thing: the title; the rest stays as it was, byte for byte.
    dialog.page(GeneralPage).title_edit.textEdited.emit("Only this")
    assert apply(aloop, dialog).ok
    after = dumpxml(dom)
    assert "<title>Only this</title>" in after
    assert after.replace("  <title>Only this</title>\n", "") == before
    dialog.close()


def test_an_invalid_xml_edit_is_refused_with_libvirts_words_and_changes_nothing(aloop, lab):
    dom = lab["dom"]
    before = dumpxml(dom)
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    dialog.show_page(XmlPage)
    page = dialog.page(XmlPage)
    wrong = page.editor.toPlainText().replace("<on_crash>destroy</on_crash>",
                                              "<on_crash>explode</on_crash>")
    page.editor.setPlainText(wrong)
    assert dialog.lock_label.isVisible()
    assert not dialog.page(GeneralPage).isEnabled()

    outcome = apply(aloop, dialog)

    assert outcome.refused and "validate" in outcome.refused.lower(), outcome
    assert page.error_label.isVisible() and page.error_label.text() == outcome.refused
    assert dialog.status.text() == outcome.refused
    assert page.editor.toPlainText() == wrong          # the user's input stays
    assert dumpxml(dom) == before

    # Not even XML: the parser's line is the one shown.
    lines = wrong.replace("<on_crash>explode</on_crash>",
                          "<on_crash>destroy</on_crash>").splitlines()
    broken = next(i for i, line in enumerate(lines) if "<on_reboot>" in line)
    lines[broken] = lines[broken].replace("</on_reboot>", "")
    page.editor.setPlainText("\n".join(lines))
    outcome = apply(aloop, dialog)
    assert outcome.refused and "not well-formed" in outcome.refused
    assert outcome.position is not None
    assert page.error_line() == outcome.position[0]
    assert dumpxml(dom) == before
    dialog.close()


def test_a_valid_xml_edit_applies(aloop, lab):
    dom = lab["dom"]
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    page = dialog.page(XmlPage)
    page.editor.setPlainText(page.editor.toPlainText().replace(
        "<on_crash>destroy</on_crash>", "<on_crash>restart</on_crash>"))
    outcome = apply(aloop, dialog)
    assert outcome.ok, outcome
    assert "<on_crash>restart</on_crash>" in dumpxml(dom)
    assert not dialog.lock_label.isVisible() and dialog.page(GeneralPage).isEnabled()
    dialog.close()


def test_rename_title_description_and_autostart_round_trip_through_virsh(aloop, lab):
    dom = lab["dom"]
    new_name = lab["guests"].name("props-renamed")
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    general = dialog.page(GeneralPage)
    assert general.name_edit.isEnabled()
    assert all(mark.when is None for mark in general.marks().values())  # shut off
    general.name_edit.textEdited.emit(new_name)
    general.title_edit.textEdited.emit("Web front end")
    general.description_edit.setPlainText("Serves the shop\nsince 2024")
    general.autostart_check.setChecked(True)
    outcome = apply(aloop, dialog)
    assert outcome.ok, outcome

    assert virsh("domname", dom.UUIDString()) == new_name
    assert virsh("desc", new_name, "--title") == "Web front end"
    assert virsh("desc", new_name) == "Serves the shop\nsince 2024"
    assert "Autostart:      enable" in virsh("dominfo", new_name)

    # And back: what virsh sets, the dialog shows.
    virsh("desc", new_name, "--config", "--title", "Set by virsh")
    virsh("autostart", "--disable", new_name)
    virsh("domrename", new_name, lab["name"])
    dialog.close()
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    general = dialog.page(GeneralPage)
    assert general.name_edit.text() == lab["name"]
    assert general.title_edit.text() == "Set by virsh"
    assert general.description_edit.toPlainText() == "Serves the shop\nsince 2024"
    assert not general.autostart_check.isChecked()
    dialog.close()


def test_boot_order_firmware_display_and_topology_change_and_it_still_boots(aloop, lab):
    dom = lab["dom"]
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    boot = dialog.page(BootPage)
    labels = [boot.order_list.item(i).text() for i in range(boot.order_list.count())]
    assert labels == ["Disk vda", "CD/DVD drive hdc"]
    boot.order_list.item(1).setCheckState(Qt.CheckState.Checked)
    boot.order_list.setCurrentRow(1)
    boot.up_button.click()                              # the CD first, then the disk
    assert boot.firmware_combo.isEnabled()
    choose(boot.firmware_combo, "efi")
    display = dialog.page(DisplayPage)
    choose(display.type_combo, "spice")
    cpu = dialog.page(CpuPage)
    cpu.topology_check.setChecked(True)
    cpu.cores.setValue(2)
    assert cpu.problems() == []
    outcome = apply(aloop, dialog)
    assert outcome.ok, outcome
    changes = dialog.prompts.summaries[-1]
    assert changes == ["CPU: topology 1 socket × 2 cores × 1 thread",
                       "Boot: boot order CD/DVD drive hdc, disk vda",
                       "Boot: firmware UEFI",
                       "Display: VNC display: type vnc → spice"]
    config = domxml.parse(dumpxml(dom))
    assert [d.kind for d in config.boot_order()] == ["disk", "disk"]
    assert [d.target_dev for d in config.boot_order()] == ["hdc", "vda"]
    assert config.os.firmware == "efi"
    assert config.graphics[0].type == "spice"
    assert config.cpu.topology == domxml.Topology(1, 2, 1)
    dialog.close()

    log = f"/var/log/hvconsole-test/{lab['name']}.serial.log"
    dom.create()
    in_thread(aloop, wait_for_serial, log, timeout=240)
    live = domxml.parse(dom.XMLDesc(0))
    assert live.os.loader_type == "pflash"            # UEFI, chosen by libvirt
    assert live.graphics[0].type == "spice" and (live.graphics[0].port or 0) > 0
