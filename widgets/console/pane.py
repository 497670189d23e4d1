"""ConsolePane: a ConsoleView with its toolbar (Send Key, scaling, fullscreen, paste,
screenshot, undock, and VNC/SPICE when the VM has both) and an overlay for every state
that is not a live screen.

Every toolbar entry is a plain QAction (Send Key and the VNC/SPICE choice carry a menu):
a narrow pane moves what does not fit into the toolbar's overflow menu (»), which lists
actions only; a widget placed in the toolbar simply vanished there. How to use the
screen ("Click to use mouse and keyboard · Ctrl+Alt releases") is said on the screen
itself (widgets/console/hint.py), and in the window's title while the grab lasts, as
remote-viewer does.

Fullscreen lends the screen area to a FullscreenConsole window (widgets/console/
fullscreen.py) and takes it back; the pane keeps its place meanwhile.

With a SPICE guest agent the guest's resolution follows the pane's size and the clipboard
is shared both ways (plain text); without one, a quiet label says what the agent adds."""
from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QClipboard, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QMenu,
                               QPushButton, QScrollArea, QSizePolicy, QStackedLayout,
                               QToolBar, QToolButton, QVBoxLayout, QWidget)

from app import colours
from app.console_openers import PROTOCOL_NAMES, safe_file_name
from app.console_session import ConsoleSession
from connectors.console import keymap
from connectors.console.state import ConsoleState, ConsoleStatus
from widgets.appearance import follow_scheme
from widgets.console.fullscreen import FullscreenConsole
from widgets.console.hint import GRABBED_HINT, RELEASED_HINT, ConsoleHint
from widgets.console.view import FULLSCREEN_KEY_TEXT, ConsoleView
from widgets.keyboard_navigation import ensure_keys_in_tooltips

MAX_PASTE_CHARS = 20_000
MAX_CLIPBOARD_CHARS = 1 << 20
MESSAGE_MS = 8000            # how long "Forgot the password…" stays in the notice bar
FOLLOW_SIZE_DELAY_MS = 300   # a window being dragged larger asks the guest once it rests
NO_AGENT_TEXT = "No guest agent"
NO_AGENT_TIP = ("The SPICE agent (spice-vdagent) is not running in this guest. With it, "
                "the guest's resolution would follow this window and the clipboard would "
                "be shared between the guest and this desktop.")
AGENT_TEXT = "Guest agent"
AGENT_TIP = ("The SPICE agent is running in the guest: its resolution follows this window "
             "and the clipboard is shared (text).")
GRABBED_TITLE = " (Ctrl+Alt releases mouse and keyboard)"
FULLSCREEN_PLACEHOLDER = (f"The console is shown fullscreen. {FULLSCREEN_KEY_TEXT}, or the "
                          "bar at the top of the screen, brings it back here.")


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
    protocolChosen = Signal(str)   # the user picked VNC or SPICE for this VM

    def __init__(self, session: ConsoleSession, parent: QWidget | None = None, *,
                 can_undock: bool = True) -> None:
        super().__init__(parent)
        self.session = session
        self.view = ConsoleView(session)
        self.scroller = QScrollArea()
        self.scroller.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setStyleSheet("QScrollArea { background: black; }")
        self.scroller.setWidget(self.view)
        self.scroller.setWidgetResizable(True)
        self.overlay = StateOverlay()
        self.overlay.startRequested.connect(self.startRequested)
        self.overlay.reconnectRequested.connect(session.reconnect_at_user_request)
        # (Not "scroll": that would hide QWidget.scroll.)
        # The screen area: what fullscreen takes along (the hint floats over it).
        self.screen_area = QWidget()
        self.stack = QStackedLayout(self.screen_area)
        self.stack.addWidget(self.scroller)
        self.stack.addWidget(self.overlay)
        self.hint = ConsoleHint(self.screen_area)
        self.fullscreen: FullscreenConsole | None = None
        self.fullscreen_placeholder = QLabel(FULLSCREEN_PLACEHOLDER, self)
        self.fullscreen_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.fullscreen_placeholder.setWordWrap(True)
        self.fullscreen_placeholder.hide()
        self.last_message = ""     # the last sentence show_message() put up
        self.agent_label = QLabel()
        self.agent_label.setObjectName("consoleAgent")
        follow_scheme(self.agent_label, lambda: self.agent_label.setStyleSheet(
            "#consoleAgent { color: %s; padding: 0 8px; }" % colours.hex_colour(colours.MUTED)))
        self.notice = QLabel()
        self.notice.setObjectName("consoleNotice")
        self.notice.setWordWrap(True)
        follow_scheme(self.notice, lambda: self.notice.setStyleSheet(
            "#consoleNotice { background: %s; color: %s; padding: 3px 8px; }"
            % (colours.hex_colour(colours.NOTICE_BACKGROUND),
               colours.hex_colour(colours.NOTICE_TEXT))))
        self.toolbar = self._build_toolbar(can_undock)
        layout = self._layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.notice)
        layout.addWidget(self.screen_area, 1)
        self._follow_timer = QTimer(self)
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(FOLLOW_SIZE_DELAY_MS)
        self._follow_timer.timeout.connect(self.follow_window_size)
        self._asked_size: tuple[int, int] | None = None
        self._from_guest: str | None = None   # the clipboard text the guest last gave
        self._titled: tuple[QWidget, str] | None = None  # (window, its title before the grab)
        self.scroller.viewport().installEventFilter(self)
        session.statusChanged.connect(self._status_changed)
        session.capabilitiesChanged.connect(self._capabilities_changed)
        session.clipboardReceived.connect(self._guest_clipboard)
        session.noticeChanged.connect(self._notice_changed)
        QGuiApplication.clipboard().dataChanged.connect(self._desktop_clipboard)
        self.view.grabChanged.connect(self._grab_changed)
        self.view.pointerEntered.connect(self._pointer_entered)
        self.view.fullscreenKeyPressed.connect(self.fullscreen_action.toggle)
        self._status_changed(session.status)
        self._notice_changed(session.notice)

    def _build_toolbar(self, can_undock: bool) -> QToolBar:
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        send = QMenu("Send Key", self)
        self.send_key_actions: dict[str, QAction] = {}
        for label, keys in keymap.SEND_KEYS:
            action = send.addAction(label)
            action.triggered.connect(lambda _=False, k=keys: self.send_keys(k))
            self.send_key_actions[label] = action
        self.send_key_action = send.menuAction()
        self.send_key_action.setToolTip("Send a key combination the desktop would keep "
                                        "for itself (Ctrl+Alt+Del, Ctrl+Alt+F1, …)")
        bar.addAction(self.send_key_action)
        self.scale_action = bar.addAction("Scale to fit")
        self.scale_action.setShortcut(QKeySequence("Ctrl+Alt+F"))
        self.scale_action.setCheckable(True)
        self.scale_action.setChecked(True)
        self.scale_action.toggled.connect(self.set_fit)
        self.fullscreen_action = bar.addAction("Fullscreen")
        self.fullscreen_action.setCheckable(True)
        self.fullscreen_action.setToolTip(f"Show the VM's screen on the whole monitor "
                                          f"({FULLSCREEN_KEY_TEXT}, also to leave)")
        self.fullscreen_action.toggled.connect(self.set_fullscreen)
        self.paste_action = bar.addAction("Type clipboard")
        self.paste_action.setShortcut(QKeySequence("Ctrl+Alt+V"))
        self.paste_action.setToolTip("Type the clipboard's text into the guest as keystrokes")
        self.paste_action.triggered.connect(self.paste_clipboard)
        self.screenshot_action = bar.addAction("Screenshot…")
        self.screenshot_action.setShortcut(QKeySequence("Ctrl+Alt+P"))
        self.screenshot_action.triggered.connect(self.ask_screenshot)
        self.forget_action = bar.addAction("Forget password")
        self.forget_action.setToolTip("Remove this console's remembered password from the "
                                      "keyring (the next connection asks for it again)")
        self.forget_action.triggered.connect(self.forget_password)
        self.forget_action.setVisible(self.session.remembered_passwords() is not None)
        self.undock_action = bar.addAction("Undock")
        self.undock_action.setShortcut(QKeySequence("Ctrl+Alt+U"))
        self.undock_action.triggered.connect(self.undockRequested)
        self.undock_action.setVisible(can_undock)
        self.protocol_menu = QMenu(self)
        self.protocol_group = QActionGroup(self)
        self.protocol_group.setExclusive(True)
        self.protocol_action = self.protocol_menu.menuAction()
        self.protocol_action.setToolTip("This VM has both displays: show it through VNC "
                                        "or SPICE")
        bar.addAction(self.protocol_action)
        for action in (self.send_key_action, self.protocol_action):
            button = bar.widgetForAction(action)
            if isinstance(button, QToolButton):
                button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(self.agent_label)
        ensure_keys_in_tooltips(bar.actions())
        return bar

    # ---- actions ----

    def send_keys(self, keys) -> None:
        client = self.session.client
        if client is not None:
            client.send_combo(keys)
        self.view.setFocus()

    def paste_clipboard(self) -> None:
        text = QGuiApplication.clipboard().text()
        if text:
            self.session.type_text(text[:MAX_PASTE_CHARS])

    def set_fit(self, fit: bool) -> None:
        self.scroller.setWidgetResizable(fit)
        self.view.set_fit(fit)

    def set_fullscreen(self, on: bool) -> None:
        """The guest's screen alone on the monitor this pane's window is on (on), or back
        in the pane (off)."""
        if on and self.fullscreen is None:
            self._enter_fullscreen()
        elif not on and self.fullscreen is not None:
            self._leave_fullscreen()
        self.fullscreen_action.blockSignals(True)
        self.fullscreen_action.setChecked(self.fullscreen is not None)
        self.fullscreen_action.blockSignals(False)

    def _enter_fullscreen(self) -> None:
        screen = self.window().screen()
        self._layout.replaceWidget(self.screen_area, self.fullscreen_placeholder)
        self.fullscreen_placeholder.show()
        fullscreen = self.fullscreen = FullscreenConsole(
            self.screen_area, self.session.title,
            [self.send_key_action, self.paste_action], self)
        fullscreen.leaveRequested.connect(lambda: self.set_fullscreen(False))
        fullscreen.show_on(screen)
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def _leave_fullscreen(self) -> None:
        fullscreen, self.fullscreen = self.fullscreen, None
        if fullscreen is None:
            return
        area = fullscreen.take_area()
        self._layout.replaceWidget(self.fullscreen_placeholder, area)
        self.fullscreen_placeholder.hide()
        area.show()
        fullscreen.leave()
        fullscreen.deleteLater()
        self.window().activateWindow()
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def choose_protocol(self, protocol: str) -> None:
        self.session.choose_protocol(protocol)
        self._show_protocols()
        self.protocolChosen.emit(protocol)

    def _protocol_picked(self, protocol: str) -> None:
        if protocol != self.session.protocol:
            self.choose_protocol(protocol)

    def follow_window_size(self) -> None:
        """Ask a guest with an agent for the resolution of the space the screen has."""
        if not self.session.connected:
            return
        size = self.scroller.viewport().size()
        wanted = (size.width(), size.height())
        fb = self.session.framebuffer
        if wanted in ((fb.width, fb.height), self._asked_size):
            return
        if self.session.follow_window_size(*wanted):
            self._asked_size = wanted

    def eventFilter(self, watched, event) -> bool:
        if watched is self.scroller.viewport() and event.type() == QEvent.Type.Resize:
            if self.session.agent_connected:
                self._follow_timer.start()
        return super().eventFilter(watched, event)

    def forget_password(self) -> asyncio.Task | None:
        """Forgets the remembered password(s) in the background; the sentence shows in the
        notice bar for a while."""
        remembered = self.session.remembered_passwords()
        if remembered is None:
            return None
        return asyncio.get_event_loop().create_task(self._forget(remembered))

    async def _forget(self, remembered) -> None:
        self.show_message(await remembered.forget())

    def show_message(self, text: str) -> None:
        """A sentence in the notice bar until the session has something to say, or for
        MESSAGE_MS."""
        self.last_message = text
        try:
            self._notice_changed(text)
            QTimer.singleShot(MESSAGE_MS, self, lambda: self._notice_changed(self.session.notice))
        except RuntimeError:  # the pane was closed meanwhile
            pass

    def ask_screenshot(self) -> None:
        name = safe_file_name(self.session.title) + ".png"
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", name, "PNG (*.png)")
        if path:
            save_png(self.session, path)

    # ---- state ----

    def _status_changed(self, status: ConsoleStatus) -> None:
        live = status.state is ConsoleState.CONNECTED
        self.overlay.show_status(status)
        self.stack.setCurrentWidget(self.scroller if live else self.overlay)
        for action in (self.paste_action, self.send_key_action,
                       *self.send_key_actions.values()):
            action.setEnabled(live)
        # No screen will come (the driver has none): nothing to enlarge or save.
        screenless = status.state is ConsoleState.UNAVAILABLE
        for action in (self.fullscreen_action, self.screenshot_action, self.scale_action):
            action.setEnabled(not screenless)
        if live:
            self.view._resized()
            if not self.view.grabbed:
                self.hint.flash(RELEASED_HINT)
        else:
            self.hint.withdraw()
        self._asked_size = None
        self._show_protocols()
        self._capabilities_changed()

    def _show_protocols(self) -> None:
        """The VNC/SPICE menu, when the VM has both: its entry names the one shown."""
        choices = self.session.protocol_choices()
        current = self.session.protocol
        menu = self.protocol_menu
        menu.clear()
        for action in self.protocol_group.actions():
            self.protocol_group.removeAction(action)
        for protocol in choices:
            action = menu.addAction(PROTOCOL_NAMES.get(protocol, protocol.upper()))
            action.setCheckable(True)
            action.setChecked(protocol == current)
            action.setData(protocol)
            action.triggered.connect(lambda _=False, p=protocol: self._protocol_picked(p))
            self.protocol_group.addAction(action)
        name = PROTOCOL_NAMES.get(current or "", (current or "").upper())
        menu.setTitle(f"Display: {name}" if name else "Display")
        self.protocol_action.setVisible(len(choices) > 1)

    def protocol_names(self) -> list[str]:
        """The entries of the VNC/SPICE menu, as the user reads them."""
        return [action.text() for action in self.protocol_menu.actions()]

    # ---- the guest agent: resolution and clipboard ----

    def _capabilities_changed(self) -> None:
        session = self.session
        live = session.connected and session.has_agent_concept
        agent = live and session.agent_connected
        self.agent_label.setVisible(live)
        self.agent_label.setText(AGENT_TEXT if agent else NO_AGENT_TEXT)
        self.agent_label.setToolTip(AGENT_TIP if agent else NO_AGENT_TIP)
        if agent:
            self._asked_size = None
            self._follow_timer.start()
            self._desktop_clipboard()

    def _guest_clipboard(self, text: str) -> None:
        text = text[:MAX_CLIPBOARD_CHARS]
        self._from_guest = text
        clipboard = QGuiApplication.clipboard()
        if clipboard.text() != text:
            clipboard.setText(text, QClipboard.Mode.Clipboard)

    def _desktop_clipboard(self) -> None:
        """Offer this desktop's clipboard text to the guest (again whenever the agent's
        capabilities change: an agent hears offers only once it announced them)."""
        text = QGuiApplication.clipboard().text()
        if not text or text == self._from_guest or len(text) > MAX_CLIPBOARD_CHARS:
            return   # nothing, or what the guest just gave us: no echo back
        self.session.send_clipboard(text)

    def _notice_changed(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # ---- telling how to use the screen ----

    def _grab_changed(self, grabbed: bool) -> None:
        self.hint.flash(GRABBED_HINT if grabbed else RELEASED_HINT)
        self._title_while_grabbed(grabbed)

    def _pointer_entered(self) -> None:
        if self.session.connected and not self.view.grabbed:
            self.hint.flash(RELEASED_HINT)

    def _title_while_grabbed(self, grabbed: bool) -> None:
        """The window's title says how to get out while the grab lasts (remote-viewer's
        way): the hint over the screen has gone by then."""
        if self._titled is not None:
            window, title = self._titled
            self._titled = None
            try:
                if window.windowTitle() == title + GRABBED_TITLE:
                    window.setWindowTitle(title)
            except RuntimeError:   # that window was closed meanwhile
                pass
        if grabbed:
            window = self.window()
            self._titled = (window, window.windowTitle())
            window.setWindowTitle(window.windowTitle() + GRABBED_TITLE)
