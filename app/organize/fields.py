"""Custom fields, defined once (name and kind: text, number or date) and set per VM.

Definitions are the user's, kept in the app's preferences (``organize/fields``), because
they say how this console shows and checks values; the values are the VM's, kept in its
domain metadata, so another console or ``virsh`` may hold a value for a field this one has
not defined: it is shown as text, and can be defined later.

Values are stored as text in a form that sorts and compares well: numbers as written by
``repr(float)`` without a useless ".0", dates as ISO 8601 (YYYY-MM-DD).
"""
from __future__ import annotations

import datetime
import enum
import math
from dataclasses import dataclass
from typing import Any, Iterable

from connectors.libvirt.domxml.organize import MAX_FIELD_NAME, normal_fields


class FieldKind(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class FieldDef:
    name: str
    kind: FieldKind = FieldKind.TEXT


class FieldError(ValueError):
    """A value that is not of its field's kind, worded for the user."""


def valid_name(name: str) -> str:
    """The name as stored, or FieldError."""
    cleaned = normal_fields([(name, "x")])
    if not cleaned:
        raise FieldError("A field needs a name.")
    found = cleaned[0][0]
    if len(name.strip()) > MAX_FIELD_NAME:
        raise FieldError(f"A field name has at most {MAX_FIELD_NAME} characters.")
    return found


def check_value(field: FieldDef, value: str) -> str:
    """The value as stored ("" removes the field from the VM), or FieldError."""
    text = value.strip()
    if not text or field.kind is FieldKind.TEXT:
        return text
    if field.kind is FieldKind.NUMBER:
        number = _number(text)
        if number is None or not math.isfinite(number):
            raise FieldError(f"{field.name} is a number; “{text}” is not one.")
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldError(f"{field.name} is a date (YYYY-MM-DD); “{text}” is not one."
                         ) from None


def _number(text: str) -> float | None:
    """A number as people type it: "1.5", "1,5" (decimal comma), "1e3"."""
    for candidate in (text, text.replace(",", ".") if text.count(",") == 1 else text):
        try:
            return float(candidate)
        except ValueError:
            continue
    return None


def sort_value(field: FieldDef | None, value: str) -> tuple[int, float, str]:
    """A key that orders values of a field as their kind does (2 before 10)."""
    if field is not None and field.kind is FieldKind.NUMBER:
        try:
            return (0, float(value), value)
        except ValueError:
            pass
    return (1, 0.0, value.casefold())


def to_stored(defs: Iterable[FieldDef]) -> list[dict[str, str]]:
    return [{"name": d.name, "kind": d.kind.value} for d in defs]


def from_stored(raw: Any) -> list[FieldDef]:
    """Definitions from the preference's list; anything unreadable is skipped, a name
    defined twice keeps its first kind."""
    found: dict[str, FieldDef] = {}
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            name = valid_name(str(entry.get("name", "")))
            kind = FieldKind(str(entry.get("kind", "text")))
        except ValueError:
            continue
        found.setdefault(name, FieldDef(name, kind))
    return sorted(found.values(), key=lambda d: d.name.casefold())
