"""What the user sees around the console's screen, offscreen with a scripted RFB server
(test_console_view's red and blue picture): the hint on the screen in the main window at
its default width and at 1024 px, the title while the grab lasts, the toolbar's overflow
menu at narrow widths, fullscreen and Ctrl+Alt+Enter, and keys the main window's shortcuts
no longer take from the guest."""
from __future__ import annotations

import argparse
import asyncio
import struct

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolButton

from app.console_session import ConsoleSession
from connectors.console.rfb.client import RfbClient
from tests.conftest import wait_until
from tests.unit.rfb_helpers import ScriptedServer
from tests.widgets.test_console_view import picture
from widgets.console.hint import GRABBED_HINT, RELEASED_HINT

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier


@pytest.fixture
def scripted(aloop):
    """(session, servers): a session on scripted servers that stay open (not started)."""
    servers: list[ScriptedServer] = []

    async def opener():
        server = ScriptedServer(picture(), eof=False)
        servers.append(server)
        client = RfbClient(server)
        await client.connect()
        return client

    session = ConsoleSession(opener, title="scripted vm")
    yield session, servers
    aloop.run_until_complete(session.stop())


def connect(aloop, session) -> None:
    session.keep_connected()
    aloop.run_until_complete(wait_until(lambda: session.connected
                                        and session.client.frames > 0))


def key_events(server: ScriptedServer) -> list[tuple[int, int]]:
    """(down, scancode) of every QEMU extended key event the server received."""
    data = server.received()
    return [(down, code) for i in range(len(data)) if data[i:i + 2] == b"\xff\x00"
            for _msg, _sub, down, _sym, code in [struct.unpack(">BBHII", data[i:i + 12])]]


@pytest.fixture
def main_window(qtbot, qapp, aloop):
    """The real main window, no server connected."""
    from widgets.launcher import Session
    qapp.setQuitOnLastWindowClosed(False)
    app = Session(argparse.Namespace(connect=[], show_domain=None, screenshot=None,
                                     debug=False))
    window = app.build()
    window.show()
    yield window
    aloop.run_until_complete(app.shutdown())
    window.close()
    window.deleteLater()


def console_in(window, session):
    """The Console tab of ``window`` showing ``session`` (as selecting a VM does)."""
    from widgets.console.pane import ConsolePane
    tab = window.console_tab
    window.tabs.setCurrentWidget(tab)
    pane = ConsolePane(session)
    tab.target = ("conn", "vm")
    tab._show(pane, session)
    return pane


def hint_is_readable(pane) -> bool:
    """The hint is on the screen area, whole (one line, not cut), and drawn over it."""
    hint = pane.hint
    if not hint.isVisibleTo(pane.window()):
        return False
    inside = pane.screen_area.rect().contains(hint.geometry())
    whole = hint.contentsRect().width() >= hint.fontMetrics().horizontalAdvance(hint.text())
    image = pane.window().grab().toImage()
    centre = hint.mapTo(pane.window(), hint.rect().center())
    row = [image.pixelColor(x, centre.y()).lightness()
           for x in range(centre.x() - hint.width() // 2 + 2, centre.x() + hint.width() // 2 - 2)]
    return inside and whole and max(row) > 200   # white letters on the dark label


@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)])
def test_the_hint_is_on_the_screen_at_the_main_windows_widths(aloop, qtbot, main_window,
                                                              scripted, size):
    session, _servers = scripted
    main_window.resize(*size)
    pane = console_in(main_window, session)
    qtbot.waitExposed(main_window)
    connect(aloop, session)
    assert pane.hint.text() == RELEASED_HINT
    assert hint_is_readable(pane)
    assert "mouse and keyboard" in pane.hint.text()
    # Every toolbar action is on the toolbar itself or in its overflow menu.
    assert reachable(pane) == expected_actions(pane)


def test_the_hint_goes_and_comes_back_when_the_pointer_enters(aloop, qtbot, scripted):
    from widgets.console import hint as hint_module
    session, _ = scripted
    pane = shown_pane(qtbot, session, (500, 400))
    connect(aloop, session)
    assert pane.hint.isVisible()
    pane.hint._timer.setInterval(10)      # instead of waiting HINT_MS
    pane.hint._timer.start()
    aloop.run_until_complete(wait_until(lambda: not pane.hint.isVisible()))
    pane.hint._timer.setInterval(hint_module.HINT_MS)
    pane.view.pointerEntered.emit()       # what entering the screen sends
    assert pane.hint.isVisible() and pane.hint.text() == RELEASED_HINT


def test_while_grabbed_the_title_and_hint_say_how_to_get_out(aloop, qtbot, scripted):
    from widgets.console.window import ConsoleWindow
    from widgets.console.pane import ConsolePane
    session, _ = scripted
    window = ConsoleWindow(ConsolePane(session, can_undock=False), "scripted vm")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    connect(aloop, session)
    view = window.pane.view
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert view.grabbed
    assert window.windowTitle() == "scripted vm (Ctrl+Alt releases mouse and keyboard)"
    assert window.pane.hint.isVisible() and window.pane.hint.text() == GRABBED_HINT
    QTest.keyPress(view, Qt.Key.Key_Control)
    QTest.keyPress(view, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier)
    QTest.keyRelease(view, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier)
    QTest.keyRelease(view, Qt.Key.Key_Control)
    assert not view.grabbed
    assert window.windowTitle() == "scripted vm"
    assert window.pane.hint.text() == RELEASED_HINT


# ---- the toolbar's overflow ----

def shown_pane(qtbot, session, size):
    from widgets.console.pane import ConsolePane
    pane = ConsolePane(session)
    qtbot.addWidget(pane)
    pane.resize(*size)
    pane.show()
    qtbot.waitExposed(pane)
    return pane


def overflow_menu(pane):
    button = pane.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
    return button.menu() if button is not None and button.isVisible() else None


def expected_actions(pane) -> set[str]:
    return {a.text() for a in pane.toolbar.actions()
            if a.isVisible() and a.text()}


def reachable(pane) -> set[str]:
    """The texts of the actions the user can reach: on a visible toolbar button, or in
    the overflow menu (») when there is one."""
    on_bar = {b.defaultAction().text() for b in pane.toolbar.findChildren(QToolButton)
              if b.isVisible() and b.defaultAction() is not None}
    menu = overflow_menu(pane)
    hidden = {a.text() for a in menu.actions() if a.isVisible()} if menu else set()
    return (on_bar | hidden) & expected_actions(pane)


@pytest.mark.parametrize("width", [700, 420, 150])
def test_at_narrow_widths_every_action_is_in_the_overflow_menu(aloop, qtbot, scripted,
                                                               width):
    session, _servers = scripted
    pane = shown_pane(qtbot, session, (width, 400))
    connect(aloop, session)
    assert {"Send Key", "Scale to fit", "Fullscreen", "Type clipboard", "Screenshot…",
            "Undock"} == expected_actions(pane)
    assert reachable(pane) == expected_actions(pane)
    menu = overflow_menu(pane)
    assert (menu is None) == (width == 700)
    if width == 150:
        hidden = {a.text(): a for a in menu.actions() if a.isVisible()}
        assert {"Scale to fit", "Fullscreen", "Undock"} <= set(hidden)
        hidden["Scale to fit"].trigger()          # chosen in the menu: 1:1
        assert not pane.view.fit and not pane.scale_action.isChecked()
        hidden["Fullscreen"].trigger()
        assert pane.fullscreen is not None
        pane.set_fullscreen(False)


# ---- fullscreen ----

def test_ctrl_alt_enter_toggles_fullscreen_and_the_enter_stays_out_of_the_guest(
        aloop, qtbot, scripted):
    session, servers = scripted
    pane = shown_pane(qtbot, session, (500, 400))
    connect(aloop, session)
    servers[-1].received()
    QTest.keyClick(pane.view, Qt.Key.Key_Return, CTRL_ALT)
    full = pane.fullscreen
    assert full is not None and full.isFullScreen() and pane.fullscreen_action.isChecked()
    screen = full.screen().geometry()
    assert full.geometry() == screen and pane.view.size() == screen.size()
    image = full.grab().toImage()
    shown = pane.view.screen_rect()
    middle = int(shown.center().y())
    assert image.pixelColor(int(shown.x() + shown.width() * 0.25), middle) == QColor(255, 0, 0)
    assert image.pixelColor(int(shown.x() + shown.width() * 0.75), middle) == QColor(0, 0, 255)
    assert pane.fullscreen_placeholder.isVisibleTo(pane)
    assert "Ctrl+Alt+Enter" in full.bar.toolbar.actions()[-1].text()
    QTest.keyClick(pane.view, Qt.Key.Key_Return, CTRL_ALT)
    assert pane.fullscreen is None and not pane.fullscreen_action.isChecked()
    assert pane.view.window() is pane and pane.screen_area.isVisibleTo(pane)
    assert not pane.fullscreen_placeholder.isVisibleTo(pane)
    aloop.run_until_complete(asyncio.sleep(0.1))
    assert 0x1C not in {code for _down, code in key_events(servers[-1])}  # no Enter


def test_the_bar_and_closing_the_window_leave_fullscreen(aloop, qtbot, scripted):
    from PySide6.QtGui import QCursor
    session, servers = scripted
    pane = shown_pane(qtbot, session, (500, 400))
    connect(aloop, session)
    pane.fullscreen_action.trigger()
    full = pane.fullscreen
    assert full.bar.isVisible()
    # The bar goes after a moment with the pointer elsewhere, and comes back at the top.
    QCursor.setPos(full.geometry().center())
    full._hide_timer.setInterval(10)
    aloop.run_until_complete(wait_until(lambda: not full.bar.isVisible(), 10))
    QCursor.setPos(full.mapToGlobal(QPoint(full.width() // 2, 0)))
    aloop.run_until_complete(wait_until(full.bar.isVisible, 10))
    send = full.bar.toolbar.actions()[0]
    assert send is pane.send_key_action          # Send Key from the bar
    servers[-1].received()
    pane.send_key_actions["Ctrl+Alt+Del"].trigger()
    aloop.run_until_complete(asyncio.sleep(0.1))
    assert key_events(servers[-1])[:1] == [(1, 0x1D)]
    full.leave_action.trigger()                  # "Leave Fullscreen" on the bar
    assert pane.fullscreen is None and pane.view.window() is pane
    pane.fullscreen_action.trigger()
    pane.fullscreen.close()                      # the window manager closes it
    assert pane.fullscreen is None and pane.view.window() is pane
    assert session.connected


def test_fullscreen_works_from_an_undocked_window_and_returns_there(aloop, qtbot,
                                                                    scripted):
    from widgets.console.pane import ConsolePane
    from widgets.console.window import ConsoleWindow
    session, _ = scripted
    window = ConsoleWindow(ConsolePane(session, can_undock=False), "scripted vm")
    qtbot.addWidget(window)
    window.show()
    connect(aloop, session)
    pane = window.pane
    pane.fullscreen_action.trigger()
    assert pane.view.window() is pane.fullscreen and not window.isFullScreen()
    pane.fullscreen_action.trigger()
    assert pane.view.window() is window and window.isVisible()
    assert not [w for w in QApplication.topLevelWidgets()
                if w.isVisible() and w.isFullScreen()]


# ---- keys belong to the guest ----

def test_the_main_windows_shortcuts_leave_the_consoles_keys_alone(aloop, qtbot,
                                                                 main_window, scripted):
    session, servers = scripted
    pane = console_in(main_window, session)
    qtbot.waitExposed(main_window)
    connect(aloop, session)
    main_window.activateWindow()
    pane.view.setFocus()
    servers[-1].received()
    QTest.keyClick(pane.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    aloop.run_until_complete(asyncio.sleep(0.1))
    assert not main_window.filter_edit.hasFocus()
    assert (1, 0x21) in key_events(servers[-1])      # F reached the guest
