"""The main window on real app objects and libvirt's in-process test driver."""
from __future__ import annotations

import argparse
import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from app.inventory import NODE_ROLE, NodeKind
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from widgets.launcher import Session


def _args(**overrides) -> argparse.Namespace:
    values = dict(connect=[], show_domain=None, screenshot=None, debug=False,
                  show_domain_creator=False)
    values.update(overrides)
    return argparse.Namespace(**values)


def _demo_uri() -> tuple[str, bool]:
    """The demo lab once it exists; libvirt's built-in test:///default until then."""
    from app.connection_manager import demo_uri
    try:
        return demo_uri(), True
    except (FileNotFoundError, LookupError):
        return "test:///default", False


def _rows(view, parent=None):
    from PySide6.QtCore import QModelIndex
    model = view.model()
    parent = parent if parent is not None else QModelIndex()
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index
        yield from _rows(view, index)


def _vm_rows(view):
    return [i for i in _rows(view) if i.data(NODE_ROLE).kind == NodeKind.VM]


@pytest.fixture
def session(qtbot, qapp, aloop):
    qapp.setQuitOnLastWindowClosed(False)
    session = Session(_args())
    window = session.build()
    # Not qtbot.addWidget(window): pytest-qt would close and delete the window before
    # this fixture's teardown, and shutting the session down still notifies its tabs.
    window.show()
    uri, demo = _demo_uri()
    conn_id = session.manager.open(uri, save=False, demo=demo)
    session.conn_id = conn_id

    async def loaded():
        await wait_until(lambda: session.manager.host(conn_id).state == ConnState.CONNECTED,
                         timeout=15)
        await wait_until(lambda: len(_vm_rows(window.tree)) > 0, timeout=10)
    aloop.run_until_complete(loaded())
    yield session
    aloop.run_until_complete(session.shutdown())
    window.close()
    window.deleteLater()


def test_window_shows_the_host_and_its_vms(session, aloop):
    window = session.window
    assert window.windowTitle() == "HVConsole"
    hosts = [i for i in _rows(window.tree) if i.data(NODE_ROLE).kind == NodeKind.HOST]
    assert len(hosts) == 1
    assert window.tree.isExpanded(hosts[0]), "a connected host opens to show its VMs"
    host = session.manager.host(session.conn_id)
    vm_names = {i.data() for i in _vm_rows(window.tree)}
    assert vm_names == {vm.name for vm in host.vms()}
    headers = [window.tree.model().headerData(c, Qt.Orientation.Horizontal)
               for c in range(window.tree.model().columnCount())]
    assert headers[:2] == ["Name", "State"]
    # The status bar recounts on a short debounce after each batch, not synchronously.
    aloop.run_until_complete(wait_until(
        lambda: window.status.summary_label.text().startswith("1 server, 1 connected, ")))
    summary = window.status.summary_label.text()
    assert f"{len(vm_names)} VM" in summary


def test_the_tree_has_the_keyboard_when_the_window_opens(session, qtbot):
    window = session.window
    window.activateWindow()
    qtbot.waitUntil(lambda: window.focusWidget() is not None, timeout=2000)
    assert window.focusWidget() is window.tree
    window.focus_filter_action.trigger()    # Ctrl+F
    assert window.focusWidget() is window.filter_edit


def test_filter_box_filters_by_name_and_by_state(session, aloop):
    window = session.window
    host = session.manager.host(session.conn_id)
    first = sorted(host.vms(), key=lambda vm: vm.name)[0]
    QTest.keySequence(window, Qt.Modifier.CTRL | Qt.Key.Key_F)
    assert window.filter_edit.hasFocus() or window.filter_edit.isVisible()
    window.filter_edit.setText(first.name)
    shown = {i.data() for i in _vm_rows(window.tree)}
    assert first.name in shown
    assert all(first.name.lower() in name.lower() for name in shown)

    # Pause a running VM through the VM menu's own action, then filter by "paused".
    running = [vm for vm in host.vms() if vm.state == VMState.RUNNING]
    assert running, "the inventory needs a running VM for this story"
    window.filter_edit.clear()
    target = running[0]
    assert window.tree.select_node(session.conn_id, target.key)
    assert session.commands.pause.action.isEnabled()
    session.commands.pause.action.trigger()
    # The tree, not only the connection, must know it is paused before the filter runs:
    # a filter that hides the selected row (a batch later) would drop the selection.
    aloop.run_until_complete(wait_until(
        lambda: session.inventory.node(session.conn_id, target.key).obj.state
        == VMState.PAUSED, timeout=10))
    window.filter_edit.setText("paused")
    aloop.run_until_complete(wait_until(
        lambda: target.name in {i.data() for i in _vm_rows(window.tree)}, timeout=5))
    paused = {vm.name for vm in host.vms() if vm.state == VMState.PAUSED}
    assert {i.data() for i in _vm_rows(window.tree)} == paused
    window.filter_edit.clear()
    session.commands.resume.action.trigger()
    aloop.run_until_complete(wait_until(
        lambda: host.vm(target.key).state == VMState.RUNNING, timeout=10))


def test_multi_selection_enables_what_applies_to_each(session):
    window = session.window
    tree = window.tree
    rows = _vm_rows(tree)
    assert len(rows) >= 2, "the demo lab has several VMs"
    flags = tree.selectionModel().SelectionFlag
    tree.selectionModel().clearSelection()
    for index in rows:
        tree.selectionModel().select(index, flags.Select | flags.Rows)
    nodes = tree.selected_nodes()
    assert len(nodes) == len(rows)
    assert [n.key for n in session.commands.selection] == [n.key for n in nodes]
    states = {node.obj.state for node in nodes}
    assert session.commands.start.action.isEnabled() == any(
        not s.is_active for s in states)
    assert session.commands.pause.action.isEnabled() == (VMState.RUNNING in states)
    assert session.commands.delete.action.isEnabled()
    assert not session.commands.disconnect_host.action.isEnabled()


def test_context_menu_on_a_vm_holds_the_vm_menus_actions(session):
    window = session.window
    tree = window.tree
    index = _vm_rows(tree)[0]
    tree.scrollTo(index)
    pos = tree.visualRect(tree.model().index(index.row(), 0, index.parent())).center()
    tree.customContextMenuRequested.emit(pos)
    menu = tree.last_context_menu
    assert menu is not None
    in_menu = [a for a in menu.actions() if not a.isSeparator()]
    in_vm_menu = [a for a in window.vm_menu.actions() if not a.isSeparator()]
    assert in_menu and all(a is b for a, b in zip(in_menu, in_vm_menu))
    assert len(in_menu) == len(in_vm_menu)
    menu.close()


def test_show_domain_selects_the_vm(session, aloop):
    host = session.manager.host(session.conn_id)
    name = sorted(vm.name for vm in host.vms())[-1]
    assert session.window.show_domain(name)
    selected = session.window.tree.selected_nodes()
    assert [n.obj.name for n in selected] == [name]
    assert session.window.general_tab.isVisible()


def test_selection_survives_inventory_batches(session, aloop):
    window = session.window
    host = session.manager.host(session.conn_id)
    vm = sorted(host.vms(), key=lambda v: v.name)[0]
    assert window.tree.select_node(session.conn_id, vm.key)
    # A reconnect replaces the whole picture of the host with a new full snapshot.
    result = session.manager.reconnect(session.conn_id)
    if asyncio.iscoroutine(result):
        aloop.run_until_complete(result)
    aloop.run_until_complete(wait_until(
        lambda: host_state(session) == ConnState.CONNECTED and _vm_rows(window.tree),
        timeout=15))
    aloop.run_until_complete(asyncio.sleep(0.3))
    assert [n.key for n in window.tree.selected_nodes()] == [vm.key]


def host_state(session):
    return session.manager.host(session.conn_id).state


def test_the_tree_lists_vms_by_name_until_a_column_is_clicked(session, aloop):
    """The inventory's own order (VMs A to Z, then the Networks and Storage groups), also
    after more VMs arrive; a first click on CPU sorts the busiest first."""
    window = session.window
    proxy = window.tree.model()
    host = proxy.index(0, 0)

    def children():
        return [proxy.index(r, 0, host).data(NODE_ROLE) for r in range(proxy.rowCount(host))]

    def vm_names():
        return [n.obj.name for n in children() if n.kind == NodeKind.VM]

    assert vm_names() == sorted(vm_names(), key=str.casefold) and len(vm_names()) > 2
    assert [n.kind for n in children()][-2:] == [NodeKind.GROUP, NodeKind.GROUP]
    handle = session.manager.host(session.conn_id).sampling_handle()
    assert handle is not None
    conn = handle[0]     # the host's own connection: its test driver is private to it
    added = [conn.defineXML(
        f"<domain type='test'><name>{name}</name><memory>65536</memory>"
        "<os><type>hvm</type></os></domain>") for name in ("aaa-first", "zzz-last")]
    try:
        aloop.run_until_complete(wait_until(lambda: "zzz-last" in vm_names()))
        names = vm_names()
        assert names == sorted(names, key=str.casefold)
        assert names[0] == "aaa-first" and names[-1] == "zzz-last"
    finally:
        for dom in added:
            dom.undefine()
    header = window.tree.header()
    from PySide6.QtCore import QPoint

    from app.inventory import CPU_COLUMN
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(CPU_COLUMN) + 5, 5))
    assert header.sortIndicatorSection() == CPU_COLUMN
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder


def test_a_disconnected_server_says_how_many_vms_it_had(session, aloop):
    """The tree keeps a disconnected server's VMs, greyed, with their last states; General
    says the same instead of "Total: 0"."""
    window = session.window
    count = len(session.manager.host(session.conn_id).vms())
    assert window.tree.select_node(session.conn_id, session.conn_id)
    assert window.general_tab.fields()["Total"] == str(count)
    session.commands.disconnect_host.action.trigger()
    aloop.run_until_complete(wait_until(
        lambda: host_state(session) == ConnState.DISCONNECTED
        and "not connected" in window.general_tab.fields().get("Total", ""), timeout=10))
    assert len(_vm_rows(window.tree)) == count
    assert window.general_tab.fields()["Total"] == f"{count} VMs (last known; not connected)"
    shown = " ".join(label.text() for label in window.general_tab.findChildren(QLabel))
    assert f"{count} VMs (last known; not connected)" in shown
    session.commands.reconnect_host.action.trigger()
    aloop.run_until_complete(wait_until(
        lambda: window.general_tab.fields()["Total"] == str(count), timeout=15))


def _badge_pixels(window) -> int:
    """How many pixels of the demo badge's yellow the status bar shows."""
    from PySide6.QtGui import QColor
    image = window.status.grab().toImage()
    yellow = QColor("#fff3cd").rgb()
    return sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
               if image.pixel(x, y) == yellow)


def test_a_status_tip_is_not_covered_by_the_demo_badge(session, qtbot, aloop):
    window = session.window
    qtbot.waitUntil(lambda: window.status.demo_label.isVisible())
    assert _badge_pixels(window) > 50
    # Pointing at a toolbar button shows its status tip, as a temporary message.
    session.commands.shutdown.action.showStatusText(window)
    tip = session.commands.shutdown.action.statusTip()
    assert window.status.currentMessage() == tip
    window._update_summary()         # what every inventory batch does
    aloop.run_until_complete(asyncio.sleep(0.2))
    assert not window.status.demo_label.isVisible() and _badge_pixels(window) == 0
    window.status.clearMessage()
    assert window.status.demo_label.isVisible() and _badge_pixels(window) > 50


# ---- the filter box: says when nothing matches, Escape clears it, keeps the selection ----

def test_filter_says_when_nothing_matches_and_escape_clears_it(session, qtbot):
    window = session.window
    window.focus_filter_action.trigger()
    qtbot.keyClicks(window.filter_edit, "no-such-vm")
    assert window.tree.model().rowCount() == 0
    assert window.tree.no_matches.isVisible()
    assert window.tree.no_matches.text().startswith("No server or VM matches “no-such-vm”.")
    qtbot.keyClick(window.filter_edit, Qt.Key.Key_Escape)
    assert window.filter_edit.text() == ""
    assert not window.tree.no_matches.isVisible()
    assert len(_vm_rows(window.tree)) == len(session.manager.host(session.conn_id).vms())
    assert window.filter_edit.hasFocus(), "the first Escape only clears"
    qtbot.keyClick(window.filter_edit, Qt.Key.Key_Escape)
    assert window.tree.hasFocus(), "Escape in an empty filter goes back to the tree"


def test_filtering_keeps_the_selection_and_the_tabs(session, qtbot, aloop):
    """A selected VM the filter hides stays what the tabs show (the console is not
    dropped) and is selected again when the filter is cleared; a filter that still shows
    it keeps it selected."""
    window = session.window
    host = session.manager.host(session.conn_id)
    vm = next(v for v in host.vms() if v.name == "k8s-worker-1") \
        if any(v.name == "k8s-worker-1" for v in host.vms()) else sorted(
            host.vms(), key=lambda v: v.name)[0]
    assert window.tree.select_node(session.conn_id, vm.key)
    window.tabs.setCurrentWidget(window.console_tab)
    shown = []
    window.tree.selectionChangedNodes.connect(shown.append)
    aloop.run_until_complete(asyncio.sleep(0.1))

    window.filter_edit.setText(vm.name[:4])             # still matches
    assert [n.key for n in window.tree.selected_nodes()] == [vm.key]
    window.filter_edit.setText("zzz-nothing")           # hides it
    assert window.tree.selected_nodes() == []
    assert [n.key for n in session.commands.selection] == [vm.key]
    assert window.general_tab.fields()["Name"] == vm.name
    assert window.tabs.currentWidget() is window.console_tab
    window.filter_edit.clear()
    assert [n.key for n in window.tree.selected_nodes()] == [vm.key]
    assert shown == [], "the tabs were never told the selection changed"
    assert window.general_tab.fields()["Name"] == vm.name


# ---- keys: Enter opens the console, Alt+Enter does not, Delete asks to delete ----

def test_enter_on_a_vm_opens_its_console_and_alt_enter_does_not(session, qtbot, aloop):
    window = session.window
    host = session.manager.host(session.conn_id)
    vm = sorted(host.vms(), key=lambda v: v.name)[0]
    assert window.tree.select_node(session.conn_id, vm.key)
    window.tabs.setCurrentWidget(window.general_tab)
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_Return, Qt.KeyboardModifier.AltModifier)
    assert window.tabs.currentWidget() is window.general_tab
    qtbot.keyClick(window.tree, Qt.Key.Key_Return)
    assert window.tabs.currentWidget() is window.console_tab
    aloop.run_until_complete(asyncio.sleep(0.1))    # the console tab starts its session
    window.tabs.setCurrentWidget(window.general_tab)
    where = window.tree.visualRect(window.tree.currentIndex()).center()
    # QTest's double click is only its second half: the first click comes before it.
    qtbot.mouseClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseDClick(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert window.tabs.currentWidget() is window.console_tab
    # QTest's double click leaves the button down as far as Qt knows: a later test's
    # pointer moves would all be drags.
    qtbot.mouseRelease(window.tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    aloop.run_until_complete(asyncio.sleep(0.1))


def test_the_delete_key_asks_to_delete_the_selected_vms(session, qtbot, monkeypatch):
    """Through the same dialog as the menu; the key does nothing outside the tree."""
    window = session.window
    asked = []
    # The human answering: Cancel (a real dialog would wait for a click).
    monkeypatch.setattr(session.prompter, "ask_delete",
                        lambda targets: asked.append([t.vm.name for t in targets]))
    host = session.manager.host(session.conn_id)
    vm = sorted(host.vms(), key=lambda v: v.name)[0]
    assert window.tree.select_node(session.conn_id, vm.key)
    window.filter_edit.setFocus()
    qtbot.keyClick(window.filter_edit, Qt.Key.Key_Delete)
    assert asked == []
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_Delete)
    assert asked == [[vm.name]]
    assert "Del" in session.commands.delete.action.toolTip()


# ---- menus ----

def test_menus_hold_what_a_new_user_looks_for(session, qtbot, monkeypatch):
    window = session.window

    def texts(menu):
        return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert texts(window.file_menu) == ["Add Server…", "Import Searches…", "Export Searches…",
                                       "Quit"]
    assert "Preferences…" in texts(window.edit_menu)
    assert window.preferences_action.shortcut().toString() == "Ctrl+,"
    assert texts(window.help_menu) == ["HVConsole Guide (README)", "Keyboard Shortcuts",
                                       "About HVConsole"]
    assert session.commands.pause.action.shortcut().toString() == "Ctrl+P"
    opened = []
    from PySide6.QtGui import QDesktopServices
    monkeypatch.setattr(QDesktopServices, "openUrl",       # no browser in a test
                        staticmethod(lambda url: opened.append(url) or True))
    window.readme_action.trigger()
    assert opened and opened[0].toLocalFile().endswith("README.md")
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = dict(dialog.rows())
    assert rows["Pause"] == "Ctrl+P" and rows["Preferences"] == "Ctrl+,"
    assert rows["Delete VM"] == "Del (in the tree)"
    assert rows["Open its Console tab"].startswith("Enter")
    dialog.close()


def test_networks_and_pools_have_their_commands_in_the_context_menu(session, qtbot):
    from PySide6.QtWidgets import QApplication
    window = session.window
    tree = window.tree
    net = next(i for i in _rows(tree) if i.data(NODE_ROLE).kind == NodeKind.NETWORK)
    tree.scrollTo(net)
    window.tabs.setCurrentWidget(window.console_tab)
    tree.customContextMenuRequested.emit(tree.visualRect(net).center())
    menu = tree.last_context_menu
    texts = [a.text().replace("&", "") for a in menu.actions()]
    assert texts == ["Start Network", "Stop Network", "", "Start Automatically", "",
                     "New Network…", "Delete Network…", "", "Show in General", "Copy Name"]
    menu.actions()[-1].trigger()
    assert QApplication.clipboard().text() == net.data(NODE_ROLE).obj.name
    menu.actions()[-2].trigger()
    assert window.tabs.currentWidget() is window.general_tab
    assert window.general_tab.fields()["Name"] == net.data(NODE_ROLE).obj.name
    menu.close()


# ---- the splitter: names fit at 1024×700, tabs do not move it, it is remembered ----

def _small_window(qapp, aloop, width=1024, height=700):
    session = Session(_args())
    window = session.build()
    window.resize(width, height)
    window.show()
    uri, demo = _demo_uri()
    session.conn_id = session.manager.open(uri, save=False, demo=demo)

    async def loaded():
        await wait_until(lambda: window.geometry_keeper.placed and _vm_rows(window.tree), 15)
        await asyncio.sleep(0.2)
    aloop.run_until_complete(loaded())
    return session


def _close(session, aloop):
    session.window.close()
    aloop.run_until_complete(session.shutdown())
    session.window.deleteLater()


def test_at_1024_by_700_names_fit_and_tabs_do_not_move_the_splitter(qapp, aloop):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QStyle
    QSettings("hvconsole", "hvconsole").remove("window/tree_width")
    session = _small_window(qapp, aloop)
    window, tree = session.window, session.window.tree
    try:
        assert window.width() == 1024
        for index in _vm_rows(tree):
            name = index.data()
            cell = tree.visualRect(index)       # the name cell: icon, then the text
            room = cell.width() - tree.style().pixelMetric(
                QStyle.PixelMetric.PM_SmallIconSize) - 12
            assert room >= tree.fontMetrics().horizontalAdvance(name), (name, room)
        sizes = window.splitter.sizes()
        assert sizes[1] >= 560
        for i in range(window.tabs.count()):
            window.tabs.setCurrentIndex(i)
            aloop.run_until_complete(asyncio.sleep(0.15))
            assert window.splitter.sizes() == sizes, window.tabs.tabText(i)
    finally:
        _close(session, aloop)


def test_the_tree_width_is_remembered(qapp, aloop):
    session = _small_window(qapp, aloop, 1280, 800)
    try:
        total = sum(session.window.splitter.sizes())
        session.window.splitter.setSizes([300, total - 300])   # the user drags it
    finally:
        _close(session, aloop)
    session = _small_window(qapp, aloop, 1280, 800)
    try:
        assert session.window.tree_width() == 300
    finally:
        _close(session, aloop)


def test_clicking_name_sorts_the_servers_and_their_vms(qapp, aloop):
    """With two servers listed, a click on the Name header sorts the servers by name and
    a second click reverses them (a server's row once had nothing to sort by, and the
    click crashed the program)."""
    session = _small_window(qapp, aloop, 1280, 800)
    tree = session.window.tree
    proxy = tree.model()
    try:
        other = session.manager.open("test:///default", save=False)
        aloop.run_until_complete(wait_until(
            lambda: session.inventory.host_state(other) == (ConnState.CONNECTED, ""), 15))
        header = tree.header()
        from PySide6.QtCore import QPoint

        def click_name():
            QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                             pos=QPoint(header.sectionViewportPosition(0) + 5, 5))
            aloop.run_until_complete(asyncio.sleep(0.1))
            return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]

        servers = click_name()
        assert header.sortIndicatorSection() == 0
        assert servers == sorted(servers, key=str.casefold) and servers[0] != servers[1]
        assert click_name() == servers[::-1]
        names = [i.data() for i in _vm_rows(tree)]
        assert names and names != sorted(names, key=str.casefold), \
            "the VMs are listed Z to A too"
    finally:
        _close(session, aloop)


def test_the_program_keeps_a_big_inventory_out_of_the_cycle_collector(qapp, aloop):
    """The launcher installs app/gc_policy.py's freeze: a server with a thousand rows is
    frozen out of the collector's passes, and removing it unfreezes."""
    import gc

    from app.gc_policy import FREEZE_FROM
    from tests.unit.test_app_inventory import connect, vm
    session = Session(_args())
    session.build()
    gc.unfreeze()
    try:
        connect(session.inventory, "big", [vm(f"vm-{i}") for i in range(FREEZE_FROM)])
        assert gc.get_freeze_count() > 0
        session.inventory.remove_host("big")
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        _close(session, aloop)


def test_the_demo_lab_named_with_connect_is_still_the_demo(qtbot, qapp, aloop):
    """``--connect test:///…/lab.xml`` shows the demo as the demo: its name and the badge."""
    uri, demo = _demo_uri()
    if not demo:
        pytest.skip("no demo lab in this checkout")
    session = Session(_args(connect=[uri]))
    window = session.build()
    try:
        opened = aloop.run_until_complete(session.open_connections())
        assert len(opened) == 1

        async def loaded():
            await wait_until(lambda: _vm_rows(window.tree), timeout=15)
        aloop.run_until_complete(loaded())
        servers, connected, _vms, shown_as_demo = session.inventory.summary()
        assert (servers, connected, shown_as_demo) == (1, 1, True)
        host_row = next(_rows(window.tree))
        assert host_row.data() == "Demo lab"
    finally:
        aloop.run_until_complete(session.shutdown())
        window.close()
        window.deleteLater()
