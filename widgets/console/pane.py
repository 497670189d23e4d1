"""ConsolePane: a ConsoleView with its toolbar (Send Key, scaling, fullscreen, paste,
screenshot, undock) and an overlay for every state that is not a live screen."""
from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QMenu,
                               QPushButton, QScrollArea, QSizePolicy, QStackedLayout,
                               QToolBar, QToolButton, QVBoxLayout, QWidget)

from app.console import ConsoleSession, safe_file_name
from connectors.console import keymap
from connectors.console.state import ConsoleState, ConsoleStatus
from widgets.console.view import ConsoleView

MAX_PASTE_CHARS = 20_000


def save_png(session: ConsoleSession, path: str) -> bool:
    """The framebuffer at full resolution as a PNG (not the scaled widget)."""
    from PIL import Image
    try:
        Image.fromarray(session.framebuffer.rgb()).save(path, "PNG")
    except (OSError, ValueError):
        return False
    return True


class StateOverlay(QFrame):
    """Says why there is no live screen, with the button that helps."""

    startRequested = Signal()
    reconnectRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consoleOverlay")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#consoleOverlay { background: #202020; } "
                           "QLabel { color: #e0e0e0; font-size: 14pt; }")
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.start_button = QPushButton("Start the VM")
        self.start_button.clicked.connect(self.startRequested)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.clicked.connect(self.reconnectRequested)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.reconnect_button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addStretch()
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        layout.addStretch()

    def show_status(self, status: ConsoleStatus) -> None:
        self.label.setText(status.text)
        self.start_button.setVisible(status.state is ConsoleState.VM_NOT_RUNNING)
        self.reconnect_button.setVisible(status.state is ConsoleState.DISCONNECTED)


class ConsolePane(QWidget):
    undockRequested = Signal()
    startRequested = Signal()

    def __init__(self, session: ConsoleSession, parent: QWidget | None = None, *,
                 can_undock: bool = True) -> None:
        super().__init__(parent)
        self.session = session
        self.view = ConsoleView(session)
        self.scroll = QScrollArea()
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setStyleSheet("QScrollArea { background: black; }")
        self.scroll.setWidget(self.view)
        self.scroll.setWidgetResizable(True)
        self.overlay = StateOverlay()
        self.overlay.startRequested.connect(self.startRequested)
        self.overlay.reconnectRequested.connect(session.reconnect)
        self.stack = QStackedLayout()
        self.stack.addWidget(self.scroll)
        self.stack.addWidget(self.overlay)
        self.hint = QLabel()
        self.hint.setObjectName("consoleHint")
        self.toolbar = self._build_toolbar(can_undock)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addLayout(self.stack, 1)
        session.statusChanged.connect(self._status_changed)
        self.view.grabChanged.connect(self._grab_changed)
        self._status_changed(session.status)
        self._grab_changed(False)

    def _build_toolbar(self, can_undock: bool) -> QToolBar:
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        send = QMenu("Send Key", self)
        self.send_key_actions: dict[str, QAction] = {}
        for label, keys in keymap.SEND_KEYS:
            action = send.addAction(label)
            action.triggered.connect(lambda _=False, k=keys: self.send_keys(k))
            self.send_key_actions[label] = action
        button = QToolButton()
        button.setText("Send Key")
        button.setMenu(send)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(button)
        self.scale_action = bar.addAction("Scale to fit")
        self.scale_action.setCheckable(True)
        self.scale_action.setChecked(True)
        self.scale_action.toggled.connect(self.set_fit)
        self.fullscreen_action = bar.addAction("Fullscreen")
        self.fullscreen_action.setCheckable(True)
        self.fullscreen_action.toggled.connect(self.set_fullscreen)
        self.paste_action = bar.addAction("Type clipboard")
        self.paste_action.setToolTip("Type the clipboard's text into the guest as keystrokes")
        self.paste_action.triggered.connect(self.paste_clipboard)
        self.screenshot_action = bar.addAction("Screenshot…")
        self.screenshot_action.triggered.connect(self.ask_screenshot)
        self.undock_action = bar.addAction("Undock")
        self.undock_action.triggered.connect(self.undockRequested)
        self.undock_action.setVisible(can_undock)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(self.hint)
        return bar

    # ---- actions ----

    def send_keys(self, keys) -> None:
        client = self.session.client
        if client is not None:
            client.send_combo(keys)
        self.view.setFocus()

    def paste_clipboard(self) -> None:
        client = self.session.client
        text = QGuiApplication.clipboard().text()
        if client is not None and text:
            client.type_text(text[:MAX_PASTE_CHARS])

    def set_fit(self, fit: bool) -> None:
        self.scroll.setWidgetResizable(fit)
        self.view.set_fit(fit)

    def set_fullscreen(self, on: bool) -> None:
        window = self.window()
        window.showFullScreen() if on else window.showNormal()

    def ask_screenshot(self) -> None:
        name = safe_file_name(self.session.title) + ".png"
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", name, "PNG (*.png)")
        if path:
            save_png(self.session, path)

    # ---- state ----

    def _status_changed(self, status: ConsoleStatus) -> None:
        live = status.state is ConsoleState.CONNECTED
        self.overlay.show_status(status)
        self.stack.setCurrentWidget(self.scroll if live else self.overlay)
        for action in (self.paste_action, *self.send_key_actions.values()):
            action.setEnabled(live)
        if live:
            self.view._resized()

    def _grab_changed(self, grabbed: bool) -> None:
        self.hint.setText("Press Ctrl+Alt to release the keyboard" if grabbed
                          else "Click in the screen to type into the VM")
