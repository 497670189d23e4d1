"""A top-level window around a ConsolePane: an undocked console, or the standalone
console (`hvconsole vnc://…`, `hvconsole FILE.vv`)."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QLabel, QLineEdit,
                               QVBoxLayout, QWidget)

from app.console_passwords import PasswordAnswer
from widgets.console.pane import ConsolePane
from widgets.dialogs.awaiting import run_dialog


class ConsoleWindow(QWidget):
    closing = Signal()

    def __init__(self, pane: ConsolePane, title: str) -> None:
        super().__init__(None)
        self.setWindowTitle(title)
        self.pane = pane
        layout = self._layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(pane)
        # A pane undocked from the Console tab was hidden by the QStackedLayout it left
        # (removing a widget from one hides it), and a hidden child stays hidden in its
        # new parent: the window showed only its grey background.
        pane.show()
        fb = pane.session.framebuffer
        self.resize(max(640, min(fb.width, 1600)), max(480, min(fb.height + 40, 1000)))
        self._fitted = False
        pane.session.frameUpdated.connect(self._first_picture)

    def _first_picture(self) -> None:
        """The first picture's size: the window takes it once (as remote-viewer does), so
        a 720x400 text console is not shown in a 640x480 box; later changes leave the
        user's size alone."""
        if self._fitted:
            return
        self._fitted = True
        self.pane.session.frameUpdated.disconnect(self._first_picture)
        if self.isMaximized() or self.isFullScreen():
            return
        fb = self.pane.session.framebuffer
        screen = self.screen().availableGeometry()
        bars = self.pane.toolbar.sizeHint().height()
        self.resize(max(640, min(fb.width, screen.width() - 40)),
                    max(300, min(fb.height + bars, screen.height() - 40)))

    def take_pane(self) -> ConsolePane:
        """Hand the pane back (docking): it leaves this window, which then closes."""
        pane = self.pane
        self._layout.removeWidget(pane)
        pane.setParent(None)
        return pane

    def closeEvent(self, event) -> None:
        self.closing.emit()
        super().closeEvent(event)


class PasswordDialog(QDialog):
    def __init__(self, what: str, parent: QWidget | None = None,
                 can_remember: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Console password")
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"The console of <b>{what}</b> needs a password."))
        layout.addWidget(self.edit)
        self.remember = QCheckBox("Remember password")
        self.remember.setVisible(can_remember)
        layout.addWidget(self.remember)
        layout.addWidget(buttons)


def password_prompt(parent_of: Callable[[], QWidget | None], can_remember: bool = False):
    """A PasswordPrompt for app.console_openers: a window-modal dialog, awaited without a nested
    event loop. ``parent_of()`` gives the window to put it over. With ``can_remember``
    (a vault is there) it offers "Remember password" and answers a PasswordAnswer."""
    async def ask(what: str) -> str | PasswordAnswer | None:
        dialog = PasswordDialog(what, parent_of(), can_remember)
        edit, remember = dialog.edit, dialog.remember
        if await run_dialog(dialog):
            if can_remember:
                return PasswordAnswer(edit.text(), remember.isChecked())
            return edit.text()
        return None
    return ask
