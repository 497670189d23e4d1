"""A running VM changed through its Properties dialog, as a user would, and the guest
saying what it sees on its serial port (scripts/test-guest-init.sh: report()).

One guest runs for the whole module (a boot costs up to a minute on a busy machine): its
vCPUs and memory change live and in the definition, a disk is added, grown and removed,
a NIC is added and its link goes down and up, a disc is inserted, read by the guest and
ejected.
"""
from __future__ import annotations

import asyncio

import libvirt
import pytest

from app.properties.changes import When
from app.properties.session import DiskChoice, NewVolume
from connectors.libvirt import domxml
from tests.conftest import wait_until
from tests.integration.conftest import POOL_NAME
from tests.integration.guest import wait_for_serial
from tests.integration.guest_reports import carriers, mark, partitions, wait_report
from tests.integration.properties_helpers import (Guests, ScriptedPrompts, apply, choose,
                                                  connect, in_thread, open_dialog, vm_key)
from widgets.dialogs.properties.cdrom import CdromPage
from widgets.dialogs.properties.cpu import CpuPage
from widgets.dialogs.properties.disks import DisksPage
from widgets.dialogs.properties.general import GeneralPage
from widgets.dialogs.properties.memory import MemoryPage
from widgets.dialogs.properties.network import NetworkPage

pytestmark = [pytest.mark.slow, pytest.mark.integration]

MIB = 1024


@pytest.fixture(scope="module")
def lab(qapp, aloop, libvirt_uri, test_guest_files):
    conn = libvirt.open(libvirt_uri)
    guests = Guests(conn, test_guest_files.accel)
    network = guests.network()
    iso_text = "hvconsole-disc-" + guests.name("x")[-6:]
    iso = guests.iso(iso_text)
    name = guests.name("props-live")
    dom = guests.define(guests.definition(name, cdrom=True, balloon=True, vcpus=(1, 2),
                                          memory_mib=192))
    dom.create()
    log = f"/var/log/hvconsole-test/{name}.serial.log"
    host = connect(aloop, libvirt_uri)
    try:
        in_thread(aloop, wait_for_serial, log, timeout=180)
        yield {"host": host, "dom": dom, "name": name, "log": log, "key": vm_key(
            aloop, host, name), "network": network, "iso": iso, "iso_text": iso_text}
    finally:
        aloop.run_until_complete(host.disconnect())
        aloop.run_until_complete(asyncio.sleep(0.5))   # the refreshes it cancelled end
        guests.close()
        conn.close()


def seen(aloop, *args, **kwargs):
    """What the guest reports (guest_reports.wait_report), awaited with the loop running."""
    return in_thread(aloop, wait_report, *args, **kwargs)


def config(dom) -> domxml.Domain:
    return domxml.parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def test_vcpus_memory_and_title_change_now_and_for_the_next_start(aloop, lab):
    prompts = ScriptedPrompts()
    dialog = open_dialog(aloop, lab["host"], lab["key"], prompts)
    cpu = dialog.page(CpuPage)
    assert cpu.marks()["vcpus"].when is When.NOW
    assert cpu.marks()["topology"].when is When.AFTER_SHUTDOWN
    cpu.vcpus_spin.setValue(2)
    memory = dialog.page(MemoryPage)
    assert memory.marks()["current_memory"].when is When.NOW
    memory.current_spin.setValue(160)
    dialog.page(GeneralPage).title_edit.textEdited.emit("Changed while running")

    outcome = apply(aloop, dialog)

    assert outcome is not None and outcome.ok, outcome
    assert prompts.summaries[-1] == [
        "General: title “Changed while running” — now",
        "CPU: 1 → 2 vCPUs — now",
        "Memory: current allocation 192 MiB → 160 MiB — now"]
    dom = lab["dom"]
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
    assert config(dom).vcpus == 2
    # The guest's balloon driver gives the memory back over a moment.
    aloop.run_until_complete(wait_until(lambda: dom.info()[2] == 160 * MIB, 60))
    assert config(dom).current_memory_kib == 160 * MIB
    assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None,
                        libvirt.VIR_DOMAIN_AFFECT_LIVE) == "Changed while running"
    assert config(dom).title == "Changed while running"
    assert dialog.status.text() == "Applied 3 changes."
    dialog.close()


def test_a_disk_added_live_is_seen_by_the_guest_grown_and_removed(aloop, lab):
    log = lab["log"]
    before = mark(log)
    prompts = ScriptedPrompts(delete_volume=True)
    prompts.disk_choices.append(DiskChoice(
        "virtio", "none", NewVolume(POOL_NAME, f"{lab['name']}-extra.qcow2", 32 * MIB * MIB),
        "/var/lib/hvconsole-test/pool"))
    dialog = open_dialog(aloop, lab["host"], lab["key"], prompts)
    disks = dialog.page(DisksPage)
    disks.add_button.click()
    assert disks.table.rowCount() == 1
    outcome = apply(aloop, dialog)
    assert outcome is not None and outcome.ok, outcome
    assert prompts.summaries[-1] == [
        f"Disks: add disk vda: a new 32 MiB qcow2 volume {lab['name']}-extra.qcow2 in pool "
        f"{POOL_NAME} (virtio, cache none) — now"]
    size = seen(aloop, log, "PARTITIONS", lambda v: partitions(v).get("vda"), after=before)
    assert size == 32 * MIB

    # Grow it: the guest sees the new size at once.
    disks = dialog.page(DisksPage)
    disks.table.selectRow(0)
    assert disks.marks()["disk_resize"].when is When.NOW
    disks.unit_combo.setCurrentIndex(disks.unit_combo.findData(MIB * MIB))
    disks.size_spin.setValue(64)
    disks.resize_button.click()
    before = mark(log)
    assert apply(aloop, dialog).ok
    assert prompts.summaries[-1] == ["Disks: grow disk vda from 32 MiB to 64 MiB — now"]
    assert seen(aloop, log, "PARTITIONS", lambda v: partitions(v).get("vda") == 64 * MIB
                       or None, after=before)

    # Remove it, and its volume with it: confirmed by libvirt's device-removed event.
    disks = dialog.page(DisksPage)
    disks.table.selectRow(0)
    path = domxml.parse(lab["dom"].XMLDesc(0)).disk("vda").source_file
    before = mark(log)
    disks.remove_button.click()
    outcome = apply(aloop, dialog)
    assert outcome.ok and outcome.notes == [], outcome
    assert seen(aloop, log, "PARTITIONS", lambda v: "vda" not in partitions(v) or None,
                       after=before)
    assert domxml.parse(lab["dom"].XMLDesc(0)).disk("vda") is None
    assert config(lab["dom"]).disk("vda") is None
    with pytest.raises(libvirt.libvirtError):
        lab["dom"].connect().storageVolLookupByPath(path)
    dialog.close()


def test_a_nic_added_and_its_link_set_down_and_up(aloop, lab):
    log = lab["log"]
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    network = dialog.page(NetworkPage)
    network.add_button.click()
    choose(network.network_combo, lab["network"])
    before = mark(log)
    assert apply(aloop, dialog).ok
    assert seen(aloop, log, "CARRIER", lambda v: carriers(v).get("eth0") == 1 or None,
                       after=before)

    for up, carrier in ((False, 0), (True, 1)):
        network = dialog.page(NetworkPage)
        assert network.marks()["nic_link"].when is When.NOW
        network.link_check.setChecked(up)
        before = mark(log)
        assert apply(aloop, dialog).ok
        assert seen(aloop, log, "CARRIER", lambda v, c=carrier: carriers(v).get("eth0") == c
                           or None, after=before)
        nic = config(lab["dom"]).interfaces[0]
        assert nic.link_up is up and nic.source_network == lab["network"]

    network = dialog.page(NetworkPage)
    network.remove_button.click()
    before = mark(log)
    outcome = apply(aloop, dialog)
    assert outcome.ok and outcome.notes == [], outcome
    assert seen(aloop, log, "CARRIER", lambda v: "eth0" not in carriers(v) or None,
                       after=before)
    assert domxml.parse(lab["dom"].XMLDesc(0)).interfaces == []
    dialog.close()


def test_a_cd_inserted_is_read_by_the_guest_and_ejected(aloop, lab):
    log = lab["log"]
    dialog = open_dialog(aloop, lab["host"], lab["key"], ScriptedPrompts())
    cd = dialog.page(CdromPage)
    assert cd.marks()["cd_media"].when is When.NOW
    choose(cd.iso_combo, lab["iso"])
    before = mark(log)
    cd.insert_button.click()
    assert apply(aloop, dialog).ok
    assert seen(aloop, log, "CD", lambda v: v if v != "none" else None,
                       after=before) == lab["iso_text"]
    assert config(lab["dom"]).disk("hdc").source_file == lab["iso"]

    # The guest mounted the disc, which locks the tray: Eject takes it out anyway.
    cd = dialog.page(CdromPage)
    before = mark(log)
    cd.eject_button.click()
    outcome = apply(aloop, dialog)
    assert outcome.ok, outcome
    assert outcome.notes == ["The guest had locked the tray of hdc; the disc was ejected "
                             "anyway."]
    assert seen(aloop, log, "CD", lambda v: v == "none" or None, after=before)
    assert not domxml.parse(lab["dom"].XMLDesc(0)).disk("hdc").has_media
    assert not config(lab["dom"]).disk("hdc").has_media
    dialog.close()
