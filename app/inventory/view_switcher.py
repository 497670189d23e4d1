"""Which view of the tree is shown (View menu: by server, folder, tag, custom field,
state), remembered across restarts.

The filter proxy in front of the tree is pointed at the inventory model itself (by
server) or at a GroupedModel over it; the grouped model exists only while its view is
shown, so the usual by-server tree pays nothing for the other views.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app import preferences
from app.inventory.grouped import GroupedModel
from app.inventory.model import InventoryModel
from app.inventory.proxy import InventoryFilterProxy
from app.inventory.views import View, ViewKind, text_order
from app.organize.fields import FieldDef, from_stored, sort_value


class ViewSwitcher(QObject):
    """``viewChanged(View)`` after the tree's source changed."""

    viewChanged = Signal(object)

    def __init__(self, inventory: InventoryModel, proxy: InventoryFilterProxy,
                 prefs: preferences.Preferences | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inventory = inventory
        self._proxy = proxy
        self._prefs = prefs
        self._grouped: GroupedModel | None = None
        self.view = View()
        if prefs is not None:
            self.set_view(View.from_key(str(prefs.value(preferences.TREE_VIEW))))

    @property
    def grouped(self) -> GroupedModel | None:
        return self._grouped

    def field_defs(self) -> list[FieldDef]:
        if self._prefs is None:
            return []
        return from_stored(self._prefs.value(preferences.CUSTOM_FIELDS))

    def field_names(self) -> list[str]:
        """Defined fields, then any other field a VM holds (set by another console)."""
        names = {d.name for d in self.field_defs()}
        for conn_id in self._inventory.host_ids():
            for vm in self._inventory.vms(conn_id):
                names.update(name for name, _value in vm.custom_fields)
        return sorted(names, key=str.casefold)

    def set_view(self, view: View) -> None:
        if view == self.view and (self._grouped is not None) == (
                view.kind is not ViewKind.SERVER):
            return
        old = self._grouped
        if view.kind is ViewKind.SERVER:
            self._grouped = None
            self._proxy.setSourceModel(self._inventory)
        else:
            self._grouped = GroupedModel(self._inventory, view, self._order(view), self)
            self._proxy.setSourceModel(self._grouped)
        if old is not None:
            old.deleteLater()
        self.view = view
        if self._prefs is not None:
            self._prefs.set_value(preferences.TREE_VIEW, view.key)
        self.viewChanged.emit(view)

    def _order(self, view: View):
        """Groups of a number field sort as numbers, of a date field as dates (ISO text
        already sorts so), everything else as text ignoring case."""
        if view.kind is not ViewKind.FIELD:
            return text_order
        field = next((d for d in self.field_defs() if d.name == view.field_name), None)

        def order(title: str) -> tuple[int, object, str]:
            return sort_value(field, title)
        return order
