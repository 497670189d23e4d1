"""The New VM wizard: Source, Operating system, Resources, Storage/network/display,
Summary. XenCenter's and virt-manager's shape, for one host (the one selected).

The pages edit one plan (app/new_vm/plan.py); Create starts one task that the summary
page follows with a progress bar. Cancel stops it while the VM is not yet defined
(nothing is left behind); after that Cancel is refused and the wizard waits for the
start. On success the wizard closes and ``created(key, open_console)`` is emitted.
"""
from __future__ import annotations

import asyncio
from typing import Callable, Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWizard

from app.new_vm.plan import VmPlan
from app.new_vm.session import NewVmSession

from .hardware_page import HardwarePage
from .os_page import OsPage
from .resources_page import ResourcesPage
from .source_page import SourcePage
from .summary_page import SummaryPage

SOURCE, OS, RESOURCES, HARDWARE, SUMMARY = range(5)


class NewVmWizard(QWizard):
    created = Signal(str, bool)      # key of the new VM, open its console

    def __init__(self, session: NewVmSession, parent=None, *, taken=None) -> None:
        super().__init__(parent)
        self.session = session
        self.plan = VmPlan()
        self.pending: list[asyncio.Future] = []
        self.creating = False
        self._taken: Callable[[], Iterable[str]] = taken or (lambda: frozenset())
        self.setWindowTitle(f"New VM on {session.host_label}")
        self.setObjectName("newVmWizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Create")
        self.source_page = SourcePage(self)
        self.os_page = OsPage(self)
        self.resources_page = ResourcesPage(self)
        self.hardware_page = HardwarePage(self)
        self.summary_page = SummaryPage(self)
        for page_id, page in enumerate((self.source_page, self.os_page, self.resources_page,
                                        self.hardware_page, self.summary_page)):
            self.setPage(page_id, page)
        session.ready.connect(self._ready)
        session.mediaChecked.connect(self.source_page.changed)
        session.progress.connect(self.summary_page.show_progress)
        session.finished.connect(self._finished)
        self.resize(720, 620)
        self.load_task = asyncio.ensure_future(session.load())

    def taken_names(self) -> frozenset[str]:
        """VM names on the host as the tree knows them now (the facts may be older)."""
        return frozenset(self._taken())

    def _ready(self, error: str) -> None:
        if error:
            self.source_page.problem.setText(error)
            return
        facts = self.session.facts
        for note in facts.notes if facts is not None else ():
            self.source_page.detected.setText(note)
        self.source_page.host_ready()

    # ---- creating ----

    def accept(self) -> None:
        if self.creating:
            return
        self.summary_page.read_into_plan()
        self.creating = True
        self.summary_page.failure = ""
        self.summary_page.set_busy(True)
        self.summary_page.show_progress("Starting", 0.0)
        self.session.create(self.plan)

    def _finished(self, key: str, error: str) -> None:
        self.creating = False
        self.summary_page.set_busy(False)
        if error:
            self.summary_page.failure = error
            self.summary_page.show_progress("", 0.0)
            self.summary_page.problem.setText(error)
            return
        self.created.emit(key, self.plan.open_console)
        super().accept()

    def reject(self) -> None:
        if self.creating:
            if not self.session.cancel():
                QMessageBox.information(self, "Creating the VM",
                                        "The VM is already defined; it is being started. "
                                        "The wizard closes when that is done.")
            return
        for task in self.pending:
            task.cancel()
        self.load_task.cancel()
        super().reject()
