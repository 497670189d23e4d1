"""The Snapshots tab and its dialogs as a user sees them: the tree with the current
snapshot marked, what is not offered and why (a Xen VM, an external snapshot's revert
before libvirt 9.9, mixing kinds), and what Take offers.

The snapshots and offers are written here as libvirt 9.0 answers them (what
snapshot_ops reads); tests/integration/test_snapshots.py runs the tab on a real guest.
"""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QModelIndex

from app.inventory import Node, NodeKind
from app.snapshots import INFO_ROLE
from connectors.libvirt.capabilities import YES, Offer
from connectors.libvirt.snapshot_ops import (SnapshotInfo, SnapshotOffers,
                                             snapshots_supported)
from tests.properties_fixtures import vm_info
from widgets.dialogs.snapshot_dialogs import DeleteDialog, EditDialog, TakeSnapshotDialog
from widgets.tabs.snapshots import SnapshotsTab

REVERT_NEEDS = Offer(False, "Reverting to an external snapshot needs libvirt 9.9 or later "
                            "on the host; it runs 9.0.0.")
NO_AGENT = Offer(False, "The guest agent does not answer (it freezes the guest's file "
                        "systems): Guest agent is not responding")


class NoHosts:
    """The tab asks its manager for the VM's host; these tests give it its snapshots
    directly, so it has none."""

    def host(self, conn_id):
        return None


def snap(name, parent=None, *, current=False, external=False, memory=True):
    return SnapshotInfo(name, parent, f"about {name}", 1796216585, "running" if memory
                        else "disk-snapshot", memory, external, current,
                        ("/pool/vm.ext",) if external else ())


def tab_with(snapshots, offers, *, running=True):
    tab = SnapshotsTab(NoHosts())
    vm = vm_info(running)
    tab.set_selection([Node(NodeKind.VM, "c1", vm.key, vm)])
    controller = tab.controller
    controller.snapshots, controller.offers = snapshots, offers
    controller.model.set_snapshots(snapshots)
    controller.changed.emit()
    tab.resize(800, 400)
    tab.show()
    return tab


def offers(*, internal=YES, external=YES, kind="internal"):
    return SnapshotOffers(internal, external, YES, NO_AGENT, REVERT_NEEDS, kind)


def names(tab) -> list[str]:
    model = tab.controller.model
    found = []

    def walk(parent, depth):
        for row in range(model.rowCount(parent)):
            index = model.index(row, 0, parent)
            found.append("  " * depth + index.data())
            walk(index, depth + 1)

    walk(QModelIndex(), 0)
    return found


def test_the_tree_shows_parents_children_and_the_current_one(qapp):
    tab = tab_with([snap("base"), snap("a", "base"), snap("b", "a", current=True),
                    snap("other", "base")], offers())
    assert names(tab) == ["base", "  a", "    b  (current)", "  other"]
    item = tab.controller.model.find("b")
    assert item.font().bold() and not tab.controller.model.find("a").font().bold()
    row = [item.index().siblingAtColumn(c).data() for c in range(4)]
    assert row[2] == "with memory (running), internal" and row[3] == "about b"
    assert "4 internal snapshots" in tab.notice.text()
    assert tab.take_button.isEnabled() and not tab.revert_button.isEnabled()
    assert tab.revert_button.toolTip() == "Select a snapshot."
    tab.select("a")
    assert tab.revert_button.isEnabled() and tab.delete_button.isEnabled()


def test_an_external_snapshot_says_why_it_cannot_be_reverted_here(qapp):
    tab = tab_with([snap("outside", current=True, external=True, memory=False)],
                   offers(internal=Offer(False, "This VM has external snapshots; …"),
                          kind="external"))
    tab.select("outside")
    assert not tab.revert_button.isEnabled()
    assert tab.revert_button.toolTip() == REVERT_NEEDS.reason
    assert tab.reason.isVisible()
    assert tab.reason.text() == f"Revert is not offered: {REVERT_NEEDS.reason}"
    assert tab.delete_button.isEnabled() and tab.edit_button.isEnabled()
    row = tab.controller.model.find("outside")
    assert row.data(INFO_ROLE).files == ("/pool/vm.ext",)
    assert "disk only, external" in row.index().siblingAtColumn(2).data()


def test_a_xen_vm_says_once_that_its_driver_has_no_snapshots(qapp):
    tab = SnapshotsTab(NoHosts())
    vm = replace(vm_info(True), domain_type="xen")
    tab.set_selection([Node(NodeKind.VM, "c1", vm.key, vm)])
    tab.show()
    reason = snapshots_supported("xen").reason
    assert tab.notice.text() == reason and "Xen driver" in reason
    assert not tab.tree.isVisible()
    for button in (tab.take_button, tab.revert_button, tab.delete_button, tab.edit_button):
        assert not button.isEnabled() and button.toolTip() == reason
    assert not tab.reason.isVisible()               # said once, not under the buttons too


def test_take_offers_only_the_kind_the_vm_already_has(qapp):
    tab = tab_with([snap("base", current=True, external=True, memory=False)],
                   offers(internal=Offer(False, "This VM has external snapshots; libvirt "
                                                "can lose data …"), kind="external"))
    dialog = TakeSnapshotDialog(tab.controller)
    assert not dialog.internal_radio.isEnabled() and dialog.external_radio.isChecked()
    assert "external snapshots" in dialog.internal_radio.toolTip()
    assert dialog.memory_check.isEnabled() and dialog.memory_check.isChecked()
    assert not dialog.quiesce_check.isEnabled()
    dialog.memory_check.setChecked(False)
    assert not dialog.quiesce_check.isEnabled()
    assert dialog.quiesce_check.toolTip() == NO_AGENT.reason
    assert NO_AGENT.reason in dialog.reason_label.text()
    dialog.name_edit.setText("base")
    ok = dialog.buttons.buttons()[0]
    assert not ok.isEnabled()
    assert dialog.reason_label.text().startswith("This VM already has a snapshot called "
                                                 "base.")
    dialog.name_edit.setText("next")
    assert ok.isEnabled()
    request = dialog.request()
    assert (request.name, request.external, request.memory) == ("next", True, False)


def test_an_internal_snapshot_of_a_running_vm_always_takes_its_memory(qapp):
    tab = tab_with([], offers(kind=None))
    dialog = TakeSnapshotDialog(tab.controller)
    assert dialog.internal_radio.isChecked()
    assert dialog.memory_check.isChecked() and not dialog.memory_check.isEnabled()
    assert "always saves its memory" in dialog.memory_check.toolTip()
    off = tab_with([], replace(offers(kind=None), memory=Offer(False, "The VM is not "
                                                                       "running.")),
                   running=False)
    dialog = TakeSnapshotDialog(off.controller)
    assert not dialog.memory_check.isChecked() and not dialog.memory_check.isEnabled()


def test_delete_and_edit_offer_what_the_snapshot_allows(qapp):
    alone = DeleteDialog(snap("leaf"), 0)
    assert alone.only_radio.isChecked() and not alone.children_radio.isEnabled()
    parent = DeleteDialog(snap("base"), 2)
    assert parent.children_radio.isEnabled()
    assert parent.children_radio.text() == "This snapshot and its 2 &descendants"
    tab = tab_with([snap("base", current=True)], offers())
    internal = EditDialog(snap("base"), tab.controller.rename_offer(snap("base")))
    assert not internal.name_edit.isEnabled()
    assert "inside each disk image" in internal.name_edit.toolTip()
    external = EditDialog(snap("x", external=True),
                          tab.controller.rename_offer(snap("x", external=True)))
    assert external.name_edit.isEnabled()
