"""Saved searches (XenCenter's): named queries with how their results are shown, kept in
$XDG_CONFIG_HOME/hvconsole/searches.json and exported or imported as files of the same
format.

The file: ``{"format": "hvconsole-searches", "version": 1, "searches": [{"name", "query",
"group_by", "columns"}, ...]}``. Written whole and atomically
(connectors.atomic_file.replace_file), so a crash while saving keeps the previous list.
A damaged file never stops the program: it is moved aside and the user is told (the
same promise as the saved servers). An imported file is checked entry by entry: a query
that does not parse is skipped and named, and a name already in use gets " (2)" rather
than replacing the user's own.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.config import config_dir
from connectors.atomic_file import replace_file
from app.search.query import QueryError, parse

FILE_NAME = "searches.json"
FORMAT = "hvconsole-searches"
FORMAT_VERSION = 1
GROUPINGS = ("", "host", "state", "tag", "folder")   # "": a flat list
DEFAULT_COLUMNS = ("name", "state", "host", "cpu", "mem", "tags", "folder")


@dataclass(frozen=True, slots=True)
class SavedSearch:
    name: str
    query: str
    group_by: str = ""
    columns: tuple[str, ...] = field(default=DEFAULT_COLUMNS)

    def as_dict(self) -> dict:
        return {"name": self.name, "query": self.query, "group_by": self.group_by,
                "columns": list(self.columns)}


class SearchFileError(ValueError):
    """A searches file that is not one (not JSON, another format, a newer version)."""


def to_document(searches: list[SavedSearch]) -> bytes:
    document = {"format": FORMAT, "version": FORMAT_VERSION,
                "searches": [s.as_dict() for s in searches]}
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def from_document(raw: bytes) -> tuple[list[SavedSearch], list[str]]:
    """The searches in a file and sentences about entries that were skipped; raises
    SearchFileError when the file as a whole is not a searches file."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SearchFileError(f"it is not a JSON file ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT \
            or not isinstance(document.get("searches"), list):
        raise SearchFileError("it is not an HVConsole searches file")
    version = document.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SearchFileError(f"it was written by a newer HVConsole (format version "
                              f"{version}; this one reads up to {FORMAT_VERSION})")
    searches: list[SavedSearch] = []
    skipped: list[str] = []
    for number, entry in enumerate(document["searches"], 1):
        name = entry.get("name") if isinstance(entry, dict) else None
        query = entry.get("query") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip() or not isinstance(query, str):
            skipped.append(f"Search number {number} has no name or no query.")
            continue
        try:
            parse(query)
        except QueryError as exc:
            skipped.append(f"“{name}”: {exc}.")
            continue
        group_by = entry.get("group_by", "")
        columns = entry.get("columns", DEFAULT_COLUMNS)
        if group_by not in GROUPINGS:
            group_by = ""
        if not isinstance(columns, list | tuple) or not columns \
                or not all(isinstance(c, str) for c in columns):
            columns = DEFAULT_COLUMNS
        searches.append(SavedSearch(name.strip(), query, group_by, tuple(columns)))
    return searches, skipped


class SavedSearches(QObject):
    """The user's saved searches in their order; ``changed`` after every change, which
    is on disk by then. Names are unique, ignoring case."""

    changed = Signal()

    def __init__(self, path: str | os.PathLike | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path) if path is not None else config_dir() / FILE_NAME
        self._searches: list[SavedSearch] = []
        self.warnings: list[str] = []
        self.load()

    def __iter__(self):
        return iter(list(self._searches))

    def __len__(self) -> int:
        return len(self._searches)

    def get(self, name: str) -> SavedSearch | None:
        folded = name.casefold()
        return next((s for s in self._searches if s.name.casefold() == folded), None)

    def names(self) -> list[str]:
        return [s.name for s in self._searches]

    # ---- the file ----

    def load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.warnings = [f"The saved searches ({self.path}) could not be read "
                             f"({exc.strerror or exc})."]
            return
        try:
            self._searches, skipped = from_document(raw)
        except SearchFileError as exc:
            self.warnings = [self._move_aside(str(exc))]
            return
        self.warnings = [f"In {self.path}: {s}" for s in skipped]

    def _move_aside(self, why: str) -> str:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return (f"The saved searches ({self.path}) are damaged ({why}) and could not "
                    f"be moved aside ({exc.strerror or exc}).")
        return f"The saved searches were damaged ({why}); the file was moved to {aside}."

    def _store(self, searches: list[SavedSearch]) -> None:
        replace_file(self.path, to_document(searches))
        self._searches = searches
        self.changed.emit()

    # ---- changes (each raises ValueError for a name in use, OSError for the disk) ----

    def save(self, search: SavedSearch, replacing: str | None = None) -> None:
        """Adds ``search``, or replaces the one named ``replacing`` (in its place)."""
        name = search.name.strip()
        if not name:
            raise ValueError("A saved search needs a name.")
        search = replace(search, name=name)
        parse(search.query)     # QueryError (a ValueError) for a malformed query
        searches = list(self._searches)
        old = self.get(replacing) if replacing is not None else None
        clash = self.get(name)
        if clash is not None and clash is not old:
            raise ValueError(f"There is already a saved search called “{clash.name}”.")
        if old is not None:
            searches[searches.index(old)] = search
        else:
            searches.append(search)
        self._store(searches)

    def rename(self, name: str, new_name: str) -> None:
        search = self.get(name)
        if search is None:
            raise KeyError(name)
        self.save(replace(search, name=new_name), replacing=name)

    def delete(self, name: str) -> None:
        search = self.get(name)
        if search is not None:
            self._store([s for s in self._searches if s is not search])

    # ---- files the user moves between computers ----

    def export_to(self, path: str | os.PathLike, names: list[str] | None = None) -> int:
        """Writes the searches (all, or those named) to ``path``; how many."""
        chosen = [s for s in self._searches if names is None or s.name in names]
        replace_file(Path(path), to_document(chosen))
        return len(chosen)

    def import_from(self, path: str | os.PathLike) -> tuple[list[str], list[str]]:
        """Adds the searches of a file; (the names they were added under, sentences about
        what was skipped). Raises SearchFileError or OSError when the file is unusable."""
        searches, skipped = from_document(Path(path).read_bytes())
        merged = list(self._searches)
        added: list[str] = []
        taken = {s.name.casefold() for s in merged}
        for search in searches:
            name, n = search.name, 1
            while name.casefold() in taken:
                n += 1
                name = f"{search.name} ({n})"
            taken.add(name.casefold())
            merged.append(replace(search, name=name))
            added.append(name)
        if added:
            self._store(merged)
        return added, skipped
