"""Preferences → Custom Fields: define, refuse a second field of the same name, remove;
what OK stores is what Organize then offers."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app import preferences
from app.organize.fields import FieldDef, FieldKind, from_stored
from widgets.dialogs.fields_page import CustomFieldsPage


def test_define_and_remove_custom_fields(qtbot, tmp_path):
    prefs = preferences.Preferences(QSettings(str(tmp_path / "p.conf"),
                                              QSettings.Format.IniFormat))
    prefs.set_value(preferences.CUSTOM_FIELDS, [{"name": "owner", "kind": "text"}])
    page = CustomFieldsPage(prefs)
    qtbot.addWidget(page)
    page.load()
    page.kind.setCurrentText("Number")
    QTest.keyClicks(page.name, "cost")
    QTest.keyClick(page.name, Qt.Key.Key_Return)
    rows = [(page.list.topLevelItem(i).text(0), page.list.topLevelItem(i).text(1))
            for i in range(page.list.topLevelItemCount())]
    assert rows == [("cost", "Number"), ("owner", "Text")]
    QTest.keyClicks(page.name, "owner")
    QTest.keyClick(page.name, Qt.Key.Key_Return)
    assert page.error.text() == "A field called owner exists already."
    page.list.topLevelItem(1).setSelected(True)
    page.remove_selected()
    page.apply()
    assert from_stored(prefs.value(preferences.CUSTOM_FIELDS)) == [
        FieldDef("cost", FieldKind.NUMBER)]
