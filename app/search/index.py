"""Every VM as search sees it, with a by-tag and a by-state index.

Why an index: the query users run most has the shape ``tag:X AND state:Y AND ...`` (a
role and a state, then a figure). Over 10,000 VMs, intersecting two sets found by key
leaves a few hundred candidates for the compiled predicate, so even the live CPU lookup
(a ring-buffer read per VM) runs for those only. Queries without such a term walk every
item once, which is still one closure chain per VM (benchmarks/search_query.py).

Plain Python: app/search/live.py keeps it up to date from the inventory's batches.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from app.search.compile import CompiledQuery, SearchItem
from connectors.libvirt.model import VMState

Key = tuple[str, str]   # (conn_id, VM key)
K = TypeVar("K")


def _discard(index: dict[K, set[Key]], index_key: K, key: Key) -> None:
    keys = index.get(index_key)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[index_key]


class SearchIndex:
    def __init__(self) -> None:
        self._items: dict[Key, SearchItem] = {}
        self._by_tag: dict[str, set[Key]] = {}
        self._by_state: dict[VMState, set[Key]] = {}
        # (tag, state): the most common query shape answered by one set, not two.
        self._by_tag_state: dict[tuple[str, VMState], set[Key]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[SearchItem]:
        return iter(self._items.values())

    def get(self, key: Key) -> SearchItem | None:
        return self._items.get(key)

    def put(self, item: SearchItem) -> None:
        """Adds or replaces the item of one VM."""
        key = item.key
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = item
        state = item.vm.state
        for tag in item.tags:
            self._by_tag.setdefault(tag, set()).add(key)
            self._by_tag_state.setdefault((tag, state), set()).add(key)
        self._by_state.setdefault(state, set()).add(key)

    def put_all(self, items: Iterable[SearchItem]) -> None:
        for item in items:
            self.put(item)

    def remove(self, key: Key) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)

    def remove_host(self, conn_id: str) -> None:
        for key in [k for k in self._items if k[0] == conn_id]:
            self.remove(key)

    def _unindex(self, key: Key, item: SearchItem) -> None:
        state = item.vm.state
        for tag in item.tags:
            _discard(self._by_tag, tag, key)
            _discard(self._by_tag_state, (tag, state), key)
        _discard(self._by_state, state, key)

    # ---- what completion offers ----

    def tags(self) -> list[str]:
        """Every tag in use, as the VMs spell it (the first spelling met)."""
        spelled: dict[str, str] = {}
        for item in self._items.values():
            for tag in item.vm.tags:
                spelled.setdefault(tag.casefold(), tag)
        return sorted(spelled.values(), key=str.casefold)

    def folders(self) -> list[str]:
        """Every folder in use and each of its parents (/prod for /prod/web)."""
        found: set[str] = set()
        for item in self._items.values():
            parts = [p for p in item.vm.folder.split("/") if p]
            for depth in range(1, len(parts) + 1):
                found.add("/" + "/".join(parts[:depth]))
        return sorted(found, key=str.casefold)

    def hosts(self) -> list[str]:
        return sorted({item.host for item in self._items.values()}, key=str.casefold)

    def custom_field_names(self) -> list[str]:
        names: dict[str, str] = {}
        for item in self._items.values():
            for name, _value in item.vm.custom_fields:
                names.setdefault(name.casefold(), name)
        return sorted(names.values(), key=str.casefold)

    # ---- searching ----

    def candidates(self, query: CompiledQuery) -> Iterable[SearchItem]:
        """The items with every one of the query's required tags and in one of its
        required states: exactly those (set lookups and C-level intersections), so that
        only the query's ``residual`` terms are left to check on them."""
        items = self._items
        states = query.required_states
        tags = query.required_tags
        if not tags:
            if states is None:
                return items.values()
            return [items[k] for state in states for k in self._by_state.get(state, ())]
        found: list[SearchItem] = []
        empty: set[Key] = set()
        for state in states if states is not None else (None,):
            if state is None:
                sets = [self._by_tag.get(tag, empty) for tag in tags]
            else:
                sets = [self._by_tag_state.get((tag, state), empty) for tag in tags]
            sets.sort(key=len)
            keys = sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]
            found += [items[k] for k in keys]
        return found

    def search(self, query: CompiledQuery) -> list[SearchItem]:
        """The matches, in no particular order (the results model sorts)."""
        residual = query.residual
        return [item for item in self.candidates(query) if residual(item)]
