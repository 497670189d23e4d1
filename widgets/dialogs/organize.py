"""The Organize editor: one VM's tags, folder, custom fields and description, or changes
to several VMs at once (add and remove tags, move to a folder, set fields).

The dialog only collects what the user wants and checks it (a number field takes a
number); on OK it hands an OrgChange to the Organize command (app/commands/organize.py),
which writes it into each VM's own metadata as one task or one task group. New custom
fields are defined here too ("New Field…"), kept in the preferences.
"""
from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QCompleter, QDialog, QDialogButtonBox,
                               QFormLayout, QGroupBox, QHBoxLayout, QInputDialog, QLabel,
                               QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from app import colours
from app import preferences as prefs_mod
from app.commands.bulk import counted
from app.organize import known
from app.organize.fields import (FieldDef, FieldError, FieldKind, check_value, from_stored,
                                 to_stored, valid_name)
from connectors.libvirt.domxml.organize import OrgChange, normal_folder, normal_tags
from connectors.libvirt.model import VMInfo

_HINTS = {FieldKind.TEXT: "", FieldKind.NUMBER: "a number", FieldKind.DATE: "YYYY-MM-DD"}


def split_tags(text: str) -> tuple[str, ...]:
    """"web, eu ,prod" -> ("eu", "prod", "web"): commas separate tags."""
    return normal_tags(text.split(","))


class TagCompleter(QCompleter):
    """Completes the tag being typed after the last comma, keeping the ones before it."""

    def __init__(self, tags: list[str], edit: QLineEdit) -> None:
        super().__init__(edit)
        # Parented, and kept: a model handed over without a parent is freed by Python at
        # once and the completer silently completes nothing.
        self.tags = QStringListModel(tags, self)
        self.setModel(self.tags)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self._edit = edit
        # The line edit's own handling put back only the prefix it had when typing
        # "prod, e" (seen with Qt 6.x); the chosen completion is the whole text.
        self.activated.connect(edit.setText)       # the str overload

    def splitPath(self, path: str) -> list[str]:  # noqa: N802 (Qt's name)
        return [path.rsplit(",", 1)[-1].strip()]

    def pathFromIndex(self, index) -> str:  # noqa: N802 (Qt's name)
        before = self._edit.text().rsplit(",", 1)
        head = before[0] + ", " if len(before) > 1 else ""
        return head + str(index.data())


class FieldRow(QWidget):
    """One custom field: its value, and in bulk mode a "Set" box that says whether to
    touch it at all (unticked: each VM keeps its own value)."""

    def __init__(self, field: FieldDef, value: str, bulk: bool) -> None:
        super().__init__()
        self.field = field
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.use = QCheckBox("Set")
        self.use.setVisible(bulk)
        self.use.setChecked(not bulk)
        self.edit = QLineEdit(value)
        self.edit.setPlaceholderText(_HINTS[field.kind])
        self.edit.setAccessibleName(field.name)
        self.edit.textEdited.connect(lambda _t: self.use.setChecked(True))
        layout.addWidget(self.use)
        layout.addWidget(self.edit, 1)

    def value(self) -> str:
        """The value as stored, or FieldError."""
        return check_value(self.field, self.edit.text())


class OrganizeDialog(QDialog):
    def __init__(self, vms: list[VMInfo], all_vms: list[VMInfo], servers: list[str],
                 preferences: prefs_mod.Preferences | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("organizeDialog")
        self.vms = vms
        self.bulk = len(vms) > 1
        self.setMinimumWidth(440)
        self._prefs = preferences
        one = vms[0]
        self.setWindowTitle(f"Organize {one.name}" if not self.bulk
                            else f"Organize {counted(len(vms), 'VM')}")
        layout = QVBoxLayout(self)
        where = ", ".join(servers)
        self.intro = QLabel(
            f"Changes for {counted(len(vms), 'VM')} on {where}. What you leave empty or "
            "unticked stays as each VM has it." if self.bulk else
            f"{one.name} on {where}. Kept in the VM's own definition: it follows the VM "
            "to other hosts and other consoles see it.")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)

        form = QFormLayout()
        tags = known.known_tags(all_vms)
        if self.bulk:
            self.add_tags = QLineEdit()
            self.add_tags.setPlaceholderText("web, eu (commas between tags)")
            self.add_tags.setCompleter(TagCompleter(tags, self.add_tags))
            form.addRow("&Add tags:", self.add_tags)
            self.remove_tags = QLineEdit()
            self.remove_tags.setCompleter(TagCompleter(known.common_tags(vms),
                                                       self.remove_tags))
            self.remove_tags.setPlaceholderText(
                ", ".join(known.common_tags(vms)[:4]) or "no tags on these VMs")
            form.addRow("&Remove tags:", self.remove_tags)
        else:
            self.tags = QLineEdit(", ".join(one.tags))
            self.tags.setPlaceholderText("web, eu (commas between tags)")
            self.tags.setCompleter(TagCompleter(tags, self.tags))
            form.addRow("&Tags:", self.tags)
        folder_row = QHBoxLayout()
        self.move_box = QCheckBox("&Move to")
        self.move_box.setVisible(self.bulk)
        self.folder = QComboBox()
        self.folder.setEditable(True)
        self.folder.addItems([""] + known.known_folders(all_vms))
        self.folder.setCurrentText("" if self.bulk else one.folder)
        folder_edit = self.folder.lineEdit()
        assert folder_edit is not None      # an editable combo box has one
        folder_edit.setPlaceholderText("/prod/web (empty: no folder)")
        folder_edit.textEdited.connect(lambda _t: self.move_box.setChecked(True))
        self.folder.setAccessibleName("Folder")
        folder_row.addWidget(self.move_box)
        folder_row.addWidget(self.folder, 1)
        folder_label = QLabel("&Folder:")
        folder_label.setBuddy(self.folder)
        form.addRow(folder_label, folder_row)
        layout.addLayout(form)

        self.fields_box = QGroupBox("Custom fields")
        self.fields_form = QFormLayout(self.fields_box)
        self.field_rows: list[FieldRow] = []
        new_field = QPushButton("&New Field…")
        new_field.clicked.connect(self._new_field)
        self.fields_form.addRow(new_field)
        self._fill_fields()
        layout.addWidget(self.fields_box)

        self.description: QPlainTextEdit | None = None
        if not self.bulk:
            label = QLabel("&Description:")
            self.description = QPlainTextEdit(one.description)
            self.description.setTabChangesFocus(True)
            self.description.setFixedHeight(80)
            label.setBuddy(self.description)
            layout.addWidget(label)
            layout.addWidget(self.description)

        self.error = QLabel()
        self.error.setObjectName("organizeError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(colours.style(colours.ERROR))
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.buttons = buttons
        self.change: OrgChange | None = None
        self.new_description: str | None = None

    # ---- fields ----

    def field_defs(self) -> list[FieldDef]:
        defined = from_stored(self._prefs.value(prefs_mod.CUSTOM_FIELDS)) \
            if self._prefs is not None else []
        names = {d.name for d in defined}
        # Values set elsewhere for fields this console has not defined: shown as text.
        extra = sorted({n for vm in self.vms for n, _v in vm.custom_fields} - names)
        return defined + [FieldDef(n) for n in extra]

    def _fill_fields(self) -> None:
        values = dict(self.vms[0].custom_fields) if not self.bulk else {}
        for field in self.field_defs():
            if any(row.field.name == field.name for row in self.field_rows):
                continue
            row = FieldRow(field, values.get(field.name, ""), self.bulk)
            self.field_rows.append(row)
            self.fields_form.insertRow(self.fields_form.rowCount() - 1,
                                       f"{field.name}:", row)

    def define_field(self, name: str, kind: FieldKind) -> FieldDef:
        """Adds a definition to the preferences (and a row here); FieldError if the
        name is empty or already defined."""
        clean = valid_name(name)
        if self._defined(clean):
            raise FieldError(f"A field called {clean} exists already.")
        field = FieldDef(clean, kind)
        if self._prefs is not None:
            stored = [d for d in from_stored(self._prefs.value(prefs_mod.CUSTOM_FIELDS))
                      if d.name != clean]
            self._prefs.set_value(prefs_mod.CUSTOM_FIELDS, to_stored(stored + [field]))
        for row in self.field_rows:
            if row.field.name == clean:
                row.field = field
                row.edit.setPlaceholderText(_HINTS[kind])
                return field
        self._fill_fields()
        self.adjustSize()
        return field

    def _defined(self, name: str) -> bool:
        return self._prefs is not None and any(
            d.name == name for d in from_stored(self._prefs.value(prefs_mod.CUSTOM_FIELDS)))

    def _new_field(self) -> None:
        name, ok = QInputDialog.getText(self, "New Field", "Name of the field:")
        if not ok or not name.strip():
            return
        kinds = [k.label for k in FieldKind]
        kind, ok = QInputDialog.getItem(self, "New Field", f"{name.strip()} holds:", kinds,
                                        0, False)
        if not ok:
            return
        try:
            self.define_field(name, FieldKind(kind.lower()))
        except FieldError as err:
            self._show_error(str(err))

    # ---- OK ----

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def collect(self) -> OrgChange:
        """What the user asked for, or FieldError worded for them."""
        fields: list[tuple[str, str]] = []
        for row in self.field_rows:
            if row.use.isChecked():
                fields.append((row.field.name, row.value()))
        folder = normal_folder(self.folder.currentText())
        if self.bulk:
            return OrgChange(add_tags=split_tags(self.add_tags.text()),
                             remove_tags=split_tags(self.remove_tags.text()),
                             folder=folder if self.move_box.isChecked() else None,
                             set_fields=tuple(fields))
        return OrgChange(replace_tags=split_tags(self.tags.text()), folder=folder,
                         replace_fields=tuple(fields))

    def accept(self) -> None:
        try:
            self.change = self.collect()
        except FieldError as err:
            self._show_error(str(err))
            return
        if self.description is not None:
            self.new_description = self.description.toPlainText().strip()
        super().accept()


def open_organize(window, nodes) -> OrganizeDialog | None:
    """The VM menu's Organize…: the editor for the selected VMs; on OK the command writes
    the change. Returns the dialog (shown modally; tests drive it)."""
    vms = [n.obj for n in nodes if isinstance(n.obj, VMInfo)]
    if not vms:
        return None
    servers = sorted({window.commands.ctx.host_label(n.conn_id) for n in nodes})
    dialog = OrganizeDialog(vms, known.all_vms(window.inventory), servers,
                            window.preferences, window)
    window.last_organize_dialog = dialog
    if dialog.exec() == QDialog.DialogCode.Accepted and dialog.change is not None:
        window.commands.organize.apply(nodes, dialog.change, dialog.new_description)
    return dialog
