"""The main window by keyboard alone, on the demo lab (libvirt's test driver, in process):
the command palette, the pane keys, the tabs by number, and the console's way out. Every
step is a key event (QTest), never a click or a direct call of the window's methods."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu

from app.inventory import NodeKind
from app.palette import PaletteEntry
from connectors.libvirt.model import VMState
from tests.conftest import wait_until
from tests.widgets.test_main_window import session  # noqa: F401 (the window fixture)

CTRL, SHIFT, ALT = (Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier,
                    Qt.KeyboardModifier.AltModifier)


def _ready(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.focusWidget() is window.tree, timeout=3000)


def _selected_names(window):
    return [n.name for n in window.tree.selected_nodes()]


def _palette_run(window, qtbot, typed: str, chord=(Qt.Key.Key_K, CTRL)):
    QTest.keyClick(window.focusWidget(), chord[0], chord[1])
    palette = window.command_palette
    qtbot.waitUntil(palette.isVisible, timeout=2000)
    assert palette.edit.hasFocus()
    QTest.keyClicks(palette.edit, typed)
    shown = palette.shown()
    QTest.keyClick(palette.edit, Qt.Key.Key_Return)
    return shown


def test_a_typod_vm_name_in_the_palette_selects_the_vm(session, qtbot):  # noqa: F811
    window = session.window
    _ready(window, qtbot)
    shown = _palette_run(window, qtbot, "legacy-epr")       # two letters swapped
    assert shown[0].title == "legacy-erp" and shown[0].kind == "VM"
    assert not window.command_palette.isVisible()
    assert _selected_names(window) == ["legacy-erp"]
    assert window.tree.hasFocus(), "after the palette the keyboard is back in the tree"
    # The row the palette lists says where the VM is and its state.
    assert "VM on " in shown[0].detail


def test_the_palette_runs_a_command_on_the_selection(session, qtbot, aloop):  # noqa: F811
    window = session.window
    host = session.manager.host(session.conn_id)
    target = next(vm for vm in host.vms() if vm.state is VMState.RUNNING)
    _ready(window, qtbot)
    _palette_run(window, qtbot, target.name)
    assert _selected_names(window) == [target.name]
    # Ctrl+Shift+P: commands only; "paus" finds Pause, listed with its key.
    shown = _palette_run(window, qtbot, "paus", (Qt.Key.Key_P, CTRL | SHIFT))
    assert shown[0].title == "Pause" and shown[0].keys == "Ctrl+P"
    assert all(entry.kind == "Command" for entry in shown)
    aloop.run_until_complete(wait_until(lambda: host.vm(target.key).state
                                        is VMState.PAUSED, timeout=10))
    # And back by the shortcut the palette showed for Resume.
    aloop.run_until_complete(wait_until(lambda: session.commands.resume.action.isEnabled()))
    QTest.keyClick(window.tree, Qt.Key.Key_U, CTRL)
    aloop.run_until_complete(wait_until(lambda: host.vm(target.key).state
                                        is VMState.RUNNING, timeout=10))


def test_a_disabled_command_is_listed_with_its_reason_and_does_not_run(session, qtbot):  # noqa: F811
    window = session.window
    _ready(window, qtbot)
    window.tree.selectionModel().clearSelection()
    QTest.keyClick(window.tree, Qt.Key.Key_P, CTRL | SHIFT)
    palette = window.command_palette
    QTest.keyClicks(palette.edit, "Force Shut Down")
    entry = palette.shown()[0]
    assert entry.title == "Force Shut Down" and not entry.enabled
    assert "select" in entry.why_not.lower()
    QTest.keyClick(palette.edit, Qt.Key.Key_Return)      # nothing selected: stays open
    assert palette.isVisible()
    QTest.keyClick(palette.edit, Qt.Key.Key_Escape)
    assert not palette.isVisible()


def test_another_part_adds_its_entries_through_a_provider(session, qtbot):  # noqa: F811
    window = session.window
    ran = []

    class SavedSearches:
        def entries(self):
            yield PaletteEntry("Saved search", "Running web servers",
                               lambda: ran.append("web"), detail="tag:web AND state:running")
    window.palette_catalog.add_provider(SavedSearches())
    _ready(window, qtbot)
    shown = _palette_run(window, qtbot, "runing web")      # a typo here too
    assert shown[0].title == "Running web servers"
    assert ran == ["web"]


def test_panes_tabs_and_the_console_are_reached_and_left_by_keys(session, qtbot, aloop):  # noqa: F811
    window = session.window
    _ready(window, qtbot)
    # Down and Up walk the tree: the first VM row below the server.
    QTest.keyClick(window.tree, Qt.Key.Key_Home)
    for _ in range(3):
        QTest.keyClick(window.tree, Qt.Key.Key_Down)
        if window.tree.selected_nodes() and window.tree.selected_nodes()[0].kind is NodeKind.VM:
            break
    node = window.tree.selected_nodes()[0]
    assert node.kind is NodeKind.VM
    # F6: tree → saved searches → tab bar → page → filter box → tree; Shift+F6 back.
    saved = window.search.saved_view
    QTest.keyClick(window.tree, Qt.Key.Key_F6)
    assert window.focusWidget() is saved or saved.isAncestorOf(window.focusWidget())
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_F6)
    assert window.focusWidget() is window.tabs.tabBar()
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_F6)
    assert window.tabs.currentWidget().isAncestorOf(window.focusWidget())
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_F6)
    assert window.focusWidget() is window.filter_edit
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_F6, SHIFT)
    assert window.tabs.currentWidget().isAncestorOf(window.focusWidget())
    for _ in range(3):
        QTest.keyClick(window.focusWidget(), Qt.Key.Key_F6, SHIFT)
    assert window.focusWidget() is window.tree
    # Alt+number shows a tab; on the Console tab the keyboard goes to the guest's screen.
    console_index = window.tabs.indexOf(window.console_tab)
    QTest.keyClick(window.tree, Qt.Key(Qt.Key.Key_1 + console_index), ALT)
    assert window.tabs.currentWidget() is window.console_tab
    pane = window.console_tab.pane
    assert pane is not None and window.focusWidget() is pane.view
    # In the console, the window's keys are the guest's (Ctrl+F does not reach the filter)…
    QTest.keyClick(pane.view, Qt.Key.Key_F, CTRL)
    assert window.focusWidget() is pane.view
    # …except Ctrl+Alt+Home, which gives the keyboard back to the tree.
    QTest.keyClick(pane.view, Qt.Key.Key_Home, CTRL | ALT)
    assert window.focusWidget() is window.tree
    assert not pane.view.grabbed
    QTest.keyClick(window.tree, Qt.Key.Key_1, ALT)
    assert window.tabs.currentIndex() == 0


def test_a_saved_search_is_found_and_opened_from_the_palette(session, qtbot):  # noqa: F811
    from app.search.saved import SavedSearch
    window = session.window
    window.search.store.save(SavedSearch("Paused builders", "name:ci-runner AND state:paused"))
    _ready(window, qtbot)
    shown = _palette_run(window, qtbot, "pased builders")
    assert (shown[0].kind, shown[0].title) == ("Saved search", "Paused builders")
    assert window.tabs.currentWidget() is window.search.tab
    assert window.search.results.query.text == "name:ci-runner AND state:paused"


# ---- every action has a key, and no two share one ----

def _window_actions(window) -> list[QAction]:
    found: dict[int, QAction] = {}
    for action in window.findChildren(QAction):
        found[id(action)] = action
    for menu in window.menus():
        for action in menu.actions():
            found[id(action)] = action
    for action in window.tree.actions() + window.toolbar.actions():
        found[id(action)] = action
    return [a for a in found.values()
            if not a.isSeparator() and a.menu() is None and a.text()]


def _menu_actions(window) -> list[QAction]:
    def walk(menu: QMenu):
        for action in menu.actions():
            if action.menu() is not None:
                yield from walk(action.menu())
            elif not action.isSeparator():
                yield action
    return [a for menu in window.menus() for a in walk(menu)]


def test_every_menu_action_has_a_shortcut_shown_in_its_tooltip(session):  # noqa: F811
    window = session.window
    missing = [a.text() for a in _menu_actions(window) if a.shortcut().isEmpty()]
    assert missing == []
    for action in _menu_actions(window):
        if not action.isEnabled() and "installed" in action.toolTip():
            continue
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys in action.toolTip(), (action.text(), action.toolTip())


def shortcut_clashes(actions: list[QAction]) -> list[tuple[str, str, str]]:
    """Pairs of actions one key sequence would both trigger: window-wide shortcuts clash
    with each other and with widget-bound ones; widget-bound ones only on one widget."""
    by_keys: dict[str, list[QAction]] = {}
    for action in actions:
        for keys in action.shortcuts():
            if not keys.isEmpty():
                by_keys.setdefault(keys.toString(), []).append(action)
    clashes = []
    for keys, holders in by_keys.items():
        for i, a in enumerate(holders):
            for b in holders[i + 1:]:
                a_widget = a.shortcutContext() == Qt.ShortcutContext.WidgetShortcut
                b_widget = b.shortcutContext() == Qt.ShortcutContext.WidgetShortcut
                if a_widget and b_widget and not set(a.associatedObjects()) & set(
                        b.associatedObjects()):
                    continue
                clashes.append((keys, a.text(), b.text()))
    return clashes


def test_no_two_actions_share_a_shortcut(session):  # noqa: F811
    actions = _window_actions(session.window)
    assert len(actions) > 40
    assert shortcut_clashes(actions) == []


def test_the_tabs_own_actions_have_keys_too(session):  # noqa: F811
    """The Storage tab's volume actions, Networking's Edit DHCP and the console's toolbar
    (shown for a VM with a display) have keys, named in their tooltips, clashing with
    nothing in the window."""
    window = session.window
    host = session.manager.host(session.conn_id)
    vm = next(v for v in host.vms() if v.name == "web-01")
    window.tree.select_node(session.conn_id, vm.key)
    window.tabs.setCurrentWidget(window.console_tab)
    pane = window.console_tab.pane
    assert pane is not None
    own = [pane.scale_action, pane.paste_action, pane.screenshot_action, pane.undock_action,
           window.networking_tab.dhcp_action, window.storage_tab.new_volume_action,
           window.storage_tab.upload_action, window.storage_tab.download_action,
           window.storage_tab.grow_action, window.storage_tab.wipe_action,
           window.storage_tab.delete_volume_action]
    for action in own:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys and keys in action.toolTip(), action.text()
    assert shortcut_clashes(_window_actions(window)) == []


def test_the_clash_finder_finds_a_clash(session):  # noqa: F811
    window = session.window
    twin = QAction("Twin of Start", window)
    twin.setShortcut(session.commands.start.action.shortcut())
    window.addAction(twin)
    try:
        clashes = shortcut_clashes(_window_actions(window))
        assert [(k, {a, b}) for k, a, b in clashes] == [("Ctrl+B", {"Twin of Start",
                                                                       "&Start"})]
    finally:
        window.removeAction(twin)
        twin.deleteLater()
