"""Custom field definitions kept in the preferences, and values checked against them."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app import preferences
from app.organize.fields import (FieldDef, FieldError, FieldKind, check_value, from_stored,
                                 sort_value, to_stored)


@pytest.mark.parametrize("kind, typed, stored", [
    (FieldKind.NUMBER, "42", "42"), (FieldKind.NUMBER, " 1,5 ", "1.5"),
    (FieldKind.NUMBER, "1e3", "1000"), (FieldKind.NUMBER, "-0.25", "-0.25"),
    (FieldKind.DATE, "2026-12-03", "2026-12-03"), (FieldKind.TEXT, "  team a ", "team a"),
    (FieldKind.NUMBER, "", ""), (FieldKind.DATE, " ", "")])
def test_values_are_stored_in_a_form_that_sorts(kind, typed, stored):
    assert check_value(FieldDef("f", kind), typed) == stored


@pytest.mark.parametrize("kind, typed, words", [
    (FieldKind.NUMBER, "lots", "cost is a number; “lots” is not one."),
    (FieldKind.NUMBER, "nan", "cost is a number; “nan” is not one."),
    (FieldKind.DATE, "3/12/2026", "cost is a date (YYYY-MM-DD); “3/12/2026” is not one.")])
def test_a_value_of_the_wrong_kind_is_refused_in_words(kind, typed, words):
    with pytest.raises(FieldError) as refused:
        check_value(FieldDef("cost", kind), typed)
    assert str(refused.value) == words


def test_numbers_sort_as_numbers():
    cost = FieldDef("cost", FieldKind.NUMBER)
    assert sorted(["10", "9", "100"], key=lambda v: sort_value(cost, v)) == ["9", "10", "100"]


def test_definitions_survive_a_restart_and_junk_is_skipped(qapp, tmp_path):
    settings = QSettings(str(tmp_path / "p.conf"), QSettings.Format.IniFormat)
    prefs = preferences.Preferences(settings)
    defs = [FieldDef("owner"), FieldDef("cost", FieldKind.NUMBER),
            FieldDef("expires", FieldKind.DATE)]
    prefs.set_value(preferences.CUSTOM_FIELDS, to_stored(defs) + [{"kind": "number"}, 7])
    again = preferences.Preferences(QSettings(str(tmp_path / "p.conf"),
                                              QSettings.Format.IniFormat))
    assert from_stored(again.value(preferences.CUSTOM_FIELDS)) == [
        FieldDef("cost", FieldKind.NUMBER), FieldDef("expires", FieldKind.DATE),
        FieldDef("owner")]
