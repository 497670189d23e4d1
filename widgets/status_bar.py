"""The status bar: what is connected on the left, what is running on the right.

Task progress is a bar with the newest running task's title (and what it does now, when it
says: a migration's data left and expected downtime), moving when the task cannot say how
far it is, then the last result for a while (failures in red) so a user who looked away still sees
how the last action ended.

Qt hides the left-hand widgets (the summary and the demo badge) while a temporary message
shows (a menu entry's or toolbar button's status tip) and shows them again after. Showing
the badge from here in between put it back on top of the message, which then ran under
it; so its visibility is only applied while no message is up.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from app import colours
from widgets.appearance import follow_scheme

RESULT_SHOWN_MS = 15000


class MainStatusBar(QStatusBar):
    """``alertsClicked()``: the firing-alerts notice was clicked (show the Alerts tab)."""

    alertsClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(True)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("connectionSummary")
        self.demo_label = QLabel("Demo inventory (libvirt test driver)")
        self.demo_label.setObjectName("demoNotice")
        self.demo_label.setVisible(False)
        self.task_label = QLabel()
        self.task_label.setObjectName("taskStatus")
        self.task_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(140)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.addWidget(self.summary_label)
        self.addWidget(self.demo_label)
        self.alerts_button = QToolButton()
        self.alerts_button.setObjectName("alertsFiring")
        self.alerts_button.setAutoRaise(True)
        self.alerts_button.setToolTip("Show the Alerts tab")
        self.alerts_button.setVisible(False)
        self.alerts_button.clicked.connect(self.alertsClicked)
        self.addPermanentWidget(self.alerts_button)
        self.addPermanentWidget(self.task_label)
        self.addPermanentWidget(self.progress)
        self._demo = False
        self._failed = False
        self.messageChanged.connect(self._message_changed)
        follow_scheme(self, self._colour_labels)

    def _colour_labels(self) -> None:
        """The demo note, the alerts notice and a failure in the scheme's colours."""
        c = colours.hex_colour
        self.demo_label.setStyleSheet(
            f"QLabel {{ background: {c(colours.NOTICE_BACKGROUND)}; "
            f"color: {c(colours.NOTICE_TEXT)}; border: 1px solid {c(colours.NOTICE_BORDER)};"
            " border-radius: 3px; padding: 0px 6px; }")
        self.alerts_button.setStyleSheet(
            f"QToolButton {{ color: {c(colours.ERROR)}; font-weight: bold; }}")
        self.task_label.setStyleSheet(colours.style(colours.ERROR) if self._failed else "")

    def set_summary(self, servers: int, connected: int, vms: int, demo: bool) -> None:
        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"
        self.summary_label.setText(
            f"{plural(servers, 'server')}, {connected} connected, {plural(vms, 'VM')}")
        self._demo = demo
        if not self.currentMessage():
            self.demo_label.setVisible(demo)

    def _message_changed(self, message: str) -> None:
        if not message:
            self.demo_label.setVisible(self._demo)

    def set_alerts_firing(self, count: int) -> None:
        """"⚠ 2 alerts firing" while performance alerts fire; nothing otherwise."""
        self.alerts_button.setText(
            f"\u26a0 {count} alert{'' if count == 1 else 's'} firing")
        self.alerts_button.setVisible(count > 0)

    def set_running(self, titles: list[str]) -> None:
        """Titles of the tasks still running (newest last); empty when all are done."""
        if not titles:
            self.progress.setVisible(False)
            return
        text = titles[-1] if len(titles) == 1 else f"{titles[-1]} (+{len(titles) - 1} more)"
        self._failed = False
        self.task_label.setStyleSheet("")
        self.task_label.setText(text + "…")
        self.progress.setVisible(True)

    def set_progress(self, percent: int | None) -> None:
        """How far the newest running task is; None: it cannot say (a moving bar)."""
        if percent is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(percent)

    def set_result(self, message: str, failed: bool) -> None:
        self._failed = failed
        self.task_label.setStyleSheet(colours.style(colours.ERROR) if failed else "")
        self.task_label.setText(message)
