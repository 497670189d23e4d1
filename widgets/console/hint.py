"""ConsoleHint: a short sentence shown for a moment over the bottom of the console's screen
("Click to use mouse and keyboard · Ctrl+Alt releases").

It sits on the screen itself because that is where the user looks and clicks: in the
toolbar it was the first thing to fall into the overflow menu, at the window's default
width already. It lets clicks through to the screen under it, and goes after HINT_MS so
it never covers the guest's picture for long; it comes back when the pointer enters the
screen, when the console connects, and when the grab starts or ends.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

HINT_MS = 4000
MARGIN = 12          # from the screen's edges
RELEASED_HINT = "Click to use mouse and keyboard · Ctrl+Alt releases"
GRABBED_HINT = "Mouse and keyboard go to the VM · Ctrl+Alt releases them"


class ConsoleHint(QLabel):
    """Floats over its parent (the screen area), centred near the bottom."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("consoleHint")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setContentsMargins(12, 6, 12, 6)
        self.setStyleSheet("#consoleHint { background: rgba(20, 20, 20, 200); color: white;"
                           " border-radius: 6px; }")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(HINT_MS)
        self._timer.timeout.connect(self.hide)
        parent.installEventFilter(self)
        self.hide()

    def flash(self, text: str) -> None:
        """Show ``text`` now, for HINT_MS."""
        self.setText(text)
        self._place()
        self.show()
        self.raise_()
        self._timer.start()

    def withdraw(self) -> None:
        self._timer.stop()
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        area = parent.rect()
        margins = self.contentsMargins()
        natural = (self.fontMetrics().horizontalAdvance(self.text())
                   + margins.left() + margins.right() + 2)
        width = max(1, min(natural, area.width() - 2 * MARGIN))
        height = self.heightForWidth(width)
        if height < 0:
            height = self.sizeHint().height()
        self.setGeometry(area.x() + (area.width() - width) // 2,
                         area.bottom() - MARGIN - height, width, height)
