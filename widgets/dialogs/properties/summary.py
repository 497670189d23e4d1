"""The summary shown before Apply: every change, and when it takes effect."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget,
                               QVBoxLayout, QWidget)

from app.properties.changes import Change, When


def summary_lines(changes: list[Change], running: bool) -> list[str]:
    lines = []
    for change in changes:
        when = ""
        if running:
            when = " — now" if change.when is When.NOW else " — after the next shutdown"
        lines.append(f"{change.summary}{when}")
    return lines


class SummaryDialog(QDialog):
    def __init__(self, name: str, changes: list[Change], running: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Apply changes to {name}")
        layout = QVBoxLayout(self)
        count = len(changes)
        layout.addWidget(QLabel(f"{count} change{'s' if count != 1 else ''} to {name}:"))
        self.list = QListWidget()
        self.list.setObjectName("summaryList")
        self.list.addItems(summary_lines(changes, running))
        layout.addWidget(self.list, 1)
        if running and any(c.when is When.AFTER_SHUTDOWN for c in changes):
            later = QLabel("Changes marked “after the next shutdown” are saved now; the "
                           "running VM gets them when it is shut down and started again "
                           "(a reboot from inside the guest is not enough).")
            later.setWordWrap(True)
            layout.addWidget(later)
        buttons = QDialogButtonBox()
        buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 320)
