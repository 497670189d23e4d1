"""The query bar: a line edit that completes field names and values as the user types
(app/search/completion.py decides what), and marks where a malformed query went wrong.

Enter runs the query at once; typing runs it after a short pause (``queryChanged``), so
results follow the text without running a 10,000-VM search per keystroke.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QCompleter, QLineEdit, QWidget

from app.search.completion import Completion, complete
from app.search.index import SearchIndex

TYPING_PAUSE_MS = 250


class QueryBar(QLineEdit):
    """``queryChanged(text)``: after a pause in typing, on Enter, or when set."""

    queryChanged = Signal(str)

    def __init__(self, index: Callable[[], SearchIndex], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._index = index
        self.setObjectName("searchQuery")
        self.setPlaceholderText("Search: tag:web AND state:running AND cpu>50   (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self._words = QStringListModel(self)
        self.completer_popup = QCompleter(self._words, self)
        self.completer_popup.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer_popup.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer_popup.setWidget(self)
        self.completer_popup.activated.connect(self.accept_completion)
        self._completion: Completion | None = None
        self._pause = QTimer(self, singleShot=True, interval=TYPING_PAUSE_MS)
        self._pause.timeout.connect(self._emit)
        self.textEdited.connect(self._edited)
        self.returnPressed.connect(self._entered)
        self._from_enter = False

    def set_query(self, text: str) -> None:
        self.setText(text)
        self._emit()

    def _emit(self) -> None:
        self._pause.stop()
        self.queryChanged.emit(self.text())

    def _entered(self) -> None:
        self._from_enter = True
        try:
            self._emit()
        finally:
            self._from_enter = False

    def _edited(self, _text: str) -> None:
        self._pause.start()
        self.show_completions()

    def show_completions(self) -> list[str]:
        """Offers what fits the word under the cursor; the candidates offered."""
        self._completion = complete(self.text(), self.cursorPosition(), self._index())
        typed = self.text()[self._completion.start:self._completion.end]
        candidates = [c for c in self._completion.candidates if c != typed]
        self._words.setStringList(candidates)
        if candidates:
            self.completer_popup.setCompletionPrefix(typed)
            self.completer_popup.complete()
        else:
            self._popup().hide()
        return candidates

    def accept_completion(self, chosen: str) -> None:
        """Replaces the word being typed with ``chosen`` (a whole term or a field name)."""
        done = self._completion
        if done is None:
            return
        text = self.text()
        tail = text[done.end:]
        spacer = "" if chosen.endswith(":") or tail.startswith(" ") else " "
        self.setText(text[:done.start] + chosen + spacer + tail)
        self.setCursorPosition(done.start + len(chosen) + len(spacer))
        self._completion = None
        if chosen.endswith(":"):
            QTimer.singleShot(0, self.show_completions)   # now the values of that field
        self._pause.start()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        popup = self._popup()
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter,
                                                 Qt.Key.Key_Tab):
            current = popup.currentIndex()
            if current.isValid():
                popup.hide()
                self.accept_completion(current.data())
                event.accept()
                return
        if event.key() == Qt.Key.Key_Space and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.show_completions()
            return
        super().keyPressEvent(event)

    def _popup(self) -> QAbstractItemView:
        popup = self.completer_popup.popup()
        assert popup is not None    # QCompleter makes its list view when created
        return popup

    def mark_error(self, position: int | None) -> None:
        """Notes where the query went wrong (None: no error). After Enter the cursor goes
        there, so the user sees the place the message names; while typing, the cursor
        stays where the user is."""
        self.setProperty("invalid", position is not None)
        if position is not None and self._from_enter:
            self.setCursorPosition(min(position, len(self.text())))
