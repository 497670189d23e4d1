"""Organize in the real main window on the demo lab (libvirt's in-process test driver):
tag and file VMs through the Organize editor, one VM and then several at once, and browse
the tree by folder, tag, state and custom field from the View menu; what is checked is
the text the tree and the dialog show.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtTest import QTest

from app.inventory import NODE_ROLE, NodeKind
from app.organize.fields import FieldKind
from connectors.libvirt.domxml.organize import OrgChange
from tests.conftest import wait_until
from tests.widgets.test_main_window import session  # noqa: F401 - the fixture

SHOTS = Path("/tmp/org-data-shots")


def _tree_text(tree, parent=None, depth=0) -> list[str]:
    """The tree as it reads: one line per row, indented by depth (rows collapsed or not)."""
    model = tree.model()
    parent = parent if parent is not None else QModelIndex()
    lines = []
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        state = model.index(row, 1, parent).data() or ""
        lines.append("  " * depth + f"{index.data()} | {state}")
        lines.extend(_tree_text(tree, index, depth + 1))
    return lines


def _select(window, *names):
    nodes = []
    for name in names:
        node = window.tree.find_vm_by_name(name)
        assert node is not None, name
        nodes.append(node)
    window.commands.set_selection(nodes)
    return nodes


def _in_dialog(window, fill, failures):
    """Runs ``fill(dialog)`` once Organize's modal dialog is up; a failed check closes
    the dialog (else the modal loop would wait for ever) and is kept in ``failures``."""
    def act():
        dialog = getattr(window, "last_organize_dialog", None)
        if dialog is None or not dialog.isVisible():
            QTimer.singleShot(10, act)
            return
        try:
            fill(dialog)
        except Exception as err:  # noqa: BLE001 - re-raised by the test after exec()
            failures.append(err)
            dialog.reject()
    window.last_organize_dialog = None
    QTimer.singleShot(0, act)


def test_organize_vms_and_browse_the_tree_by_folder_tag_state_and_field(session,  # noqa: F811
                                                                        aloop):
    window = session.window
    asked = []
    window.commands.ctx.prompter.confirm = lambda title, text, verb: asked.append(text) or True
    vms = lambda: {n.obj.name: n.obj for n in  # noqa: E731
                   (window.inventory.node(session.conn_id, vm.key)
                    for vm in window.inventory.vms(session.conn_id))}
    errors = []

    # One VM: the full editor; Enter in the tags box is OK.
    def one(dialog):
        dialog.define_field("cost", FieldKind.NUMBER)
        dialog.tags.setText("web, eu")
        dialog.folder.setCurrentText("/prod/web")
        dialog.description.setPlainText("Front end")
        cost = next(r for r in dialog.field_rows if r.field.name == "cost")
        cost.edit.setText("lots")
        dialog.tags.setFocus()
        QTest.keyClick(dialog.tags, Qt.Key.Key_Return)
        errors.append((dialog.isVisible(), dialog.error.text()))
        QTest.qWait(50)             # the new field's row is laid out
        dialog.grab().save(str(SHOTS / "organize-error.png"))
        cost.edit.setText("12")
        QTest.keyClick(dialog.tags, Qt.Key.Key_Return)

    SHOTS.mkdir(exist_ok=True)
    _select(window, "web-01")
    failures: list[Exception] = []
    _in_dialog(window, one, failures)
    window.commands.organize.action.trigger()
    assert not failures, failures
    assert errors == [(True, "cost is a number; “lots” is not one.")]
    aloop.run_until_complete(wait_until(lambda: vms()["web-01"].folder == "/prod/web"))
    web = vms()["web-01"]
    assert (web.tags, web.custom_fields, web.description) == (
        ("eu", "web"), (("cost", "12"),), "Front end")
    window.tree.select_node(session.conn_id, web.key)
    aloop.run_until_complete(wait_until(
        lambda: window.general_tab.fields().get("Folder") == "/prod/web"))
    shown = window.general_tab.fields()
    assert (shown["Tags"], shown["cost"], shown["Description"]) == ("eu, web", "12",
                                                                     "Front end")

    # Several VMs: add a tag, move to a folder, one question naming how many and where.
    def several(dialog):
        assert dialog.windowTitle() == "Organize 2 VMs"
        # Tags complete from those in use, after the last comma.
        dialog.add_tags.setFocus()
        QTest.keyClicks(dialog.add_tags, "prod, e")
        popup = dialog.add_tags.completer().popup()
        assert popup.isVisible() and popup.model().index(0, 0).data() == "eu"
        first = popup.model().index(0, 0)
        QTest.mouseClick(popup.viewport(), Qt.MouseButton.LeftButton,
                         pos=popup.visualRect(first).center())
        assert dialog.add_tags.text() == "prod, eu"
        dialog.add_tags.setText("web")
        dialog.folder.setCurrentText("/prod/web")
        dialog.move_box.setChecked(True)
        dialog.grab().save(str(SHOTS / "organize-bulk.png"))
        dialog.accept()

    _select(window, "web-02", "db-primary")
    _in_dialog(window, several, failures)
    window.commands.organize.action.trigger()
    assert not failures, failures
    assert len(asked) == 1 and asked[0].startswith("Organize 2 VMs on ")
    assert asked[0].endswith(": add tag web; move to folder /prod/web?")
    aloop.run_until_complete(wait_until(
        lambda: vms()["db-primary"].tags == ("web",) and vms()["web-02"].folder
        == "/prod/web"))

    menu = window.tree_views_menu.actions
    SHOTS.mkdir(exist_ok=True)
    try:
        menu["tag"].trigger()
        text = _tree_text(window.tree)
        assert text[:4] == ["eu | 1 VM", "  web-01 | Running", "web | 3 VMs",
                            "  db-primary | Running"]
        assert text[4:6] == ["  web-01 | Running", "  web-02 | Running"]
        assert text[6].startswith("No tags | ") and "web-01" not in "".join(text[7:])
        window.grab().save(str(SHOTS / "by-tag.png"))
        # The filter works in a grouped view too: a match keeps its group in sight.
        window.tree.set_filter_text("web-02")
        assert _tree_text(window.tree) == ["web | 3 VMs", "  web-02 | Running"]
        window.tree.set_filter_text("")
        # A group the user closed stays closed when the VMs regroup.
        model = window.tree.model()
        untagged = next(model.index(r, 0) for r in range(model.rowCount())
                        if model.index(r, 0).data().startswith("No tags"))
        QTest.qWait(20)             # rows back from the filter are opened after a turn
        assert window.tree.isExpanded(untagged)
        window.tree.collapse(untagged)
        window.commands.organize.apply([window.tree.find_vm_by_name("db-replica")],
                                       OrgChange(add_tags=("db",)))
        aloop.run_until_complete(wait_until(
            lambda: _tree_text(window.tree)[0] == "db | 1 VM"))
        groups = {model.index(r, 0).data(): window.tree.isExpanded(model.index(r, 0))
                  for r in range(model.rowCount())}
        assert groups == {"db": True, "eu": True, "web": True, "No tags": False}

        menu["folder"].trigger()
        text = _tree_text(window.tree)
        assert text[:5] == ["prod | 3 VMs", "  web | 3 VMs", "    db-primary | Running",
                            "    web-01 | Running", "    web-02 | Running"]
        assert text[5].startswith("Not in a folder | ")
        assert window.tree.isExpanded(window.tree.model().index(0, 0))
        window.grab().save(str(SHOTS / "by-folder.png"))

        menu["state"].trigger()
        states = [line for line in _tree_text(window.tree) if not line.startswith(" ")]
        assert {s.split(" | ")[0] for s in states} >= {"Running", "Shut off", "Paused"}

        window.tree_views_menu._fill_fields()
        menu["field:cost"].trigger()
        text = _tree_text(window.tree)
        assert text[:2] == ["12 | 1 VM", "  web-01 | Running"]
        assert text[2].startswith("No cost | ")

        # The server is not a row here: a VM's tooltip names it.
        first_vm = window.tree.model().index(0, 0, window.tree.model().index(0, 0))
        assert first_vm.data(Qt.ItemDataRole.ToolTipRole).endswith("\nServer: Demo lab")
        # Selecting a VM row in a grouped view selects the VM: commands follow it.
        window.tree.select_node(session.conn_id, web.key)
        assert [n.obj.name for n in window.tree.selected_nodes()] == ["web-01"]
        assert window.commands.shutdown.action.isEnabled()
        # A change made now moves the VM to its new group by itself.
        window.commands.organize.apply(_select(window, "web-01"),
                                       OrgChange(set_fields=(("cost", "7"),)))
        aloop.run_until_complete(wait_until(
            lambda: _tree_text(window.tree)[:2] == ["7 | 1 VM", "  web-01 | Running"]))
    finally:
        menu["server"].trigger()
    hosts = [i for i in range(window.tree.model().rowCount())
             if window.tree.model().index(i, 0).data(NODE_ROLE).kind is NodeKind.HOST]
    assert hosts == [0]
