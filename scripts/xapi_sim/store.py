"""The simulator's objects and their change log, shared by every thread that serves.

Every change bumps one generation counter and remembers, per object, the generation it
was created and last changed at; deletions leave a tombstone. event.from(token) is then
"everything changed after generation N", each object once with its current snapshot (as
xapi coalesces), and a waiting caller is woken by the condition variable the moment any
thread changes something."""
from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections import OrderedDict
from typing import Callable, Iterable

from . import schema
from .errors import Failure
from .statedb import Database


def new_ref() -> str:
    return f"OpaqueRef:{uuidlib.uuid4()}"


def public(record: dict[str, object]) -> dict[str, object]:
    """A record as the API shows it: without the database's own bookkeeping (_ref, __ctime)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


class Store:
    """Tables of records guarded by one lock, with the generation-stamped change log."""

    TOMBSTONES = 10_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # Continues where the file's writer stopped, so event.from tokens from before a
        # restart are still in the past (xapi keeps generation_count in the manifest).
        count = db.manifest.get("generation_count", "1")
        self.generation = max(1, int(count)) if count.isdigit() else 1
        # (cls, ref) -> generation of the last change, oldest first.
        self._log: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._created: dict[tuple[str, str], int] = {}
        self._tombstones: list[tuple[int, str, str, dict[str, object]]] = []
        self._listeners: list[Callable[[str, str], None]] = []
        self._horizon = 0           # tokens before this generation: EVENTS_LOST
        self.by_uuid: dict[str, tuple[str, str]] = {}
        for cls in schema.TYPES:
            db.tables.setdefault(cls, {})
        for cls, rows in db.tables.items():
            for ref, row in rows.items():
                self._created[(cls, ref)] = 0
                if isinstance(row.get("uuid"), str):
                    self.by_uuid[str(row["uuid"])] = (cls, ref)

    # --- reading -----------------------------------------------------------------------
    def table(self, cls: str) -> dict[str, dict[str, object]]:
        return self.db.tables.setdefault(cls, {})

    def get(self, cls: str, ref: str) -> dict[str, object]:
        """The record, or HANDLE_INVALID as xapi says for a wrong or stale reference."""
        row = self.db.tables.get(cls, {}).get(ref)
        if row is None:
            raise Failure("HANDLE_INVALID", cls, ref)
        return row

    def find(self, cls: str, **match: object) -> list[str]:
        return [ref for ref, row in self.table(cls).items()
                if all(row.get(k) == v for k, v in match.items())]

    # --- writing (callers hold self.lock) ---------------------------------------------
    def _touch(self, cls: str, ref: str) -> None:
        self.generation += 1
        key = (cls, ref)
        self._log[key] = self.generation
        self._log.move_to_end(key)
        self.changed.notify_all()
        for listener in self._listeners:
            listener(cls, ref)

    def add(self, cls: str, record: dict[str, object], ref: str | None = None) -> str:
        with self.lock:
            ref = ref or new_ref()
            if not record.get("uuid"):
                record["uuid"] = str(uuidlib.uuid4())
            self.table(cls)[ref] = record
            self.by_uuid[str(record["uuid"])] = (cls, ref)
            self._created[(cls, ref)] = self.generation + 1
            self._touch(cls, ref)
            return ref

    def update(self, cls: str, ref: str, **fields: object) -> None:
        with self.lock:
            row = self.get(cls, ref)
            if all(row.get(k) == v for k, v in fields.items()):
                return
            row.update(fields)
            self._touch(cls, ref)

    def mutate(self, cls: str, ref: str, change: Callable[[dict[str, object]], object]) -> None:
        """Change a record in place (sets and maps) and log it as one change."""
        with self.lock:
            change(self.get(cls, ref))
            self._touch(cls, ref)

    def remove(self, cls: str, ref: str) -> None:
        with self.lock:
            row = self.table(cls).pop(ref, None)
            if row is None:
                raise Failure("HANDLE_INVALID", cls, ref)
            self.by_uuid.pop(str(row.get("uuid")), None)
            self._log.pop((cls, ref), None)
            self._created.pop((cls, ref), None)
            self.generation += 1
            self._tombstones.append((self.generation, cls, ref, public(row)))
            del self._tombstones[:-self.TOMBSTONES]
            self.changed.notify_all()
            for listener in self._listeners:
                listener(cls, ref)

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(cls, ref)`` (under the lock: keep it quick) after every change."""
        self._listeners.append(listener)

    # --- the change log -----------------------------------------------------------------
    def changes_since(self, generation: int, classes: Iterable[str]) -> list[dict[str, object]]:
        """event.from's events: each object changed after ``generation`` once, oldest first."""
        wanted = set(classes)
        every = "*" in wanted
        events: list[dict[str, object]] = []
        with self.lock:
            for (cls, ref), gen in reversed(self._log.items()):
                if gen <= generation:
                    break
                if every or cls.lower() in wanted:
                    created = self._created.get((cls, ref), 0)
                    fresh = generation == 0 or created > generation
                    events.append(_event(gen, cls, "add" if fresh else "mod",
                                         ref, public(self.table(cls)[ref])))
            events.reverse()
            if generation == 0:
                events = [_event(self._log.get((c, r), 0), c, "add", r, public(row))
                          for c, rows in self.db.tables.items()
                          if every or c.lower() in wanted
                          for r, row in rows.items() if (c, r) not in self._log] + events
            for gen, cls, ref, snap in self._tombstones:
                if gen > generation and (every or cls.lower() in wanted):
                    events.append(_event(gen, cls, "del", ref, snap))
        return events

    def oldest_tombstone(self) -> int:
        with self.lock:
            return self._tombstones[0][0] if len(self._tombstones) >= self.TOMBSTONES else 0

    def forget_history(self) -> None:
        """Drop the change log as xapi does when a client fell too far behind: every
        token handed out so far now gets EVENTS_LOST (a waiting event.from too), and
        the client must start again from a full snapshot (token "")."""
        with self.lock:
            self.generation += 1
            self._horizon = self.generation
            self.changed.notify_all()

    def events_lost(self, since: int) -> bool:
        """Whether changes after generation ``since`` can no longer be told."""
        with self.lock:
            return since > 0 and (since < self._horizon or
                                  since < self.oldest_tombstone())

    def counts(self, classes: Iterable[str]) -> dict[str, int]:
        wanted = set(classes)
        with self.lock:
            return {cls: len(rows) for cls, rows in self.db.tables.items()
                    if "*" in wanted or cls.lower() in wanted}


def _event(gen: int, cls: str, op: str, ref: str, snapshot: dict[str, object]) -> dict[str, object]:
    return {"id": gen, "timestamp": f"{time.time():.6f}", "class": cls.lower(),
            "operation": op, "ref": ref, "snapshot": snapshot}


def set_field(row: dict[str, object], name: str) -> list[str]:
    """A record's set field (a list, made empty if missing), to change in place."""
    value = row.setdefault(name, [])
    assert isinstance(value, list)
    return value


def map_field(row: dict[str, object], name: str) -> dict[str, str]:
    value = row.setdefault(name, {})
    assert isinstance(value, dict)
    return value


def int_field(row: dict[str, object], name: str) -> int:
    value = row.get(name, 0)
    return int(value) if isinstance(value, (int, float, str)) and value != "" else 0


def unlink(store: Store, cls: str, ref: str, name: str, item: str) -> None:
    """Take ``item`` out of the set field ``name`` of a record, if both are there."""
    if ref in store.table(cls) and item in set_field(store.table(cls)[ref], name):
        store.mutate(cls, ref, lambda row: set_field(row, name).remove(item))


def link(store: Store, cls: str, ref: str, name: str, item: str) -> None:
    if ref in store.table(cls) and item not in set_field(store.table(cls)[ref], name):
        store.mutate(cls, ref, lambda row: set_field(row, name).append(item))
