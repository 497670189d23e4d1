"""Preferences → Custom Fields: the fields VMs can be given (name and kind: text, number
or date), defined once for this console. Removing a definition leaves the values in the
VMs alone: they are then shown as text, and defining the field again brings them back."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app import preferences as prefs
from app.organize.fields import FieldDef, FieldError, FieldKind, from_stored, to_stored, \
    valid_name

from .preferences import PreferencesPage, register_page


@register_page
class CustomFieldsPage(PreferencesPage):
    title = "Custom Fields"
    order = 60

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.list = QTreeWidget()
        self.list.setObjectName("customFields")
        self.list.setHeaderLabels(["Field", "Holds"])
        self.list.setRootIsDecorated(False)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Name of a new field (owner, cost centre, expires…)")
        self.kind = QComboBox()
        self.kind.addItems([k.label for k in FieldKind])
        add = QPushButton("&Add")
        add.clicked.connect(self.add_field)
        self.name.returnPressed.connect(self.add_field)
        remove = QPushButton("&Remove")
        remove.clicked.connect(self.remove_selected)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c62828;")
        self.error.hide()
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.name, 1)
        line.addWidget(self.kind)
        line.addWidget(add)
        line.addWidget(remove)
        explain = QLabel("Values are set per VM with VM › Organize… and kept in the VM "
                         "itself. Removing a field here keeps the VMs' values; they show "
                         "as text.")
        explain.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(row)
        layout.addWidget(self.error)
        layout.addWidget(explain)
        self.defs: list[FieldDef] = []

    def load(self) -> None:
        self.defs = from_stored(self.preferences.value(prefs.CUSTOM_FIELDS))
        self._show()

    def _show(self) -> None:
        self.list.clear()
        for field in self.defs:
            self.list.addTopLevelItem(QTreeWidgetItem([field.name, field.kind.label]))

    def add_field(self) -> None:
        try:
            name = valid_name(self.name.text())
            if any(d.name == name for d in self.defs):
                raise FieldError(f"A field called {name} exists already.")
        except FieldError as err:
            self.error.setText(str(err))
            self.error.show()
            return
        self.error.hide()
        self.defs = sorted(self.defs + [FieldDef(name, FieldKind(self.kind.currentText()
                                                                  .lower()))],
                           key=lambda d: d.name.casefold())
        self.name.clear()
        self._show()

    def remove_selected(self) -> None:
        chosen = {item.text(0) for item in self.list.selectedItems()}
        self.defs = [d for d in self.defs if d.name not in chosen]
        self._show()

    def apply(self) -> None:
        self.preferences.set_value(prefs.CUSTOM_FIELDS, to_stored(self.defs))
