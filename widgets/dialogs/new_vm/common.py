"""Pieces every page of the New VM wizard shares: the line that says what is wrong, a
combobox item disabled with its reason, and a page that re-checks itself on edits."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QAbstractButton, QComboBox, QLabel, QLineEdit, QPlainTextEdit,
                               QSpinBox, QWizardPage)

from app import colours



def problem_label() -> QLabel:
    label = QLabel()
    label.setObjectName("problem")
    label.setWordWrap(True)
    label.setStyleSheet(colours.style(colours.ERROR))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def note_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(colours.style(colours.MUTED))   # waiting; nothing is wrong
    return label


def add_item(combo: QComboBox, text: str, data: object, reason: str = "") -> None:
    """An entry; disabled, with ``reason`` as its tooltip, when the host cannot give it."""
    combo.addItem(text if not reason else f"{text} (not available)", data)
    index = combo.count() - 1
    if reason:
        model = combo.model()
        if isinstance(model, QStandardItemModel):
            item = model.item(index)
            item.setEnabled(False)
            item.setToolTip(reason)


def enabled_at(combo: QComboBox, index: int) -> bool:
    model = combo.model()
    if isinstance(model, QStandardItemModel):
        item = model.item(index)
        return item is not None and item.isEnabled()
    return True


def select_data(combo: QComboBox, data: object) -> None:
    index = combo.findData(data)
    if index >= 0:
        combo.setCurrentIndex(index)


class CheckedPage(QWizardPage):
    """A page whose Next stays disabled while ``problems()`` lists any; the first one is
    shown in red under the page (greyed while the page waits for the host or for the
    chosen image to be looked at: nothing is wrong yet)."""

    def __init__(self, wizard, title: str, subtitle: str = "") -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle(title)
        if subtitle:
            self.setSubTitle(subtitle)
        self.problem = problem_label()
        self._recheck = QTimer(self, singleShot=True, interval=0)
        self._recheck.timeout.connect(self._update)

    @property
    def plan(self):
        return self.wiz.plan

    @property
    def facts(self):
        return self.wiz.session.facts

    def problems(self) -> list[str]:
        return []

    def changed(self, *_args) -> None:
        """Call after any edit: the plan is read again and the page re-checked."""
        self.read_into_plan()
        self._recheck.start()

    def read_into_plan(self) -> None:
        """Copy the widgets' values into the plan (pages override)."""

    def _update(self) -> None:
        waiting = self.facts is None or self.plan.checking
        found = self.problems() if self.facts is not None else ["Reading what the host "
                                                                "offers…"]
        self.problem.setStyleSheet(colours.style(colours.MUTED if waiting else colours.ERROR))
        self.problem.setText(found[0] if found else "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 (Qt's name)
        return self.facts is not None and not self.problems()


def connect_all(widgets: list, slot: Callable[..., None]) -> None:
    """The edit signal of each of these widgets to ``slot``."""
    for w in widgets:
        if isinstance(w, (QLineEdit, QPlainTextEdit)):
            w.textChanged.connect(slot)
        elif isinstance(w, QComboBox):
            w.currentIndexChanged.connect(slot)
        elif isinstance(w, QSpinBox):
            w.valueChanged.connect(slot)
        elif isinstance(w, QAbstractButton):
            w.toggled.connect(slot)
        else:
            raise TypeError(f"no edit signal known for {type(w).__name__}")
