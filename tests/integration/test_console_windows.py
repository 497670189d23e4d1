"""The Console tab's screen in the places a user moves it, on a real QEMU guest: undocked
into its own window and docked back, fullscreen from the tab and from the undocked
window, and back. Each time the pixels the window shows are compared with `virsh
screenshot`, as the Console tab's other tests compare the client's framebuffer."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.conftest import wait_until
from tests.integration.test_console_vnc import matches_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]


def window_pixels(window, widget) -> np.ndarray:
    """What ``window`` shows where ``widget`` is, as H x W x 3 RGB. Grabbed from the
    window, so a hidden child shows as the window's background and one covered by
    something else as what covers it."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtGui import QImage
    image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    image = image.copy(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))
    data = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())
    return data[:, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def as_the_view_shows(view):
    """The guest's screenshot as ``view`` should show it: at the view's size, scaled
    into the view's screen rectangle (1:1 when it does not scale), black around it."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter

    def expected(shot: np.ndarray) -> np.ndarray:
        h, w = shot.shape[:2]
        shot = np.ascontiguousarray(shot)
        source = QImage(shot.data, w, h, w * 3, QImage.Format.Format_RGB888).convertToFormat(
            QImage.Format.Format_RGB32)
        out = QImage(view.width(), view.height(), QImage.Format.Format_RGB32)
        out.fill(Qt.GlobalColor.black)
        target = view.screen_rect()
        painter = QPainter(out)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, target.width() < w)
        painter.drawImage(target, source, QRectF(0, 0, w, h))
        painter.end()
        out = out.convertToFormat(QImage.Format.Format_RGB888)
        data = np.frombuffer(out.constBits(), np.uint8).reshape(out.height(),
                                                                out.bytesPerLine())
        return data[:, :out.width() * 3].reshape(out.height(), out.width(), 3).copy()
    return expected


def fullscreen_windows() -> list:
    """The fullscreen consoles on the screen."""
    from PySide6.QtWidgets import QApplication

    from widgets.console.fullscreen import FullscreenConsole
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, FullscreenConsole) and w.isVisible()]


class ConsoleOnTab:
    """The app's stack on qemu:///system, and the Console tab showing one VM."""

    def __init__(self, aloop, qtbot, uri: str, guest) -> None:
        from tests.integration.app_stack import AppStack
        from widgets.tabs.console import ConsoleTab
        self.aloop, self.uri, self.guest = aloop, uri, guest
        self.stack = AppStack()
        conn_id = self.run(self.stack.open(uri))
        self.run(wait_until(lambda: self.stack.vm_node(guest.name) is not None, 30))
        self.tab = ConsoleTab(self.stack.manager, self.stack.inventory)
        qtbot.addWidget(self.tab)
        self.tab.resize(1000, 700)
        self.tab.show()
        qtbot.waitExposed(self.tab)
        self.tab.set_selection([self.stack.vm_node(guest.name)])
        self.key = (conn_id, guest.domain.UUIDString())
        self.session = self.tab.session
        self.run(wait_until(lambda: self.session.connected
                            and self.session.client.frames > 0, 60))

    def run(self, coroutine, timeout: float = 120):
        return self.aloop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def shows_the_guest(self, window, pane) -> tuple[bool, int]:
        """The pixels ``window`` shows over ``pane``'s screen equal the guest's screen."""
        # The hint over the screen goes after a moment; the user sees the picture then.
        self.run(wait_until(lambda: not pane.hint.isVisible(), 30))
        return self.run(matches_screenshot(
            self.session.client, self.uri, self.guest.name,
            picture=lambda: window_pixels(window, pane.view),
            expected=as_the_view_shows(pane.view)))

    def fullscreen_and_back(self, pane, window) -> None:
        """Fullscreen shows the guest's screen at the monitor's size; Ctrl+Alt+Enter
        brings it back to ``window``, where it shows the guest's screen again."""
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QCursor
        from PySide6.QtTest import QTest
        pane.fullscreen_action.trigger()
        full = pane.fullscreen
        assert full is not None and pane.fullscreen_action.isChecked()
        assert fullscreen_windows() == [full]
        screen = full.screen().geometry()
        assert full.isFullScreen() and full.geometry() == screen
        assert pane.view.window() is full
        assert (pane.view.width(), pane.view.height()) == (screen.width(), screen.height())
        fb = self.session.framebuffer
        shown = pane.view.screen_rect()
        assert round(shown.width()) == screen.width() or round(shown.height()) == screen.height()
        assert abs(shown.width() / shown.height() - fb.width / fb.height) < 0.01
        # The bar at the top goes once the pointer is elsewhere (in the middle here).
        QCursor.setPos(screen.center())
        self.run(wait_until(lambda: not full.bar.isVisible(), 30))
        matched, differing = self.shows_the_guest(full, pane)
        assert matched, f"fullscreen: {differing} pixels differ from virsh screenshot"
        QTest.keyClick(pane.view, Qt.Key.Key_Return,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        assert pane.fullscreen is None and not pane.fullscreen_action.isChecked()
        assert pane.view.window() is window and pane.screen_area.parent() is pane
        self.run(wait_until(lambda: not fullscreen_windows(), 30))
        assert self.session.connected
        matched, differing = self.shows_the_guest(window, pane)
        assert matched, f"after fullscreen: {differing} pixels differ from virsh screenshot"

    def close(self) -> None:
        self.tab.close_all()
        self.run(self.stack.close())


@pytest.fixture
def console(aloop, qtbot, booted_guest, libvirt_uri):
    console = ConsoleOnTab(aloop, qtbot, libvirt_uri, booted_guest)
    yield console
    console.close()


def test_the_undocked_window_shows_the_guests_screen_and_docks_back(console):
    tab, session = console.tab, console.session
    pane = tab.pane
    tab.undock()
    window = tab.undocked[console.key]
    assert pane.window() is window and window.isVisible()
    assert tab.stack.currentWidget() is tab.placeholder
    fb = session.framebuffer
    # The window takes the size of the guest's screen: scaled to fit, that is 1:1.
    console.run(wait_until(lambda: (pane.view.width(), pane.view.height())
                           == (fb.width, fb.height), 30))
    matched, differing = console.shows_the_guest(window, pane)
    assert matched, f"undocked: {differing} pixels differ from virsh screenshot"
    console.fullscreen_and_back(pane, window)
    assert pane.undock_action.text() == "Dock"
    window.close()
    assert tab.pane is pane and tab.stack.currentWidget() is pane
    assert pane.undock_action.text() == "Undock" and session.connected
    matched, differing = console.shows_the_guest(tab, pane)
    assert matched, f"docked again: {differing} pixels differ from virsh screenshot"


def test_fullscreen_from_the_tab_shows_the_guests_screen_and_comes_back(console):
    tab = console.tab
    matched, differing = console.shows_the_guest(tab, tab.pane)
    assert matched, f"docked: {differing} pixels differ from virsh screenshot"
    console.fullscreen_and_back(tab.pane, tab)
