"""Search in the main window, on the demo lab (libvirt's test driver through the real
connection manager, inventory and window): what the Search tab shows for a query, as
text; the results following the inventory live; saved searches in the navigation pane
surviving a restart, and their export and import."""
from __future__ import annotations

import argparse
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.connection_manager import demo_uri
from connectors.libvirt.model import ConnState, VMAction
from tests.conftest import wait_until
from tests.perf_replay import Load, Replay
from widgets.launcher import Session
from widgets.search import remembered


def _args() -> argparse.Namespace:
    return argparse.Namespace(connect=[], show_domain=None, screenshot=None, debug=False,
                              show_domain_creator=False)


def open_session(aloop, qapp, forget: bool = True, uri: str | None = None,
                 vms: int = 14) -> Session:
    """The window on the demo lab (or ``uri``, with ``vms`` VMs); ``forget``: without the
    Search tab a previous window left behind (the settings file is one per test run)."""
    qapp.setQuitOnLastWindowClosed(False)
    if forget:
        remembered.forget()
    session = Session(_args())
    window = session.build()
    window.show()
    conn_id = session.manager.open(uri or demo_uri(), save=False, demo=uri is None)
    session.conn_id = conn_id

    async def loaded():
        await wait_until(lambda: session.manager.host(conn_id).state == ConnState.CONNECTED,
                         timeout=15)
        await wait_until(lambda: len(window.inventory.vms(conn_id)) == vms, timeout=10)
    aloop.run_until_complete(loaded())
    return session


def close_session(aloop, session) -> None:
    aloop.run_until_complete(session.shutdown())
    session.window.close()
    session.window.deleteLater()


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "hvconsole"


@pytest.fixture
def session(qtbot, qapp, aloop, config_dir):
    session = open_session(aloop, qapp)
    yield session
    close_session(aloop, session)


def search(session, aloop, query: str) -> list[list[str]]:
    """Types ``query`` into the Search tab's bar as a user would, then Enter."""
    window = session.window
    window.search.search_action.trigger()            # Ctrl+F
    bar = window.search.tab.query_bar
    assert bar.hasFocus() or not window.isActiveWindow()
    bar.clear()
    QTest.keyClicks(bar, query)
    QTest.keyClick(bar, Qt.Key.Key_Escape)           # close the completion popup
    QTest.keyClick(bar, Qt.Key.Key_Return)
    return window.search.tab.shown_rows()


def names(rows) -> list[str]:
    return [row[0] for row in rows]


def test_ctrl_f_opens_the_search_tab_with_every_vm(session, qtbot):
    window = session.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.tree.setFocus()
    QTest.keyClick(window.tree, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.tab.query_bar.hasFocus()
    assert window.search.search_action.shortcut().toString() == "Ctrl+F"
    assert window.tabs.currentWidget() is window.search.tab
    tab = window.search.tab
    assert tab.proxy.headerData(0, Qt.Orientation.Horizontal) == "Name"
    assert len(tab.shown_rows()) == 14
    assert tab.status.text().startswith("14 VMs in all.")


def test_a_query_shows_the_matching_vms_with_their_columns(session, aloop):
    rows = search(session, aloop, "state:running AND mem>=4G")
    assert names(rows) == ["ci-runner-1", "ci-runner-3", "db-primary", "k8s-master",
                           "k8s-worker-1", "win2022-ad"]
    by_name = {row[0]: row for row in rows}
    # name, state, server, CPU, memory, tags, folder
    assert by_name["db-primary"][1] == "Running"
    assert by_name["db-primary"][2] == session.window.inventory.host_name(session.conn_id)
    assert by_name["db-primary"][4] == "8 GiB"
    status = session.window.search.tab.status.text()
    assert status == "6 VMs match “state:running AND mem>=4G”."

    assert names(search(session, aloop, "(name:ci OR name:k8s) NOT state:running")) == [
        "ci-runner-2"]
    assert names(search(session, aloop, "vcpus>=4 NOT state:active")) == [
        "ci-runner-2", "win11-desktop"]


def test_a_malformed_query_says_where_and_keeps_the_last_results(session, aloop):
    search(session, aloop, "state:paused")
    rows = search(session, aloop, "state:paused AND (mem>2G")
    assert names(rows) == ["db-replica"]
    status = session.window.search.tab.status.text()
    assert status.startswith("Column 18: this “(” is not closed.")
    assert session.window.search.tab.query_bar.cursorPosition() == 17, \
        "Enter puts the cursor where the query went wrong"
    from app import colours
    assert colours.hex_colour(colours.ERROR) in session.window.search.tab.status.styleSheet()
    rows = search(session, aloop, "state:pasued")
    assert "no state is called “pasued”" in session.window.search.tab.status.text()
    assert search(session, aloop, "stae:paused") == []
    assert session.window.search.tab.status.text() == (
        "0 VMs match “stae:paused”. No VM has a field called “stae”.")
    assert session.window.search.tab.status.styleSheet() == "", "no longer an error"


def test_grouped_by_state_and_chosen_columns(session, aloop):
    tab = session.window.search.tab
    search(session, aloop, "name:ci OR name:db")
    tab.group_box.setCurrentIndex(tab.group_box.findData("state"))
    tab.column_actions["host"].setChecked(False)
    tab.column_actions["tags"].setChecked(False)
    tab.column_actions["folder"].setChecked(False)
    tab.column_actions["vcpus"].setChecked(True)
    headers = [tab.proxy.headerData(c, Qt.Orientation.Horizontal)
               for c in range(tab.proxy.columnCount())]
    assert headers == ["Name", "State", "CPU", "Memory", "vCPUs"]
    rows = tab.shown_rows()
    assert [row[0] for row in rows] == [
        "Paused (1)", "db-replica",
        "Running (3)", "ci-runner-1", "ci-runner-3", "db-primary",
        "Shut off (1)", "ci-runner-2"]
    assert rows[3][:2] == ["ci-runner-1", "Running"] and rows[3][4] == "4"
    assert tab.view.isExpanded(tab.proxy.index(0, 0))
    flags = tab.view.selectionModel().SelectionFlag
    tab.view.selectionModel().select(tab.proxy.index(1, 0), flags.Select | flags.Rows)
    assert sorted(n.name for n in tab.selected_nodes()) == [
        "ci-runner-1", "ci-runner-3", "db-primary"], "a group row stands for its VMs"


def test_results_follow_the_inventory_and_the_cpu_figures_live(session, aloop):
    window = session.window
    host = session.manager.host(session.conn_id)
    keys = {vm.name: vm.key for vm in host.vms()}
    collector = window.monitor.collector(session.conn_id)
    aloop.run_until_complete(collector.stop())
    replay = Replay(collector, {keys["web-01"]: Load(cpu_percent=80.0),
                                keys["web-02"]: Load(cpu_percent=20.0),
                                keys["db-primary"]: Load(cpu_percent=65.0)})
    replay.tick()
    replay.tick()
    assert names(search(session, aloop, "state:running cpu>50")) == ["db-primary", "web-01"]
    cpu_cells = {row[0]: row[3] for row in window.search.tab.shown_rows()}
    assert cpu_cells == {"db-primary": "65 %", "web-01": "80 %"}

    tab = window.search.tab
    tab.view.selectionModel().select(
        tab.proxy.index(1, 0), tab.view.selectionModel().SelectionFlag.Select
        | tab.view.selectionModel().SelectionFlag.Rows)
    assert tab.selected_keys() == [(session.conn_id, keys["web-01"])]

    replay.loads[keys["web-02"]].cpu_percent = 90.0      # now above 50
    replay.tick()
    aloop.run_until_complete(wait_until(
        lambda: names(tab.shown_rows()) == ["db-primary", "web-01", "web-02"]))
    assert tab.selected_keys() == [(session.conn_id, keys["web-01"])], \
        "the selected result stays selected while others join"

    aloop.run_until_complete(host.vm_action(keys["db-primary"], VMAction.PAUSE))
    aloop.run_until_complete(wait_until(
        lambda: names(tab.shown_rows()) == ["web-01", "web-02"]))

    # Out of sight, search sleeps: the index notes what changed and catches up when the
    # Search tab shows again.
    window.tabs.setCurrentWidget(window.general_tab)
    aloop.run_until_complete(host.vm_action(keys["web-02"], VMAction.PAUSE))
    aloop.run_until_complete(wait_until(
        lambda: window.inventory.node(session.conn_id, keys["web-02"]).obj.state.value
        == "paused"))
    assert window.search.live.index.get((session.conn_id, keys["web-02"])).vm.state.value \
        == "running", "a hidden search does no work"
    window.search.search_action.trigger()
    assert names(tab.shown_rows()) == ["web-01"]


def test_enter_on_a_result_selects_the_vm_in_the_tree(session, aloop):
    window = session.window
    search(session, aloop, "name:legacy")
    tab = window.search.tab
    tab.view.setFocus()
    tab.view.setCurrentIndex(tab.proxy.index(0, 0))
    QTest.keyClick(tab.view, Qt.Key.Key_Return)
    assert [n.name for n in window.tree.selected_nodes()] == ["legacy-erp"]


def test_completion_offers_fields_then_values(session):
    session.window.search.search_action.trigger()
    bar = session.window.search.tab.query_bar
    bar.setText("sta")
    bar.setCursorPosition(3)
    assert bar.show_completions() == ["state:"]
    bar.accept_completion("state:")
    assert bar.text() == "state:"
    offered = bar.show_completions()
    assert "state:running" in offered and "state:paused" in offered
    bar.setText("state:running AND host:")
    bar.setCursorPosition(len(bar.text()))
    host_name = session.window.inventory.host_name(session.conn_id)
    assert bar.show_completions() == [f"host:{host_name}" if " " not in host_name
                                      else f'host:"{host_name}"']


def test_a_saved_search_survives_a_restart(qtbot, qapp, aloop, config_dir):
    first = open_session(aloop, qapp)
    try:
        search(first, aloop, "state:running AND vcpus>=4")
        tab = first.window.search.tab
        tab.group_box.setCurrentIndex(tab.group_box.findData("host"))
        assert first.window.search.save_current("Busy runners")
        assert first.window.search.saved_view.names() == ["Busy runners"]
    finally:
        close_session(aloop, first)
    stored = json.loads((config_dir / "searches.json").read_text())
    assert stored["version"] == 1 and stored["searches"][0]["query"] == \
        "state:running AND vcpus>=4"

    second = open_session(aloop, qapp)
    try:
        view = second.window.search.saved_view
        assert view.names() == ["Busy runners"]
        assert view.root.text(0) == "Saved Searches (1)"
        view.open_named("Busy runners")
        tab = second.window.search.tab
        assert second.window.tabs.currentWidget() is tab
        assert tab.query_bar.text() == "state:running AND vcpus>=4"
        host = second.window.inventory.host_name(second.conn_id)
        assert names(tab.shown_rows()) == [f"{host} (4)", "ci-runner-1", "ci-runner-3",
                                           "db-primary", "k8s-worker-1"]
    finally:
        close_session(aloop, second)


def test_rename_and_delete_in_the_navigation_pane(session, aloop):
    ui = session.window.search
    search(session, aloop, "state:paused")
    assert ui.save_current("Paused")
    search(session, aloop, "state:off")
    ui.tab.opened_name = ""
    assert ui.save_current("Off")
    ui.tab.opened_name = ""
    assert not ui.save_current("off"), "names are unique, ignoring case"
    view = ui.saved_view
    item = view.root.child(0)
    item.setText(0, "Paused VMs")                     # what an edit in place does
    assert view.names() == ["Paused VMs", "Off"]
    assert ui.store.get("Paused VMs").query == "state:paused"
    view.delete("Off")
    assert view.names() == ["Paused VMs"]


def test_export_then_import_round_trip(session, aloop, tmp_path, config_dir):
    ui = session.window.search
    search(session, aloop, "tag:web OR name:web")
    ui.tab.group_box.setCurrentIndex(ui.tab.group_box.findData("tag"))
    assert ui.save_current("Web")
    search(session, aloop, "mem>=8G")
    ui.tab.group_box.setCurrentIndex(ui.tab.group_box.findData(""))
    ui.tab.opened_name = ""
    assert ui.save_current("Big")
    exported = tmp_path / "exported.json"
    assert ui.export_to(str(exported)) == 2
    document = json.loads(exported.read_text())
    assert document["format"] == "hvconsole-searches" and document["version"] == 1

    for name in ("Web", "Big"):
        ui.saved_view.delete(name)
    ui.store.save(ui.tab.current_search("Big"))       # one name already in use
    assert ui.import_from(str(exported)) == ["Web", "Big (2)"]
    assert ui.saved_view.names() == ["Big", "Web", "Big (2)"]
    web = ui.store.get("Web")
    assert (web.query, web.group_by) == ("tag:web OR name:web", "tag")
    ui.saved_view.open_named("Big (2)")
    assert names(ui.tab.shown_rows()) == ["db-primary", "db-replica", "k8s-worker-1",
                                          "win11-desktop"]


def test_an_unusable_import_is_refused_with_a_reason(session, tmp_path):
    ui = session.window.search
    warnings = []
    ui.show_warning = lambda title, text: warnings.append(text)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "hvconsole-searches", "version": 99, "searches": []}')
    assert ui.import_from(str(bad)) == []
    assert "newer HVConsole" in warnings[-1]
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({"format": "hvconsole-searches", "version": 1, "searches": [
        {"name": "Good", "query": "state:running"}, {"name": "Broken", "query": "(a"}]}))
    assert ui.import_from(str(mixed)) == ["Good"]
    assert "“Broken”: this “(” is not closed" in warnings[-1]


def test_shut_down_the_results_of_a_search_with_one_confirmation(session, aloop):
    """The issue's bulk story on the demo lab: the running CI runners and k8s nodes, shut
    down from the search's "Act on Results" menu; one question names how many and where."""
    window = session.window
    asked = []
    window.commands.ctx.prompter.confirm = \
        lambda title, text, verb: asked.append((title, text)) or True
    rows = search(session, aloop, "state:running AND (name:ci OR name:k8s)")
    assert names(rows) == ["ci-runner-1", "ci-runner-3", "k8s-master", "k8s-worker-1"]
    tab = window.search.tab
    assert tab.act_button.isEnabled()
    tab.act_menu.aboutToShow.emit()
    entries = {a.text().replace("&", ""): a for a in tab.act_menu.actions()
               if not a.isSeparator()}
    assert not entries["Start"].isEnabled(), "all four are running already"
    entries["Force Shut Down"].trigger()
    host = window.inventory.host_name(session.conn_id)
    assert len(asked) == 1
    assert asked[0][1].startswith(f"Force shut down 4 VMs on {host}")
    aloop.run_until_complete(wait_until(lambda: tab.shown_rows() == [], timeout=10))
    # ci-runner-3 is transient: forced off, it is gone from the host and from the search.
    assert names(search(session, aloop, "name:ci OR name:k8s")) == [
        "ci-runner-1", "ci-runner-2", "k8s-master", "k8s-worker-1"]
    assert {row[1] for row in tab.shown_rows()} == {"Shut off"}


def test_right_click_acts_on_the_selected_results_only(session, aloop):
    window = session.window
    asked = []
    window.commands.ctx.prompter.confirm = \
        lambda title, text, verb: asked.append(text) or True
    search(session, aloop, "name:web")
    tab = window.search.tab
    flags = tab.view.selectionModel().SelectionFlag
    tab.view.selectionModel().select(tab.proxy.index(1, 0), flags.Select | flags.Rows)
    assert [n.name for n in tab.selected_nodes()] == ["web-02"]
    tab._context_menu(tab.view.visualRect(tab.proxy.index(1, 0)).center())
    menu = tab.last_context_menu
    pause = next(a for a in menu.actions() if a.text().replace("&", "") == "Pause")
    pause.trigger()
    aloop.run_until_complete(wait_until(
        lambda: {r[0]: r[1] for r in tab.shown_rows()} == {"web-01": "Running",
                                                           "web-02": "Paused"}))


def test_sorted_by_a_column_the_results_stay_sorted_when_the_query_changes(session, aloop):
    tab = session.window.search.tab
    search(session, aloop, "name:web OR name:db")
    tab.view.sortByColumn(4, Qt.SortOrder.DescendingOrder)     # Memory
    assert [(r[0], r[4]) for r in tab.shown_rows()] == [
        ("db-primary", "8 GiB"), ("db-replica", "8 GiB"), ("web-01", "2 GiB"),
        ("web-02", "2 GiB")]
    rows = search(session, aloop, "name:web OR name:db OR name:monitoring")
    assert [r[0] for r in rows][:2] == ["db-primary", "db-replica"]
    assert [r[0] for r in rows][2] == "monitoring"       # 3 GiB, between 8 and 2


def test_search_over_libvirts_default_test_host(qtbot, qapp, aloop, config_dir):
    """libvirt's built-in test:///default (one running VM called "test")."""
    session = open_session(aloop, qapp, uri="test:///default", vms=1)
    window = session.window
    conn_id = session.conn_id
    try:
        assert search(session, aloop, "state:running AND os:hvm")[0][:3] == [
            "test", "Running", window.inventory.host_name(conn_id)]
        assert search(session, aloop, "mem>=8G OR state:paused") == []
        assert window.search.tab.status.text() == "0 VMs match “mem>=8G OR state:paused”."
    finally:
        close_session(aloop, session)


def test_the_search_tab_comes_back_as_it_was_left(qtbot, qapp, aloop, config_dir):
    first = open_session(aloop, qapp)
    try:
        search(first, aloop, "state:running AND mem>=4G")
        tab = first.window.search.tab
        tab.group_box.setCurrentIndex(tab.group_box.findData("state"))
        tab.column_actions["tags"].setChecked(False)
        tab.view.header().resizeSection(0, 333)
        first.window.close()                # the window's closing remembers the tab
    finally:
        close_session(aloop, first)
    second = open_session(aloop, qapp, forget=False)
    try:
        second.window.search.show_search()
        tab = second.window.search.tab
        assert tab.query_bar.text() == "state:running AND mem>=4G"
        assert tab.group_box.currentData() == "state"
        headers = [tab.proxy.headerData(c, Qt.Orientation.Horizontal)
                   for c in range(tab.proxy.columnCount())]
        assert headers == ["Name", "State", "Server", "CPU", "Memory", "Folder"]
        assert tab.view.header().sectionSize(0) == 333
        aloop.run_until_complete(wait_until(
            lambda: names(tab.shown_rows())[:2] == ["Running (6)", "ci-runner-1"]))
    finally:
        close_session(aloop, second)


def test_completion_by_keys_alone(session, qtbot):
    """Type "ta", Down, Enter: the popup's choice replaces the word; then the values."""
    window = session.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.search.search_action.trigger()
    bar = window.search.tab.query_bar
    bar.clear()
    QTest.keyClicks(bar, "ta")
    popup = bar.completer_popup.popup()
    qtbot.waitUntil(popup.isVisible)
    QTest.keyClick(popup, Qt.Key.Key_Down)
    QTest.keyClick(popup, Qt.Key.Key_Return)
    assert bar.text() == "tag:"
    QTest.keyClicks(bar, "x")     # no tag starts with x in the demo lab: nothing offered
    assert bar.text() == "tag:x"
    assert bar.show_completions() == []
