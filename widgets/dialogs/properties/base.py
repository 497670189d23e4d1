"""What every Properties page shares: the session it edits, the live/after-shutdown
marks beside its fields, the sentence that says what is wrong with its input, and the
questions it asks (through ``Prompts``, so tests answer them instead of a human).
"""
from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QStyle,
                               QVBoxLayout, QWidget)

from app import colours
from app.properties import timing
from app.properties.changes import Change, When
from app.properties.session import DiskChoice, EditSession

NOW_TEXT = "Now"
LATER_TEXT = "After shutdown"
NOW_TIP = "Applies to the running VM at once, and to its definition."
LATER_TIP = ("Saved in the definition; the running VM keeps its present setting until it "
             "shuts down and starts again.")


class Prompts(Protocol):
    """Questions a page asks the user (prompts.py asks them in dialogs)."""

    def confirm_removal(self, label: str, volume: str | None) -> tuple[bool, bool]: ...
    def confirm_shrink(self, target: str, old: int, new: int) -> bool: ...
    def choose_new_disk(self, session: EditSession) -> DiskChoice | None: ...
    def confirm_changes(self, name: str, changes: list[Change], running: bool) -> bool: ...


class MarkLabel(QLabel):
    """"Now" (green) or "After shutdown" (amber) beside a field of a running VM's page;
    hidden while the VM is shut off."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timingMark")
        self.when: When | None = None
        self.set_when(None)

    def set_when(self, when: When | None) -> None:
        self.when = when
        self.setVisible(when is not None)
        if when is None:
            return
        now = when is When.NOW
        colour = colours.hex_colour(colours.SUCCESS if now else colours.WARNING)
        symbol = "●" if now else "◷"
        self.setText(f"<span style='color:{colour}'>{symbol} "
                     f"{NOW_TEXT if now else LATER_TEXT}</span>")
        self.setToolTip(NOW_TIP if now else LATER_TIP)


class Page(QWidget):
    """One page: ``refresh()`` shows the session's values (signals blocked, so showing
    is never an edit), the user's edits go into ``session.edited`` through the domain
    XML model, ``problems()`` says what must be fixed before Apply."""

    title = ""
    icon = QStyle.StandardPixmap.SP_FileIcon
    problemsChanged = Signal()  # noqa: N815 (Qt signal names)

    def __init__(self, session: EditSession, prompts: Prompts,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.prompts = prompts
        self._marks: dict[str, MarkLabel] = {}
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(12, 8, 12, 8)
        heading = QLabel(f"<b>{self.title}</b>")
        heading.setObjectName("pageHeading")
        self.outer.addWidget(heading)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("pageProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(colours.style(colours.ERROR))
        self.problem_label.hide()
        self.outer.addWidget(self.problem_label)
        session.changed.connect(self._session_changed)

    # ---- for subclasses ----

    def refresh(self) -> None:
        """Show the session's values."""

    def problems(self) -> list[str]:
        return []

    def mark(self, field: str) -> MarkLabel:
        """A mark for ``field`` (a key of app.properties.timing), kept up to date."""
        label = MarkLabel()
        label.setProperty("field", field)
        self._marks[field] = label
        label.set_when(timing.when(self.session, field))
        return label

    def row(self, form: QFormLayout, text: str, widget: QWidget, field: str | None) -> None:
        """A form row: the field, and its mark on the right."""
        holder = QWidget()
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(widget, 1)
        if field is not None:
            line.addWidget(self.mark(field))
        form.addRow(text, holder)

    def edited(self) -> None:
        """The user changed something on this page."""
        self.session.touch()

    def marks(self) -> dict[str, MarkLabel]:
        return dict(self._marks)

    # ---- plumbing ----

    def _session_changed(self) -> None:
        for field, label in self._marks.items():
            if not label.property("custom"):
                label.set_when(timing.when(self.session, field))
        self.show_problems()

    def show_problems(self) -> None:
        found = self.problems()
        self.problem_label.setText("\n".join(found))
        self.problem_label.setVisible(bool(found))
        self.problemsChanged.emit()


def select_data(combo: QComboBox, value: object) -> None:
    """Select the item holding ``value`` without it counting as the user's choice."""
    with QSignalBlocker(combo):
        index = combo.findData(value)
        if index < 0 and combo.isEditable() and isinstance(value, str):
            combo.setEditText(value)
        else:
            combo.setCurrentIndex(max(index, 0))


def offer_item(combo: QComboBox, text: str, data: object, reason: str = "") -> None:
    """An item that is greyed out, with the reason as its tooltip, when not offered."""
    combo.addItem(text, data)
    index = combo.count() - 1
    if reason:
        item = combo.model().item(index)  # type: ignore[attr-defined]
        item.setEnabled(False)
        combo.setItemData(index, reason, Qt.ItemDataRole.ToolTipRole)


def note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(colours.style(colours.MUTED))
    return label
