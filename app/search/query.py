"""The search language: text → a small syntax tree, or one QueryError saying where.

What a user types into the query bar::

    tag:web AND state:running AND cpu>50
    folder:/prod (host:kvm1 OR host:kvm2) NOT tag:legacy
    mem>=2G vcpus>=4 "db server"    owner:alice    cost>100

- ``field:value`` (``name``, ``state``, ``tag``, ``folder``, ``host``, ``os``, ``desc``,
  and any other word: a custom field of that name); ``field<op>number`` with ``>``,
  ``>=``, ``<``, ``<=``, ``=``, ``!=`` (``cpu``, ``mem`` with K/M/G/T, ``vcpus``, or a
  custom field holding a number or an ISO date);
- ``AND``, ``OR``, ``NOT`` (any case), parentheses; words side by side mean AND;
- ``"quoted strings"`` (``\\"`` and ``\\\\`` inside) for values with spaces or
  parentheses, and for a bare word that is a keyword (``"not"``);
- a bare word or string matches a VM's name or description.

Why a hand-written recursive descent parser: the grammar is a dozen lines, every error
must name the column it happened at (the query bar underlines it), and the result is
checked by hypothesis (tests/unit/test_search_fuzz.py) never to raise anything but
QueryError and never to recurse without bound (nesting is capped at MAX_DEPTH).

No Qt and no libvirt here: the meaning of a term (what ``state:`` accepts, units) is
app/search/compile.py's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

MAX_DEPTH = 64          # parentheses and NOTs: deeper is refused, not a RecursionError
MAX_LENGTH = 10_000     # characters; a pasted log is not a query

COMPARISONS = (">=", "<=", "!=", ">", "<", "=")
_SPECIAL = set('()":<>=!')
KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT"}


class QueryError(ValueError):
    """A malformed query: ``message`` in words, ``position`` the 0-based column where it
    went wrong (the end of the text for "the query stops too early")."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at column {position + 1})")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    kind: str       # "word", "string", "colon", "op", "lparen", "rparen", "AND", "OR", "NOT"
    text: str       # the word's or string's value (unquoted), the operator
    position: int


@dataclass(frozen=True, slots=True)
class Term:
    """``field`` is "" for a bare word; ``op`` is ":" or a comparison; ``quoted`` says
    the value was a quoted string (taken literally, never a keyword or a number)."""

    field: str
    op: str
    value: str
    position: int
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr: TypeAlias = Term | Not | And | Or


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the query is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(Token("lparen", c, i))
            i += 1
        elif c == ")":
            tokens.append(Token("rparen", c, i))
            i += 1
        elif c == ":":
            tokens.append(Token("colon", c, i))
            i += 1
        elif c in "<>=!":
            op = text[i:i + 2] if text[i:i + 2] in COMPARISONS else c
            if op not in COMPARISONS:
                raise QueryError(f"“{c}” alone is not a comparison (use != for "
                                 "“not equal”, or NOT before a term)", i)
            tokens.append(Token("op", op, i))
            i += len(op)
        elif c == '"':
            start = i
            value, i = _string(text, i)
            tokens.append(Token("string", value, start))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            word = text[start:i]
            keyword = KEYWORDS.get(word.lower())
            tokens.append(Token(keyword or "word", word, start))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """The value of the quoted string opening at ``start`` and the index after it."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise QueryError("this quoted string is not closed (a \" is missing)", start)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def end(self) -> int:
        return len(self.text)

    def parse(self) -> Expr | None:
        if not self.tokens:
            return None
        expr = self.or_expr(0)
        token = self.peek()
        if token is not None:   # only a stray ")" stops or_expr early
            raise QueryError("this “)” closes nothing", token.position)
        return expr

    def or_expr(self, depth: int) -> Expr:
        items = [self.and_expr(depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Expr:
        items = [self.unary(depth)]
        while (token := self.peek()) is not None and token.kind not in ("OR", "rparen"):
            if token.kind == "AND":
                self.take()
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            token = self.peek()
            raise QueryError(f"the query nests deeper than {MAX_DEPTH} levels",
                             token.position if token else self.end())
        token = self.peek()
        if token is None:
            raise QueryError("the query stops where a term should follow", self.end())
        if token.kind == "NOT":
            self.take()
            return Not(self.unary(depth + 1))
        if token.kind == "lparen":
            self.take()
            if (inner := self.peek()) is not None and inner.kind == "rparen":
                raise QueryError("empty parentheses", token.position)
            expr = self.or_expr(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QueryError("this “(” is not closed", token.position)
            self.take()
            return expr
        return self.term()

    def term(self) -> Term:
        token = self.take()
        if token.kind == "string":
            return Term("", ":", token.text, token.position, quoted=True)
        if token.kind in ("AND", "OR"):
            raise QueryError(f"{token.kind} needs a term on its left", token.position)
        if token.kind != "word":
            what = {"rparen": "“)”", "colon": "“:”", "op": f"“{token.text}”"}[token.kind]
            raise QueryError(f"{what} where a term should be", token.position)
        after = self.peek()
        if after is None or after.kind not in ("colon", "op"):
            return Term("", ":", token.text, token.position)
        self.take()
        value = self.peek()
        if value is None:
            raise QueryError(f"“{token.text}{after.text}” needs a value after it",
                             self.end())
        if value.kind not in ("word", "string"):
            if value.kind in ("AND", "OR", "NOT"):
                raise QueryError(f"“{token.text}{after.text}” needs a value, not "
                                 f"{value.kind} (quote it to search for the word)",
                                 value.position)
            raise QueryError(f"“{token.text}{after.text}” needs a value here",
                             value.position)
        self.take()
        return Term(token.text.lower(), after.text, value.text, token.position,
                    quoted=value.kind == "string")


def parse(text: str) -> Expr | None:
    """The syntax tree of ``text``; None for an empty query (everything matches).
    Raises QueryError, and only that, for anything malformed."""
    return _Parser(text).parse()
