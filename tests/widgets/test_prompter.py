"""Confirmations answer with their verb: "Force Shut Down" / "Cancel", never "Yes"; Enter
cancels. Driven through the real DialogPrompter and its modal box."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from widgets.dialogs.prompter import DialogPrompter


def _answer(qtbot, act):
    """Runs ``act(box)`` on the modal box once it shows; returns what the box showed."""
    seen = {}

    def when_shown():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, when_shown)
            return
        seen["buttons"] = [b.text() for b in box.findChildren(QPushButton)]
        seen["default"] = box.defaultButton().text()
        seen["text"] = box.text()
        act(box)
    QTimer.singleShot(0, when_shown)
    return seen


def test_the_button_says_what_it_does_and_enter_cancels(qtbot):
    prompter = DialogPrompter()
    seen = _answer(qtbot, lambda box: qtbot.keyClick(box, Qt.Key.Key_Return))
    answer = prompter.confirm("Force Shut Down", "Force shut down web-01?", "Force Shut Down")
    assert answer is False
    assert sorted(seen["buttons"]) == ["Cancel", "Force Shut Down"]
    assert seen["default"] == "Cancel" and seen["text"] == "Force shut down web-01?"


def test_the_verb_button_goes_ahead(qtbot):
    prompter = DialogPrompter()

    def click_verb(box):
        next(b for b in box.findChildren(QPushButton) if b.text() == "Remove Server").click()
    _answer(qtbot, click_verb)
    assert prompter.confirm("Remove Server", "Remove kvm1 from HVConsole?", "Remove Server")
