"""What the command palette offers and how it finds it: entries from providers, ranked
by app/fuzzy.py.

The palette knows no command, VM or server itself: it asks a list of providers, each
handing over plain ``PaletteEntry`` records (what to show, what running it does). The
window adds a provider for its menus' actions and one for the inventory; another part of
the program adds its own (saved searches) with ``PaletteCatalog.add_provider``, and the
palette, its ranking and its keys stay as they are.

Entries are collected when the palette opens (``refresh``), not per key: 10,000 VMs are
one list and one FuzzyIndex, and each key only re-ranks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Iterator, Protocol

from PySide6.QtGui import QAction, QKeySequence

from app.fuzzy import FuzzyIndex
from app.inventory.model import InventoryModel
from app.search.saved import SavedSearch
from connectors.libvirt.model import VMState

COMMANDS_ONLY = ">"     # typed first (Ctrl+Shift+P puts it there): only commands


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    """One thing the palette can find. ``run`` does it (a command runs, a VM is selected);
    a disabled entry is listed, greyed, with ``why_not``, and does nothing."""

    kind: str                   # "Command", "VM", "Server", "Saved search", …
    title: str                  # what is matched and shown first
    run: Callable[[], object]
    detail: str = ""            # shown beside: a VM's server and state, a command's menu
    keys: str = ""              # a command's shortcut, as the menus show it
    enabled: bool = True
    why_not: str = ""

    @property
    def is_command(self) -> bool:
        return self.kind == "Command"


class PaletteProvider(Protocol):
    """A source of entries, asked each time the palette opens."""

    def entries(self) -> Iterable[PaletteEntry]: ...


class PaletteCatalog:
    """The providers, and the entries of the last ``refresh`` ranked for a query."""

    def __init__(self) -> None:
        self._providers: list[PaletteProvider] = []
        self._entries: list[PaletteEntry] = []
        self._index = FuzzyIndex([])
        self._commands: list[int] = []

    def add_provider(self, provider: PaletteProvider) -> None:
        self._providers.append(provider)

    def refresh(self) -> None:
        self._entries = [e for p in self._providers for e in p.entries()]
        self._index = FuzzyIndex([e.title for e in self._entries])

    def entries(self) -> list[PaletteEntry]:
        return list(self._entries)

    def search(self, query: str, limit: int = 50) -> list[PaletteEntry]:
        """The best entries for what was typed; a leading ">" keeps commands only."""
        commands_only = query.startswith(COMMANDS_ONLY)
        if commands_only:
            query = query[len(COMMANDS_ONLY):]
        # Commands only: rank everything, keep the commands (they are few; ranking is fast).
        wanted = len(self._entries) if commands_only else limit
        found = [self._entries[m.index] for m in self._index.search(query, wanted)]
        if commands_only:
            found = [e for e in found if e.is_command][:limit]
        return found


def plain_text(action: QAction) -> str:
    """An action's menu text without its mnemonic and trailing dots ("&Start…" → "Start")."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…")


def keys_text(action: QAction) -> str:
    """All of an action's shortcuts as the menus show them ("Ctrl+K, Ctrl+Shift+P")."""
    return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                     for k in action.shortcuts() if not k.isEmpty())


class ActionsProvider:
    """The window's menu actions as palette commands: what the menus would run, with the
    same enabled state, shortcut and reason for being disabled (their tooltip)."""

    def __init__(self, menus: Callable[[], Iterable[tuple[str, Iterable[QAction]]]]) -> None:
        self._menus = menus      # (where, its actions) per menu and submenu, at each refresh

    def entries(self) -> Iterable[PaletteEntry]:
        seen: set[int] = set()
        for where, actions in self._menus():
            for action in actions:
                if (action.isSeparator() or action.menu() is not None
                        or id(action) in seen or not action.isVisible()):
                    continue
                seen.add(id(action))
                enabled = action.isEnabled()
                yield PaletteEntry("Command", plain_text(action), action.trigger,
                                   detail=where, keys=keys_text(action), enabled=enabled,
                                   why_not="" if enabled else action.toolTip())


class InventoryProvider:
    """Servers and VMs of the inventory; running one selects it in the tree."""

    def __init__(self, inventory: InventoryModel,
                 select: Callable[[str, str], object]) -> None:
        self._inventory = inventory
        self._select = select

    def entries(self) -> Iterable[PaletteEntry]:
        inventory = self._inventory
        for conn_id in inventory.host_ids():
            host = inventory.host_name(conn_id)
            state = inventory.host_state(conn_id)
            status = state[0].label if state is not None else ""
            yield PaletteEntry("Server", host, partial(self._select, conn_id, conn_id),
                               detail=f"Server · {status}".rstrip(" ·"))
            # One detail string per state, not per VM (10,000 VMs, a handful of states).
            details = {state: f"VM on {host} · {state.value}" for state in VMState}
            select = self._select
            for vm in inventory.vms(conn_id):
                yield PaletteEntry("VM", vm.name, partial(select, conn_id, vm.key),
                                   detail=details[vm.state])


class SavedSearches(Protocol):
    """The saved searches store (app.search.saved.SavedSearches) as the palette reads it."""

    def __iter__(self) -> Iterator[SavedSearch]: ...


class SavedSearchesProvider:
    """Saved searches; running one opens it in the Search tab."""

    def __init__(self, store: SavedSearches, open_search: Callable[[SavedSearch], object]
                 ) -> None:
        self._store = store
        self._open = open_search

    def entries(self) -> Iterable[PaletteEntry]:
        for search in self._store:
            yield PaletteEntry("Saved search", search.name, partial(self._open, search),
                               detail=f"Saved search · {search.query or 'every VM'}")
