"""General: name, title, description, start with the host, operating system."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLineEdit, QPlainTextEdit,
                               QStyle)

from widgets.dialogs.properties.base import Page, note

RENAME_RUNNING = "A running VM keeps its name: libvirt renames only a shut-off VM."


class GeneralPage(Page):
    title = "General"
    icon = QStyle.StandardPixmap.SP_ComputerIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.textEdited.connect(self._name_edited)
        if session.running:
            self.name_edit.setEnabled(False)
            self.name_edit.setToolTip(RENAME_RUNNING)
        self.row(form, "&Name:", self.name_edit, None)
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("titleEdit")
        self.title_edit.textEdited.connect(self._title_edited)
        self.row(form, "&Title:", self.title_edit, "title")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("descriptionEdit")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setMaximumHeight(110)
        self.description_edit.textChanged.connect(self._description_edited)
        self.row(form, "&Description:", self.description_edit, "description")
        self.autostart_check = QCheckBox("Start this VM when the host starts")
        self.autostart_check.setObjectName("autostartCheck")
        self.autostart_check.toggled.connect(self._autostart_toggled)
        if not session.data.facts.persistent:
            self.autostart_check.setEnabled(False)
            self.autostart_check.setToolTip("A transient VM has no definition to start "
                                            "with the host.")
        self.row(form, "", self.autostart_check, "autostart")
        self.os_combo = QComboBox()
        self.os_combo.setObjectName("osCombo")
        self.os_combo.setEditable(True)
        os_edit = self.os_combo.lineEdit()
        assert os_edit is not None      # an editable combo box has its line edit
        os_edit.setPlaceholderText("libosinfo id, e.g. http://debian.org/debian/12")
        os_edit.textEdited.connect(self._os_edited)
        self.row(form, "&Operating system:", self.os_combo, "os")
        self.outer.addLayout(form)
        if session.running:
            self.outer.addWidget(note(RENAME_RUNNING))
        self.outer.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        dom = self.session.edited
        with QSignalBlocker(self.name_edit):
            self.name_edit.setText(dom.name or "")
        with QSignalBlocker(self.title_edit):
            self.title_edit.setText(dom.title or "")
        with QSignalBlocker(self.description_edit):
            self.description_edit.setPlainText(dom.description or "")
        with QSignalBlocker(self.autostart_check):
            self.autostart_check.setChecked(self.session.autostart)
        with QSignalBlocker(self.os_combo):
            self.os_combo.clear()
            if dom.os_id:
                self.os_combo.addItem(dom.os_id)
            self.os_combo.setEditText(dom.os_id or "")
        self.show_problems()

    def problems(self) -> list[str]:
        name = self.name_edit.text()
        if self.session.running or name == (self.session.original.name or ""):
            return []
        if not name.strip():
            return ["A VM needs a name."]
        if "/" in name:
            return ["A VM's name cannot contain “/”."]
        if name != name.strip():
            return ["A VM's name cannot begin or end with a space."]
        if name in self.session.data.other_names:
            return [f"Another VM on this host is already called {name}."]
        return []

    # ---- edits ----

    def _name_edited(self, text: str) -> None:
        self.session.edited.name = text
        self.edited()

    def _title_edited(self, text: str) -> None:
        self.session.edited.title = text or _empty(self.session.original.title)
        self.edited()

    def _description_edited(self) -> None:
        text = self.description_edit.toPlainText()
        self.session.edited.description = text or _empty(self.session.original.description)
        self.edited()

    def _autostart_toggled(self, on: bool) -> None:
        self.session.autostart = on
        self.edited()

    def _os_edited(self, text: str) -> None:
        self.session.edited.set_os_id(text.strip() or None)
        self.edited()


def _empty(original: str | None) -> str | None:
    """A cleared field removes its element, unless the definition had it empty."""
    return "" if original == "" else None
