"""The console widgets offscreen, fed by a scripted RFB server over a real socket: the
view paints the framebuffer (scaled and 1:1), keys and clicks become RFB messages, the
overlay follows the session's state, Send Key, screenshots, undock and dock."""
from __future__ import annotations

import asyncio
import struct

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from app.console_session import ConsoleSession
from connectors.console.rfb import messages as m
from connectors.console.rfb.client import RfbClient
from connectors.console.state import ConsoleError, ConsoleState
from tests.conftest import wait_until
from tests.unit.rfb_helpers import ScriptedServer, bgrx, handshake_38, rect, update

W, H = 64, 48


def picture() -> bytes:
    """Left half red, right half blue; QEMU's extended key event offered."""
    left = rect(0, 0, W // 2, H, m.ENC_RAW, bgrx(255, 0, 0) * (W // 2 * H))
    right = rect(W // 2, 0, W // 2, H, m.ENC_RAW, bgrx(0, 0, 255) * (W // 2 * H))
    return handshake_38(W, H) + update(rect(0, 0, 0, 0, m.ENC_QEMU_EXTENDED_KEY_EVENT),
                                       left, right)


@pytest.fixture
def live(aloop, qtbot):
    """(session, server): a session connected to a scripted server that stays open."""
    servers: list[ScriptedServer] = []

    async def opener():
        server = ScriptedServer(picture(), eof=False)
        servers.append(server)
        client = RfbClient(server)
        await client.connect()
        return client

    session = ConsoleSession(opener, title="scripted vm")
    session.keep_connected()
    aloop.run_until_complete(wait_until(lambda: session.connected
                                        and session.client.frames > 0))
    yield session, servers
    aloop.run_until_complete(session.stop())


def sent_messages(server: ScriptedServer) -> bytes:
    return server.received()


def test_view_paints_the_framebuffer_one_to_one_and_scaled(aloop, qtbot, live):
    from widgets.console.pane import ConsolePane
    session, _ = live
    pane = ConsolePane(session)
    qtbot.addWidget(pane)
    pane.resize(400, 300)
    pane.show()
    qtbot.waitExposed(pane)
    assert pane.stack.currentWidget() is pane.scroller
    pane.set_fit(False)
    aloop.run_until_complete(asyncio.sleep(0.05))
    image = pane.view.grab().toImage()
    assert (image.width(), image.height()) == (W, H)
    assert image.pixelColor(5, 5) == QColor(255, 0, 0)
    assert image.pixelColor(W - 5, 5) == QColor(0, 0, 255)
    pane.set_fit(True)
    aloop.run_until_complete(asyncio.sleep(0.05))
    view = pane.view
    r = view.screen_rect()
    assert r.width() > W  # scaled up to fit
    image = view.grab().toImage()
    assert image.pixelColor(int(r.x() + r.width() * 0.25), int(r.center().y())) == QColor(255, 0, 0)
    assert image.pixelColor(int(r.x() + r.width() * 0.75), int(r.center().y())) == QColor(0, 0, 255)


def test_keys_and_clicks_become_rfb_messages(aloop, qtbot, live):
    from widgets.console.view import ConsoleView
    session, servers = live
    view = ConsoleView(session)
    qtbot.addWidget(view)
    view.resize(W, H)
    view.set_fit(False)
    view.show()
    qtbot.waitExposed(view)
    sent_messages(servers[-1])  # drop the handshake and update requests
    QTest.keyClick(view, Qt.Key.Key_A)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(10, 20))
    aloop.run_until_complete(asyncio.sleep(0.1))
    data = sent_messages(servers[-1])
    keys = [struct.unpack(">BBHII", data[i:i + 12]) for i in range(len(data))
            if data[i:i + 2] == b"\xff\x00"]
    assert [(k[2], k[4]) for k in keys[:2]] == [(1, 0x1E), (0, 0x1E)]  # scancode of A
    assert struct.pack(">BBHH", 5, 1, 10, 20) in data   # left button down at (10, 20)
    assert struct.pack(">BBHH", 5, 0, 10, 20) in data
    view.release_grab()


def test_send_key_menu_sends_ctrl_alt_del(aloop, qtbot, live):
    from widgets.console.pane import ConsolePane
    session, servers = live
    pane = ConsolePane(session)
    qtbot.addWidget(pane)
    sent_messages(servers[-1])
    pane.send_key_actions["Ctrl+Alt+Del"].trigger()
    aloop.run_until_complete(asyncio.sleep(0.1))
    data = sent_messages(servers[-1])
    codes = [struct.unpack(">BBHII", data[i:i + 12]) for i in range(0, len(data), 12)]
    assert [(c[2], c[4]) for c in codes] == [(1, 0x1D), (1, 0x38), (1, 0xD3),
                                             (0, 0xD3), (0, 0x38), (0, 0x1D)]


def test_screenshot_is_the_full_resolution_framebuffer(aloop, qtbot, live, tmp_path):
    from PIL import Image

    from widgets.console.pane import save_png
    session, _ = live
    path = tmp_path / "shot.png"
    assert save_png(session, str(path))
    image = Image.open(path)
    assert image.size == (W, H)
    assert image.getpixel((1, 1)) == (255, 0, 0) and image.getpixel((W - 1, H - 1)) == (0, 0, 255)


def test_overlay_says_why_and_reconnect_comes_back(aloop, qtbot):
    from widgets.console.pane import ConsolePane
    attempts = []

    async def opener():
        attempts.append(1)
        if len(attempts) == 1:
            return None  # the VM is off
        if len(attempts) == 2:
            raise ConsoleError("Cannot reach 127.0.0.1:1: Connection refused.")
        client = RfbClient(ScriptedServer(picture()))  # closes after the picture
        await client.connect()
        return client

    session = ConsoleSession(opener, title="flaky")
    pane = ConsolePane(session)
    qtbot.addWidget(pane)
    pane.show()
    states = []
    session.statusChanged.connect(lambda s: states.append((s.state, pane.overlay.label.text(),
                                                           pane.overlay.start_button.isVisible())))
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(lambda: len(states) >= 4 and any(
            s[0] is ConsoleState.CONNECTED for s in states), 10))
        aloop.run_until_complete(wait_until(
            lambda: states[-1][0] is ConsoleState.DISCONNECTED, 10))
    finally:
        aloop.run_until_complete(session.stop())
    kinds = [s[0] for s in states]
    assert ConsoleState.VM_NOT_RUNNING in kinds
    not_running = next(s for s in states if s[0] is ConsoleState.VM_NOT_RUNNING)
    assert not_running[1] == "The VM is not running." and not_running[2]
    refused = next(s for s in states if s[0] is ConsoleState.DISCONNECTED)
    assert "Connection refused" in refused[1] and not refused[2]
    assert any("closed the connection" in s[1] for s in states)


def test_the_undocked_window_shows_the_picture_and_docks_back(aloop, qtbot):
    from app.inventory import InventoryModel
    from widgets.tabs.console import ConsoleTab

    tab = ConsoleTab(manager=None, inventory=InventoryModel())
    qtbot.addWidget(tab)

    async def opener():
        client = RfbClient(ScriptedServer(picture(), eof=False))
        await client.connect()
        return client

    session = ConsoleSession(opener, title="dockable")
    from widgets.console.pane import ConsolePane
    pane = ConsolePane(session)
    tab.target = ("conn", "key")
    tab._show(pane, session)
    tab.show()
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(lambda: session.connected))
        tab.undock()
        window = tab.undocked[("conn", "key")]
        assert pane.window() is window and window.isVisible()
        assert tab.stack.currentWidget() is tab.placeholder
        # The window shows the picture (left red, right blue), not an empty grey box.
        # (tests/integration/test_console_windows.py compares it with a real guest's.)
        image = window.grab().toImage()
        shown = pane.view.screen_rect()
        origin = pane.view.mapTo(window, QPoint(0, 0))
        y = origin.y() + int(shown.center().y())
        assert image.pixelColor(origin.x() + int(shown.x() + shown.width() * 0.25),
                                y) == QColor(255, 0, 0)
        assert image.pixelColor(origin.x() + int(shown.x() + shown.width() * 0.75),
                                y) == QColor(0, 0, 255)
        window.close()
        assert tab.pane is pane and tab.stack.currentWidget() is pane
        assert session.connected
    finally:
        aloop.run_until_complete(session.stop())


def test_reconnect_button_connects_again_after_a_stop(aloop, qtbot, live):
    from widgets.console.pane import ConsolePane
    session, servers = live
    pane = ConsolePane(session)
    qtbot.addWidget(pane)
    pane.show()
    aloop.run_until_complete(session.stop())
    assert pane.overlay.label.text() == "Disconnected: the console was closed."
    assert pane.overlay.reconnect_button.isVisibleTo(pane)
    pane.overlay.reconnect_button.click()
    aloop.run_until_complete(wait_until(lambda: session.connected))
    assert len(servers) == 2


def test_many_damaged_stripes_are_all_repainted_and_nothing_else(aloop, qtbot, live):
    """A SPICE text screen arrives as dozens of row-wide pieces a frame; the view asks
    for one repaint of their bounding box. Read back from the window's own backing store
    (not grab(), which repaints everything): every stripe shows, and a change outside
    them that nobody reported does not."""
    from widgets.console.view import MAX_UPDATE_RECTS, ConsoleView, bounding_rect
    session, _ = live
    view = ConsoleView(session)
    view.set_fit(False)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    fb = session.framebuffer
    fb.take_damage()

    def shown():
        return view.screen().grabWindow(view.winId()).toImage()
    aloop.run_until_complete(wait_until(lambda: shown().pixel(2, 0) == 0xFFFF0000))
    green, unreported = 0xFF00FF00, 0xFFFFFF00
    stripes = [(y, 4 + y % 7) for y in range(0, 40, 2)]      # 20 pieces, x varies
    assert len(stripes) > MAX_UPDATE_RECTS
    for y, x in stripes:
        fb.words[y, x:x + 8] = green
        fb.add_damage_xywh(x, y, 8, 1)
    fb.words[46, 60] = unreported                            # below the bounding box
    assert bounding_rect(fb.damage).h == 39
    session.frameUpdated.emit()
    aloop.run_until_complete(wait_until(
        lambda: all(shown().pixel(x, y) == green for y, x in stripes)))
    image = shown()
    assert image.pixel(60, 46) != unreported
    assert image.pixel(2, 0) == 0xFFFF0000                   # the untouched red half
