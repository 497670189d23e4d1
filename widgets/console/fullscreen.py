"""FullscreenConsole: the VM's screen alone on a whole monitor, as XenCenter, virt-manager
and remote-viewer show it, with a small bar at the top that hides itself.

The pane lends its screen area (view, scroll area, state overlay, hint) to this window
and takes it back when fullscreen ends, so the console returns to where it was, docked
in the Console tab or in its own window, with the same connection. The window is a child
of the pane (a Qt.Window): it goes when the pane goes.

The bar shows for BAR_SHOW_MS on entering, then whenever the pointer touches the top
edge of the screen (a few pixels) or rests on the bar. The pointer is looked at on a
timer rather than through mouse events, because the widget under it may not track the
mouse (the state overlay), and a grabbed relative mouse never reaches the edge anyway:
Ctrl+Alt releases it first.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCursor, QKeySequence, QScreen
from PySide6.QtWidgets import (QApplication, QFrame, QHBoxLayout, QLabel, QToolBar,
                               QToolButton, QVBoxLayout, QWidget)

from widgets.console.view import FULLSCREEN_KEY_TEXT

BAR_SHOW_MS = 2500
EDGE_PX = 3
POLL_MS = 150
LEAVE_TEXT = f"Leave Fullscreen ({FULLSCREEN_KEY_TEXT})"


class FullscreenBar(QFrame):
    """The VM's name, Send Key, Type clipboard, and the way out."""

    def __init__(self, title: str, actions: list[QAction], leave: QAction,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("fullscreenBar")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#fullscreenBar { background: palette(window); "
                           "border: 1px solid palette(mid); border-top: none; "
                           "border-bottom-left-radius: 6px; "
                           "border-bottom-right-radius: 6px; }")
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold; padding: 0 8px;")
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in actions:
            self.toolbar.addAction(action)
            _instant_menu(self.toolbar, action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(leave)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.toolbar)


class FullscreenConsole(QWidget):
    leaveRequested = Signal()

    def __init__(self, screen_area: QWidget, title: str, actions: list[QAction],
                 parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(f"{title} — Console")
        self.setObjectName("fullscreenConsole")
        self.setStyleSheet("#fullscreenConsole { background: black; }")
        self.screen_area = screen_area
        layout = self._layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(screen_area)
        screen_area.show()
        self.leave_action = QAction(LEAVE_TEXT, self)
        self.leave_action.setToolTip("Show the console in its window again")
        # For when the focus is on the bar: the screen itself reports the keys (they
        # would go to the guest otherwise).
        self.leave_action.setShortcut(QKeySequence("Ctrl+Alt+Return"))
        self.leave_action.triggered.connect(self.leaveRequested)
        self.addAction(self.leave_action)
        self.bar = FullscreenBar(title, actions, self.leave_action, self)
        self._leaving = False
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(BAR_SHOW_MS)
        self._hide_timer.timeout.connect(self._hide_bar_unless_pointed_at)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._look_at_pointer)

    def show_on(self, screen: QScreen) -> None:
        """Cover ``screen`` (the one the console's window is on)."""
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.activateWindow()
        self.reveal_bar()
        self._poll.start()

    def take_area(self) -> QWidget:
        """Give the screen area back (leaving fullscreen); the window then closes."""
        self._poll.stop()
        self._layout.removeWidget(self.screen_area)
        return self.screen_area

    def leave(self) -> None:
        """Close without asking the pane again (it is leaving fullscreen itself)."""
        self._leaving = True
        self.close()

    # ---- the bar ----

    def reveal_bar(self) -> None:
        self._place_bar()
        self.bar.show()
        self.bar.raise_()
        self._hide_timer.start()

    def _place_bar(self) -> None:
        hint = self.bar.sizeHint()
        width = min(hint.width(), self.width())
        self.bar.setGeometry((self.width() - width) // 2, 0, width, hint.height())

    def _pointed_at(self) -> bool:
        where = self.mapFromGlobal(QCursor.pos())
        if not self.rect().contains(where):
            return False
        return where.y() <= EDGE_PX or (self.bar.isVisible()
                                        and self.bar.geometry().contains(where))

    def _look_at_pointer(self) -> None:
        if self._pointed_at():
            if not self.bar.isVisible():
                self.reveal_bar()
            else:
                self._hide_timer.start()

    def _hide_bar_unless_pointed_at(self) -> None:
        # An open Send Key menu keeps the bar (the pointer is on the menu, below it).
        if self._pointed_at() or QApplication.activePopupWidget() is not None:
            self._hide_timer.start()
            return
        self.bar.hide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_bar()

    def closeEvent(self, event) -> None:
        self._poll.stop()
        if not self._leaving:
            self._leaving = True
            self.leaveRequested.emit()
        super().closeEvent(event)


def _instant_menu(toolbar: QToolBar, action: QAction) -> None:
    """An action with a menu opens it at once (a split button would do nothing itself)."""
    if action.menu() is not None:
        button = toolbar.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

