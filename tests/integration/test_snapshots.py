"""The Snapshots tab on a real running guest, as a user drives it: a snapshot with memory
taken, the guest moves on (its counter on the serial port), the revert brings the old
moment back; a tree of three, a description edited, deleted with its children; an
external snapshot taken and deleted, its revert offered only where the host's libvirt
can (9.9 and later). One guest for the whole module.
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

import libvirt
import pytest
from PySide6.QtCore import QModelIndex

from app.snapshots import INFO_ROLE
from connectors.libvirt.snapshot_ops import SnapshotInfo, TakeRequest
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.guest import wait_for_serial
from tests.integration.guest_reports import last_tick, mark, wait_report
from tests.integration.properties_helpers import Guests, in_thread
from widgets.dialogs.snapshot_dialogs import EditAnswer, TakeSnapshotDialog
from widgets.tabs.snapshots import SnapshotsTab

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]


@dataclass
class ScriptedSnapshotPrompts:
    """The tab's questions answered from queues; what was offered is kept."""

    takes: list[TakeRequest] = field(default_factory=list)
    reverts: list[bool] = field(default_factory=list)
    deletes: list[bool] = field(default_factory=list)
    edits: list[EditAnswer] = field(default_factory=list)
    rename_offers: list = field(default_factory=list)

    def ask_take(self, controller):
        return self.takes.pop(0)

    def ask_revert(self, snapshot, vm_name):
        return self.reverts.pop(0)

    def ask_delete(self, snapshot, children):
        return self.deletes.pop(0)

    def ask_edit(self, snapshot, rename):
        self.rename_offers.append(rename)
        return self.edits.pop(0)


@pytest.fixture(scope="module")
def lab(qapp, aloop, libvirt_uri, test_guest_files):
    conn = libvirt.open(libvirt_uri)
    guests = Guests(conn, test_guest_files.accel)
    name = guests.name("snap")
    dom = guests.define(guests.definition(name, disk=True))
    dom.create()
    log = f"/var/log/hvconsole-test/{name}.serial.log"
    stack = AppStack()
    aloop.run_until_complete(stack.open(libvirt_uri))
    prompts = ScriptedSnapshotPrompts()
    tab = SnapshotsTab(stack.manager, stack.tasks, prompts=prompts)
    tab.resize(900, 500)
    tab.show()
    try:
        in_thread(aloop, wait_for_serial, log, timeout=180)
        aloop.run_until_complete(wait_until(lambda: stack.vm_node(name) is not None, 20))
        tab.set_selection([stack.vm_node(name)])
        settle(aloop, tab)
        yield {"tab": tab, "prompts": prompts, "dom": dom, "log": log, "stack": stack,
               "name": name}
    finally:
        tab.close()
        aloop.run_until_complete(stack.close())
        aloop.run_until_complete(asyncio.sleep(0.5))
        guests.close()
        conn.close()


def settle(aloop, tab) -> None:
    """Wait for the tab's last action (and the re-reading after it): a window task, or
    the plain asyncio task of a refresh."""
    pending = tab.pending
    if isinstance(pending, asyncio.Future):
        aloop.run_until_complete(asyncio.wait_for(asyncio.shield(pending), 300))
    elif pending is not None:
        aloop.run_until_complete(wait_until(lambda: pending.done, 300))


def press(aloop, tab, button) -> None:
    assert button.isEnabled(), button.toolTip()
    button.click()
    settle(aloop, tab)


def rows(tab) -> list[tuple[int, str]]:
    """(depth, name) of every row, depth first, as the tree shows them."""
    model = tab.controller.model
    found = []

    def walk(parent, depth):
        for row in range(model.rowCount(parent)):
            index = model.index(row, 0, parent)
            found.append((depth, index.data()))
            walk(index, depth + 1)

    walk(QModelIndex(), 0)
    return found


def info(tab, name: str) -> SnapshotInfo:
    item = tab.controller.model.find(name)
    return item.data(INFO_ROLE)


def seen_tick(aloop, log, accept, after):
    return in_thread(aloop, wait_report, log, "TICK", accept, after=after, timeout=120)


def test_a_snapshot_with_memory_brings_the_guest_back_to_its_moment(aloop, lab):
    tab, log, prompts = lab["tab"], lab["log"], lab["prompts"]
    assert rows(tab) == [] and "No snapshots yet" in tab.notice.text()
    before = last_tick(log)
    prompts.takes.append(TakeRequest("before", "the counter before", memory=True))
    press(aloop, tab, tab.take_button)
    assert "done" in tab.status.text(), tab.status.text()
    assert tab.pending.summary == f"Taking snapshot before of {lab['name']}: done"
    rows_of_log = [lab["stack"].events_log.index(r, 3).data()
                   for r in range(lab["stack"].events_log.rowCount())]
    assert tab.pending.summary in rows_of_log            # one Events row per action
    taken_by = last_tick(log)
    snap = info(tab, "before")
    assert snap.has_memory and not snap.external and snap.current
    assert rows(tab) == [(0, "before  (current)")]
    assert "1 internal snapshot" in tab.notice.text()

    # The guest moves on, then goes back to the moment of the snapshot.
    seen_tick(aloop, log, lambda v: int(v) >= taken_by + 5 or None, after=0)
    moved_on = last_tick(log)
    where = mark(log)
    tab.select("before")
    prompts.reverts.append(True)                       # running afterwards
    press(aloop, tab, tab.revert_button)
    assert "done" in tab.status.text(), tab.status.text()
    back = seen_tick(aloop, log, lambda v: int(v) if int(v) <= taken_by + 1 else None,
                     after=where)
    assert before <= back <= taken_by + 1 < moved_on
    assert lab["dom"].state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_a_tree_of_three_is_described_and_deleted_with_its_children(aloop, lab):
    tab, prompts = lab["tab"], lab["prompts"]
    for name in ("second", "third"):
        prompts.takes.append(TakeRequest(name, memory=True))
        press(aloop, tab, tab.take_button)
    assert rows(tab) == [(0, "before"), (1, "second"), (2, "third  (current)")]
    assert info(tab, "third").parent == "second"

    tab.select("second")
    prompts.edits.append(EditAnswer("second", "in the middle"))
    press(aloop, tab, tab.edit_button)
    rename = prompts.rename_offers[-1]
    assert not rename and "inside each disk image" in rename.reason
    assert info(tab, "second").description == "in the middle"
    assert info(tab, "third").current

    tab.select("second")
    prompts.deletes.append(True)                       # with its children
    press(aloop, tab, tab.delete_button)
    assert rows(tab) == [(0, "before  (current)")]       # libvirt moves "current" up
    tab.select("before")
    prompts.deletes.append(False)
    press(aloop, tab, tab.delete_button)
    assert rows(tab) == []
    assert lab["dom"].snapshotNum(0) == 0


def test_take_offers_what_a_running_guest_without_an_agent_can_have(aloop, lab):
    dialog = TakeSnapshotDialog(lab["tab"].controller)
    assert dialog.internal_radio.isChecked() and dialog.external_radio.isEnabled()
    assert dialog.memory_check.isChecked() and not dialog.memory_check.isEnabled()
    assert "always saves its memory" in dialog.memory_check.toolTip()
    dialog.external_radio.setChecked(True)
    dialog.memory_check.setChecked(False)
    assert not dialog.quiesce_check.isEnabled()
    assert "guest agent does not answer" in dialog.quiesce_check.toolTip()
    dialog.close()


def test_an_external_snapshot_is_taken_deleted_and_reverted_only_where_libvirt_can(
        aloop, lab):
    tab, prompts, dom = lab["tab"], lab["prompts"], lab["dom"]
    prompts.takes.append(TakeRequest("outside", "disks only", external=True))
    press(aloop, tab, tab.take_button)
    snap = info(tab, "outside")
    assert snap.external and not snap.has_memory and snap.files
    assert all(os.path.exists(path) for path in snap.files)
    offers = tab.controller.offers
    assert not offers.internal and "has external snapshots" in offers.internal.reason
    assert "1 external snapshot" in tab.notice.text()

    tab.select("outside")
    version = dom.connect().getLibVersion()
    if version >= 9_009_000:
        assert tab.revert_button.isEnabled()
    else:
        assert not tab.revert_button.isEnabled()
        assert "libvirt 9.9 or later" in tab.revert_button.toolTip()
        assert tab.reason.isVisible() and "9.9" in tab.reason.text()

    prompts.edits.append(EditAnswer("outside-renamed", "renamed, disks only"))
    press(aloop, tab, tab.edit_button)
    assert prompts.rename_offers[-1]
    assert rows(tab) == [(0, "outside-renamed  (current)")]
    assert info(tab, "outside-renamed").description == "renamed, disks only"

    tab.select("outside-renamed")
    prompts.deletes.append(False)
    press(aloop, tab, tab.delete_button)
    assert rows(tab) == [], tab.status.text()
    assert not any(os.path.exists(path) for path in snap.files)
    assert lab["dom"].state()[0] == libvirt.VIR_DOMAIN_RUNNING
