"""What a query's terms mean, compiled once into one predicate over search items.

A ``SearchItem`` is a VM as search sees it: its record plus its host, with the text it is
matched on case-folded once (when the inventory changes), not for every query. A query
becomes nested closures (``compile_query``): a search over 10,000 VMs then costs one
call chain per VM, with no tree walk, no re-parsing and no re-folding per row; AND
and OR short-circuit, and cheap terms run before the live CPU lookup.

Meanings (README "Search" says the same for users):
- bare word / ``name:`` / ``desc:``: contained in the name (or the description), any case;
- ``tag:``: one of the VM's tags, whole; ``folder:``: the folder or one below it
  (``folder:/prod`` matches /prod and /prod/web, not /production);
- ``host:``: contained in the server's name or URI; ``os:`` in the guest OS's libosinfo
  id, the OS type, architecture or virtualization (``os:debian``, ``os:win``,
  ``os:aarch64``, ``os:xen``);
- ``state:``: running, paused, off (shut off), suspended, crashed, shutting down,
  pmsuspended, unknown, or active / inactive;
- ``cpu`` (live CPU %, from the performance sampling; a VM without a sample matches no
  comparison), ``mem`` (assigned memory; K/M/G/T, binary; a bare number is MiB),
  ``vcpus``: compared with > >= < <= = != (``:`` is =);
- any other ``word:value``: the custom field of that name, whole value; compared with
  numbers or ISO dates (``cost>100``, ``expires<2027-01-01``);
- ``*`` and ``?`` in a text value are wildcards over the whole value.
"""
from __future__ import annotations

import datetime
import fnmatch
import functools
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.search.query import And, Expr, Not, QueryError, Term, parse
from connectors.libvirt.model import VMInfo, VMState

TEXT_FIELDS = ("name", "desc", "tag", "folder", "host", "os", "state")
NUMBER_FIELDS = ("cpu", "mem", "vcpus")
FIELD_NAMES = TEXT_FIELDS + NUMBER_FIELDS
ALIASES = {"description": "desc", "memory": "mem", "vcpu": "vcpus", "tags": "tag",
           "server": "host"}

STATE_WORDS: dict[str, frozenset[VMState]] = {
    "running": frozenset({VMState.RUNNING}),
    "paused": frozenset({VMState.PAUSED}),
    "off": frozenset({VMState.SHUTOFF}),
    "shutoff": frozenset({VMState.SHUTOFF}),
    "shut off": frozenset({VMState.SHUTOFF}),
    "stopped": frozenset({VMState.SHUTOFF}),
    "suspended": frozenset({VMState.SUSPENDED}),
    "crashed": frozenset({VMState.CRASHED}),
    "shutting down": frozenset({VMState.SHUTTING_DOWN}),
    "pmsuspended": frozenset({VMState.PMSUSPENDED}),
    "suspended by guest": frozenset({VMState.PMSUSPENDED}),
    "unknown": frozenset({VMState.UNKNOWN}),
    "active": frozenset(s for s in VMState if s.is_active),
    "inactive": frozenset(s for s in VMState if not s.is_active),
}
STATE_COMPLETIONS = ("running", "paused", "off", "suspended", "crashed", "\"shutting down\"",
                     "pmsuspended", "unknown", "active", "inactive")

UNITS = {"": 1 << 20, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "=": operator.eq, ":": operator.eq, "!=": operator.ne}


@dataclass(slots=True, eq=False)
class SearchItem:
    """One VM as search matches it; built by ``item_of`` when its record changes."""

    conn_id: str
    host: str           # the server's name as the tree shows it
    vm: VMInfo
    name: str           # the rest: case-folded once
    description: str
    tags: frozenset[str]
    folder: str         # "" or "/prod/web", no trailing slash
    fields: dict[str, str]
    host_text: str      # name and URI
    os_text: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.conn_id, self.vm.key)


def item_of(conn_id: str, host: str, uri: str, vm: VMInfo) -> SearchItem:
    return SearchItem(
        conn_id, host, vm, vm.name.casefold(), vm.description.casefold(),
        _tags(vm.tags), _folder(vm.folder.casefold()),
        {k.casefold(): v.casefold() for k, v in vm.custom_fields} if vm.custom_fields else {},
        _host_text(host, uri), _os_text(vm.os_type, vm.arch, vm.virtualization,
                                        vm.domain_type, vm.os_id))


# Thousands of VMs share a handful of hosts, OS kinds and tag sets: their folded text is
# made once (a 10,000-VM reload builds items in a third of the time).
@functools.lru_cache(maxsize=4096)
def _tags(tags: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.casefold() for t in tags)


@functools.lru_cache(maxsize=256)
def _host_text(host: str, uri: str) -> str:
    return f"{host}\n{uri}".casefold()


@functools.lru_cache(maxsize=256)
def _os_text(os_type: str, arch: str, virtualization: str, domain_type: str,
             os_id: str) -> str:
    return f"{os_id}\n{os_type}\n{arch}\n{virtualization}\n{domain_type}".casefold()


CpuOf = Callable[[SearchItem], float]
Predicate = Callable[[SearchItem], bool]


def _no_cpu(item: SearchItem) -> float:
    return math.nan


@dataclass(frozen=True)
class CompiledQuery:
    """``predicate(item)``: the whole query; ``required_tags``/``required_states``: what
    every match must have (the query's top-level AND's tag and state terms), which an
    index answers by set lookups, and ``residual`` the rest of the terms, for the items
    the index found;
    ``uses_cpu``: results change with every statistics tick; ``custom_fields``: the
    custom field names the query asks about (a typo of a field name shows as one)."""

    text: str
    predicate: Predicate
    residual: Predicate     # the terms an index of tags and states does not answer
    required_tags: frozenset[str] = frozenset()
    required_states: frozenset[VMState] | None = None
    uses_cpu: bool = False
    custom_fields: frozenset[str] = frozenset()


def compile_query(text: str, cpu_of: CpuOf = _no_cpu) -> CompiledQuery:
    """Parses and compiles ``text``; raises QueryError (with its column) when malformed
    or when a term asks for something no VM can have (``state:runing``, ``mem>2X``)."""
    expr = parse(text)
    if expr is None:
        return CompiledQuery(text, _always, _always)
    builder = _Builder(cpu_of)
    predicate = builder.build(expr)
    tags: set[str] = set()
    states: frozenset[VMState] | None = None
    rest: list[Expr] = []
    for item in expr.items if isinstance(expr, And) else (expr,):
        term = _canonical(item) if isinstance(item, Term) else None
        if term is not None and term.field == "tag" and term.op in (":", "=") \
                and not _is_pattern(term.value):
            tags.add(term.value.casefold())
        elif term is not None and term.field == "state" and term.op in (":", "="):
            wanted = _states(term)
            states = wanted if states is None else states & wanted
        else:
            rest.append(item)
    residual: Predicate
    if not rest:
        residual = _always
    else:
        residual = builder.build(rest[0] if len(rest) == 1 else And(tuple(rest)))
    return CompiledQuery(text, predicate, residual, frozenset(tags), states,
                         builder.uses_cpu, frozenset(builder.custom_fields))


def _always(item: SearchItem) -> bool:
    return True


def _and(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) and b(item)


def _or(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) or b(item)


def _canonical(term: Term) -> Term:
    field = ALIASES.get(term.field, term.field)
    return term if field == term.field else Term(field, term.op, term.value, term.position,
                                                 term.quoted)


def _is_pattern(value: str) -> bool:
    return "*" in value or "?" in value


def _folder(path: str) -> str:
    path = path.strip()
    if not path:
        return ""
    return "/" + path.strip("/") if path.strip("/") else "/"


def _states(term: Term) -> frozenset[VMState]:
    wanted = STATE_WORDS.get(" ".join(term.value.casefold().replace("_", " ").split()))
    if wanted is None:
        raise QueryError(f"no state is called “{term.value}”; states: "
                         + ", ".join(s.strip('"') for s in STATE_COMPLETIONS), term.position)
    return wanted


def parse_size(term: Term) -> float:
    """``mem`` values in bytes: "2G" (GiB), "512M", "1.5T", "2048" (MiB)."""
    match = _SIZE.fullmatch(term.value.strip())
    if match is None:
        raise QueryError(f"“{term.value}” is not a memory size (examples: 512M, 2G, 1.5T)",
                         term.position)
    return float(match.group(1)) * UNITS[match.group(2).lower()]


def _number(term: Term, what: str) -> float:
    try:
        value = float(term.value.rstrip("%"))
    except ValueError:
        raise QueryError(f"{what} is compared with a number, not “{term.value}”",
                         term.position) from None
    if math.isnan(value):
        raise QueryError(f"{what} is compared with a number, not “{term.value}”",
                         term.position)
    return value


def _comparable(text: str) -> float | None:
    """A custom field's value as a number, or an ISO date as its ordinal; else None."""
    try:
        value = float(text)
        return None if math.isnan(value) else value
    except ValueError:
        pass
    try:
        return float(datetime.date.fromisoformat(text.strip()).toordinal())
    except ValueError:
        return None


def _text_matcher(term: Term, contains: bool) -> Callable[[str], bool]:
    """Whole-value wildcard match when the value has * or ?, else containment or
    equality, all case-folded."""
    value = term.value.casefold()
    if _is_pattern(value):
        regex = re.compile(fnmatch.translate(value), re.DOTALL)
        return lambda text: regex.match(text) is not None
    if contains:
        return lambda text: value in text
    return lambda text: text == value


class _Builder:
    def __init__(self, cpu_of: CpuOf) -> None:
        self.cpu_of = cpu_of
        self.uses_cpu = False
        self.custom_fields: set[str] = set()

    def build(self, expr: Expr) -> Predicate:
        if isinstance(expr, Term):
            return self.term(_canonical(expr))
        if isinstance(expr, Not):
            inner = self.build(expr.item)
            return lambda item: not inner(item)
        parts = [self.build(e) for e in self._cheap_first(expr.items)]
        # Folded from the right into two-way closures: a(x) and (b(x) and c(x)) costs a
        # call per term; all() over a generator cost a generator per item.
        combined = parts[-1]
        for part in reversed(parts[:-1]):
            combined = _and(part, combined) if isinstance(expr, And) else _or(part, combined)
        return combined

    @staticmethod
    def _cheap_first(items: tuple[Expr, ...]) -> list[Expr]:
        """The live CPU lookup last: AND and OR stop before it when they can."""
        def costly(e: Expr) -> bool:
            return isinstance(e, Term) and _canonical(e).field == "cpu"
        return sorted(items, key=costly)

    def term(self, term: Term) -> Predicate:
        field, op = term.field, term.op
        if field in NUMBER_FIELDS:
            return self.number(term)
        if field in TEXT_FIELDS or field == "":
            if op not in (":", "=", "!="):
                raise QueryError(f"{field or 'a word'} is text: use {field or 'name'}:value, "
                                 f"not “{op}”", term.position)
            match = self.text(term)
            if op == "!=":
                return lambda item: not match(item)
            return match
        self.custom_fields.add(field)
        if op in (":", "=", "!="):
            matches = _text_matcher(term, contains=False)

            def has(item: SearchItem) -> bool:
                value = item.fields.get(field)
                return value is not None and matches(value)
            return (lambda item: not has(item)) if op == "!=" else has
        wanted = _comparable(term.value)
        if wanted is None:
            raise QueryError(f"“{term.value}” is neither a number nor a date "
                             "(YYYY-MM-DD) to compare with", term.position)
        compare = _OPS[op]

        def compares(item: SearchItem) -> bool:
            value = item.fields.get(field)
            number = None if value is None else _comparable(value)
            return number is not None and compare(number, wanted)
        return compares

    def text(self, term: Term) -> Predicate:
        field = term.field
        if field == "state":
            states = _states(term)
            return lambda item: item.vm.state in states
        if field == "tag":
            value = term.value.casefold()
            if _is_pattern(value):
                matches = _text_matcher(term, contains=False)
                return lambda item: any(matches(t) for t in item.tags)
            return lambda item: value in item.tags
        if field == "folder":
            folder = _folder(term.value.casefold())
            if folder == "/":
                return lambda item: item.folder != ""
            if not folder:
                return lambda item: item.folder == ""
            below = folder + "/"
            return lambda item: item.folder == folder or item.folder.startswith(below)
        contains = _text_matcher(term, contains=True)
        if field == "name":
            return lambda item: contains(item.name)
        if field == "desc":
            return lambda item: contains(item.description)
        if field == "host":
            if _is_pattern(term.value):
                return lambda item: contains(item.host.casefold())
            return lambda item: contains(item.host_text)
        if field == "os":
            return lambda item: contains(item.os_text)
        return lambda item: contains(item.name) or contains(item.description)

    def number(self, term: Term) -> Predicate:
        compare = _OPS[term.op]
        if term.field == "mem":
            wanted = parse_size(term) / 1024.0      # records count KiB
            return lambda item: compare(item.vm.memory_kib, wanted)
        if term.field == "vcpus":
            vcpus = _number(term, "vcpus")
            return lambda item: compare(item.vm.vcpus, vcpus)
        percent = _number(term, "cpu")
        cpu_of = self.cpu_of
        self.uses_cpu = True
        # NaN (no sample yet) compares false both ways, and != too: no figure, no match.
        if term.op == "!=":
            return lambda item: (cpu := cpu_of(item)) == cpu and cpu != percent
        return lambda item: compare(cpu_of(item), percent)
