"""Opening a VM's Properties: read what the pages show from its host, then show the
dialog (one per VM: asking again raises the open one)."""
from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.events_log import EventsLog
from app.properties.apply import Outcome
from app.properties.changes import Change
from app.properties.data import PropertiesHost, load
from connectors.libvirt.model import ActionError
from widgets.dialogs.properties.dialog import PropertiesDialog


class PropertiesOpener:
    """``events_log``: where each Apply is recorded (one row: what changed, what failed)."""

    def __init__(self, parent: QWidget, events_log: EventsLog | None = None) -> None:
        self.parent = parent
        self.events_log = events_log
        self.open_dialogs: dict[tuple[str, str], PropertiesDialog] = {}

    def open(self, host: PropertiesHost, conn_id: str, key: str) -> asyncio.Task:
        return asyncio.ensure_future(self.show(host, conn_id, key))

    async def show(self, host: PropertiesHost, conn_id: str, key: str
                   ) -> PropertiesDialog | None:
        existing = self.open_dialogs.get((conn_id, key))
        if existing is not None:
            existing.raise_()
            existing.activateWindow()
            return existing
        try:
            data = await load(host, key)
        except ActionError as err:
            QMessageBox.warning(self.parent, "Properties", str(err))
            return None
        dialog = PropertiesDialog(data, host, parent=self.parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self.open_dialogs.pop((conn_id, key), None))
        dialog.applied.connect(lambda outcome, changes: self._record(data.vm.name, outcome,
                                                                     changes))
        self.open_dialogs[(conn_id, key)] = dialog
        dialog.show()
        return dialog

    def _record(self, name: str, outcome: Outcome, changes: list[Change]) -> None:
        if self.events_log is None:
            return
        done = "; ".join(c.summary for c in changes)
        message = f"Properties: {done}"
        if outcome.problems or outcome.notes:
            message += " — " + " ".join(outcome.problems + outcome.notes)
        self.events_log.add("warning" if outcome.problems else "info", "action", name,
                            message)
