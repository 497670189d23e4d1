"""VM Properties: one dialog, its pages on the left (XenCenter's VM Properties,
virt-manager's details view).

Apply shows the change summary first, then writes the definition once (validated by
libvirt) and applies to the running VM what libvirt can. A refusal is one sentence at
the bottom and the user's input stays; after a successful Apply the pages show the host's
new definition.
"""
from __future__ import annotations

import asyncio

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QStackedWidget, QVBoxLayout, QWidget)

from app import colours
from app.properties import data as properties_data
from app.properties.apply import Outcome, apply
from app.properties.changes import Change, plan
from app.properties.data import PropertiesData, PropertiesHost
from app.properties.session import EditSession
from widgets.dialogs.properties.base import Page, Prompts
from widgets.dialogs.properties.boot import BootPage
from widgets.dialogs.properties.cdrom import CdromPage
from widgets.dialogs.properties.cpu import CpuPage
from widgets.dialogs.properties.disks import DisksPage
from widgets.dialogs.properties.display import DisplayPage
from widgets.dialogs.properties.general import GeneralPage
from widgets.dialogs.properties.prompts import DialogPrompts
from widgets.dialogs.properties.memory import MemoryPage
from widgets.dialogs.properties.network import NetworkPage
from widgets.dialogs.properties.rng import RngPage
from widgets.dialogs.properties.serial import SerialPage
from widgets.dialogs.properties.tpm import TpmPage
from widgets.dialogs.properties.usb import UsbPage
from widgets.dialogs.properties.xml import XmlPage

PAGES: tuple[type[Page], ...] = (GeneralPage, CpuPage, MemoryPage, BootPage, DisksPage,
                                 CdromPage, NetworkPage, DisplayPage, TpmPage, RngPage,
                                 SerialPage, UsbPage, XmlPage)
XML_LOCK = ("The XML was edited by hand: Apply writes that text as it is. Discard the XML "
            "edits (XML page) to use the other pages again.")


class PropertiesDialog(QDialog):
    """``host``: the VM's host connection (None: look, but Apply is not offered)."""

    applied = Signal(object, object)  # (Outcome, the changes) of each Apply that wrote

    def __init__(self, data: PropertiesData, host: PropertiesHost | None = None,
                 prompts: Prompts | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("propertiesDialog")
        self.host = host
        self.prompts: Prompts = prompts or DialogPrompts(self)
        self.pages: list[Page] = []
        self.busy = False
        self._task: asyncio.Task | None = None
        layout = QVBoxLayout(self)
        self.header = QLabel()
        self.header.setObjectName("propertiesHeader")
        layout.addWidget(self.header)
        self.lock_label = QLabel(XML_LOCK)
        self.lock_label.setObjectName("xmlLock")
        self.lock_label.setWordWrap(True)
        self.lock_label.setStyleSheet(colours.style(colours.WARNING))
        self.lock_label.hide()
        layout.addWidget(self.lock_label)
        body = QHBoxLayout()
        self.page_list = QListWidget()
        self.page_list.setObjectName("pageList")
        self.page_list.setIconSize(QSize(20, 20))
        self.page_list.setFixedWidth(150)
        self.stack = QStackedWidget()
        self.page_list.currentRowChanged.connect(self.stack.setCurrentIndex)
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        layout.addLayout(body, 1)
        self.status = QLabel()
        self.status.setObjectName("propertiesStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.Apply)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).clicked.connect(
            lambda: self.start_apply(close=True))
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(
            lambda: self.start_apply(close=False))
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.session = EditSession(data, self)
        self._build_pages(data)
        self.resize(900, 620)

    # ---- pages ----

    def load(self, data: PropertiesData) -> None:
        """Rebuild the pages on a fresh session of ``data``, keeping the page shown."""
        for page in self.pages:
            self.stack.removeWidget(page)
            page.deleteLater()
        self.session.deleteLater()
        self.session = EditSession(data, self)
        self._build_pages(data)

    def _build_pages(self, data: PropertiesData) -> None:
        row = max(self.page_list.currentRow(), 0)
        self.page_list.clear()
        self.pages = [cls(self.session, self.prompts) for cls in PAGES]
        for page in self.pages:
            item = QListWidgetItem(self.style().standardIcon(page.icon), page.title)
            self.page_list.addItem(item)
            self.stack.addWidget(page)
            page.problemsChanged.connect(self._update_buttons)
        self.session.changed.connect(self._session_changed)
        self.page_list.setCurrentRow(row)
        name = self.session.vm_name
        self.setWindowTitle(f"{name} — Properties")
        state = data.vm.state.label if not data.running else "Running"
        now, later = colours.hex_colour(colours.SUCCESS), colours.hex_colour(colours.WARNING)
        legend = (f"  <span style='color:{now}'>● Now</span> applies to the running VM "
                  f"at once; <span style='color:{later}'>◷ After shutdown</span> at its next "
                  "start." if data.running else "  Changes apply to the definition at once.")
        if not data.facts.persistent:
            legend += (" It is transient: only what applies now can change (it has no "
                       "definition for a next start).")
        self.header.setText(f"<b>{name}</b> — {state}.{legend}")
        self._session_changed()

    def page(self, cls: type[Page]) -> Page:
        return next(p for p in self.pages if isinstance(p, cls))

    def show_page(self, cls: type[Page]) -> None:
        self.page_list.setCurrentRow(self.pages.index(self.page(cls)))

    def problems(self) -> list[tuple[Page, str]]:
        return [(p, text) for p in self.pages if p.isEnabled() for text in p.problems()]

    def _session_changed(self) -> None:
        locked = self.session.xml_text is not None
        for page in self.pages:
            if not isinstance(page, XmlPage):
                page.setEnabled(not locked)
        self.lock_label.setVisible(locked)
        self._update_buttons()

    def _update_buttons(self) -> None:
        found = self.problems()
        for kind in (QDialogButtonBox.StandardButton.Ok,
                     QDialogButtonBox.StandardButton.Apply):
            button = self.buttons.button(kind)
            button.setEnabled(not self.busy and not found and self.host is not None)
            button.setToolTip(found[0][1] if found else "")
        if self.host is None:
            self.buttons.button(QDialogButtonBox.StandardButton.Apply).setToolTip(
                "The VM's host is not connected.")

    # ---- Apply ----

    def changes(self) -> list[Change]:
        return plan(self.session)

    def start_apply(self, close: bool) -> asyncio.Task:
        self._task = asyncio.ensure_future(self.apply_changes(close))
        return self._task

    async def apply_changes(self, close: bool) -> Outcome | None:
        """None when nothing was written (nothing to change, problems, or cancelled)."""
        if self.busy or self.host is None:
            return None
        found = self.problems()
        if found:
            page, text = found[0]
            self.page_list.setCurrentRow(self.pages.index(page))
            self._say(text, error=True)
            return None
        changes = self.changes()
        if not changes:
            self._say("Nothing to change.")
            if close:
                self.accept()
            return None
        if not self.prompts.confirm_changes(self.session.vm_name, changes,
                                            self.session.running):
            return None
        self._busy(True)
        try:
            outcome = await apply(self.host, self.session, changes)
        finally:
            self._busy(False)
        if outcome.refused:
            self._refused(outcome)
            return outcome
        self.applied.emit(outcome, changes)
        await self._reload()
        lines = outcome.problems + outcome.notes
        if lines:
            self._say("\n".join(lines), error=bool(outcome.problems))
        else:
            self._say(f"Applied {len(changes)} change{'s' if len(changes) != 1 else ''}.")
        if close and not outcome.problems:
            self.accept()
        return outcome

    def _refused(self, outcome: Outcome) -> None:
        self._say(outcome.refused or "", error=True)
        if self.session.xml_text is not None:
            xml_page = self.page(XmlPage)
            assert isinstance(xml_page, XmlPage)
            self.show_page(XmlPage)
            xml_page.show_error(outcome.refused or "", outcome.position)

    async def _reload(self) -> None:
        if self.host is None:
            return
        try:
            fresh = await properties_data.load(self.host, self.session.data.vm.key)
        except Exception as err:  # noqa: BLE001 - the dialog stays usable and says why
            self._say(f"Applied, but the new definition could not be read back: {err}",
                      error=True)
            return
        self.load(fresh)

    def reject(self) -> None:
        if not self.busy:                 # Escape while applying waits for the outcome
            super().reject()

    def _busy(self, busy: bool) -> None:
        """While applying, nothing changes the session and the dialog stays open (the
        apply must end with the dialog that shows its outcome)."""
        self.busy = busy
        self.stack.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(not busy)
        if busy:
            self._say("Applying…")
        self._update_buttons()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(colours.style(colours.ERROR) if error else "")
        self.status.setText(text)

