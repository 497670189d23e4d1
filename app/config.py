"""The servers a user added, kept in $XDG_CONFIG_HOME/hvconsole/connections.json.

Two promises to the user: the file is never left half-written (a crash or a full disk
while saving keeps the previous list: connectors.atomic_file.replace_file), and a damaged
file never stops the program (it is moved aside as connections.json.corrupt-<time> and
the user is told in a sentence).
Passwords are never written: a URI that carries one is saved without it.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from connectors.atomic_file import replace_file

log = logging.getLogger(__name__)

FILE_NAME = "connections.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class SavedConnection:
    uri: str


def config_dir() -> Path:
    """$XDG_CONFIG_HOME/hvconsole, with the XDG default ~/.config when unset or relative."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "hvconsole"


def strip_password(uri: str) -> str:
    """The URI without a password in its user part ("ssh://root:pw@h" -> "ssh://root@h")."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[1]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


class ConnectionsStore:
    """Loads and saves the list of saved servers; one file, rewritten whole each time."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / FILE_NAME

    # ---- reading ----

    def load(self) -> tuple[list[SavedConnection], list[str]]:
        """The saved servers and, if something was wrong with the file, sentences saying
        what and what was done about it. Never raises for a bad or unreadable file."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            return [], [f"The list of saved servers ({self.path}) could not be read "
                        f"({exc.strerror or exc}); HVConsole starts without it."]
        try:
            document = json.loads(raw.decode("utf-8"))
            entries = _entries(document)
        except (UnicodeDecodeError, ValueError) as exc:
            return [], [self._move_aside(str(exc))]
        return self._connections(entries)

    def peek_uris(self) -> list[str]:
        """The saved URIs as the file holds them now, touching nothing: a missing,
        unreadable or damaged file is an empty list here, and ``load`` then says why."""
        try:
            entries = _entries(json.loads(self.path.read_bytes().decode("utf-8")))
        except (OSError, UnicodeDecodeError, ValueError):
            return []
        return [c.uri for c in self._connections(entries)[0]]

    def _connections(self, entries: list) -> tuple[list[SavedConnection], list[str]]:
        """The entries' servers, each URI once, and a sentence per entry skipped."""
        connections: list[SavedConnection] = []
        warnings: list[str] = []
        seen: set[str] = set()
        for position, entry in enumerate(entries, 1):
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or not uri.strip():
                warnings.append(f"Saved server number {position} in {self.path} has no "
                                "URI and was skipped.")
                continue
            uri = uri.strip()
            if uri not in seen:
                seen.add(uri)
                connections.append(SavedConnection(uri))
        return connections, warnings

    def _move_aside(self, why: str) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        counter = 1
        while aside.exists():
            counter += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{counter}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            log.warning("cannot move %s aside: %s", self.path, exc)
            return (f"The list of saved servers ({self.path}) is damaged ({why}) and could "
                    f"not be moved aside ({exc.strerror or exc}); HVConsole starts without "
                    "saved servers.")
        return (f"The list of saved servers was damaged ({why}). It was moved to {aside} "
                "and HVConsole starts without saved servers; add them again with "
                "Add Server.")

    # ---- writing ----

    def save(self, connections: list[SavedConnection]) -> None:
        """Replaces the file atomically; raises OSError when the disk refuses."""
        document = {"version": FORMAT_VERSION,
                    "connections": [{"uri": strip_password(c.uri)} for c in connections]}
        data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
        replace_file(self.path, data)


def _entries(document) -> list:
    """The connection entries of a parsed file; ValueError when it has another shape."""
    if isinstance(document, list):   # a bare list is accepted as well
        return document
    if isinstance(document, dict) and isinstance(document.get("connections"), list):
        return document["connections"]
    raise ValueError("it does not hold a list of connections")


def load() -> tuple[list[SavedConnection], list[str]]:
    return ConnectionsStore().load()


def save(connections: list[SavedConnection]) -> None:
    ConnectionsStore().save(connections)
