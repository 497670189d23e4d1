"""What the query bar offers as the user types: field names, then the values a field can
take among the VMs known now (tags, folders, servers, states, custom field names).

Plain Python over a SearchIndex: given the text and the cursor, ``complete`` says which
part of the text is being typed (the word under the cursor) and what could replace it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from app.search.compile import FIELD_NAMES, STATE_COMPLETIONS
from app.search.index import SearchIndex

KEYWORDS = ("AND", "OR", "NOT")
NUMERIC_HINTS = {"cpu": ("cpu>50", "cpu<5"), "mem": ("mem>2G", "mem<=512M"),
                 "vcpus": ("vcpus>=4",)}
_WORD = re.compile(r'[^\s()"]*$')


@dataclass(frozen=True)
class Completion:
    start: int                  # the text[start:end] being typed
    end: int
    candidates: list[str]       # each replaces text[start:end] whole


def _quoted(value: str) -> str:
    return f'"{value}"' if any(c.isspace() or c in '()":<>=!' for c in value) else value


def complete(text: str, cursor: int, index: SearchIndex) -> Completion:
    word = _WORD.search(text[:cursor])
    start = word.start() if word else cursor
    typed = text[start:cursor]
    field, colon, value = typed.partition(":")
    if not colon:
        folded = typed.casefold()
        names = [f"{name}:" for name in FIELD_NAMES if name not in NUMERIC_HINTS]
        names += [hint for hints in NUMERIC_HINTS.values() for hint in hints]
        names += [f"{name}:" for name in index.custom_field_names()]
        names += list(KEYWORDS) if start > 0 else []
        found = [n for n in names if n.casefold().startswith(folded)] if typed else names
        return Completion(start, cursor, found)
    key = field.casefold()
    if key == "tag":
        values = index.tags()
    elif key == "folder":
        values = index.folders()
    elif key == "host":
        values = index.hosts()
    elif key == "state":
        values = [s.strip('"') for s in STATE_COMPLETIONS]
    else:
        values = sorted({v for item in index for k, v in item.vm.custom_fields
                         if k.casefold() == key}, key=str.casefold)
    folded = value.casefold()
    found = [f"{field}:{_quoted(v)}" for v in values if v.casefold().startswith(folded)]
    return Completion(start, cursor, found)
