"""The window's layout comes back after a restart: the splitter, the tree's columns, the
split between the tree and the saved searches, and the tab that was showing — each
changed as a user would, the window closed, a new session started on the same settings."""
from __future__ import annotations

from app.inventory import STATE_COLUMN
from tests.conftest import wait_until
from tests.widgets.test_main_window import _args, _demo_uri, _vm_rows
from widgets.launcher import Session


def _open(aloop) -> Session:
    session = Session(_args())
    window = session.build()
    window.resize(1280, 800)
    window.show()
    uri, demo = _demo_uri()
    session.conn_id = session.manager.open(uri, save=False, demo=demo)
    aloop.run_until_complete(wait_until(
        lambda: window.geometry_keeper.placed and bool(_vm_rows(window.tree)), 15))
    return session


def _close(session: Session, aloop) -> None:
    session.window.close()          # closing saves the layout, as quitting does
    aloop.run_until_complete(session.shutdown())
    session.window.deleteLater()


def test_the_layout_survives_a_restart(qapp, aloop):
    qapp.setQuitOnLastWindowClosed(False)
    first = _open(aloop)
    window = first.window
    try:
        header = window.tree.header()
        header.resizeSection(STATE_COLUMN, 151)
        header.moveSection(header.visualIndex(STATE_COLUMN), header.count() - 1)
        total = sum(window.navigation.sizes())
        window.navigation.setSizes([total - 200, 200])
        panes = window.navigation.sizes()
        tree_width = window.splitter.sizes()[0] + 37
        window.splitter.setSizes([tree_width, sum(window.splitter.sizes()) - tree_width])
        window.tabs.setCurrentWidget(window.storage_tab)
    finally:
        _close(first, aloop)

    second = _open(aloop)
    window = second.window
    try:
        header = window.tree.header()
        assert header.sectionSize(STATE_COLUMN) == 151
        assert header.visualIndex(STATE_COLUMN) == header.count() - 1
        assert window.navigation.sizes() == panes
        assert window.splitter.sizes()[0] == tree_width
        assert window.tabs.currentWidget() is window.storage_tab
    finally:
        _close(second, aloop)
