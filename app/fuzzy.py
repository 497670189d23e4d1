"""Fuzzy matching for the command palette: what the user typed against names.

A palette is typed into one key at a time over every command, server and VM — 10,000 VMs
on a big site — so the matcher is built for that shape: the names are indexed once
(``FuzzyIndex``, lower-cased with their character sets), each query is compiled once
(``FuzzyQuery``), and the cheap tests run first, in C: a substring (``str.find``), then an
in-order subsequence (one compiled regular expression). Only names that fail both are
tried for typos, and only those that share enough characters with the query (a set
difference) reach the edit-distance scan, Myers' bit-parallel algorithm over Python
integers, which finds the least edits between the query and any stretch of the name.
benchmarks/palette_fuzzy.py measures it over 10,000 names.

Ranking, best first: the whole name, a prefix, the start of a word ("db" in "web-db-01"),
anywhere in the name, the letters in order with gaps (fewer and shorter gaps first), and
last the names within the allowed number of typos (fewer first). Within a rank a shorter
name wins, so "web" puts "web" before "web-frontend-old".
"""
from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import Sequence

# Rank bases: every score of a better kind beats every score of a worse one.
EXACT, PREFIX, WORD_START, SUBSTRING, SUBSEQUENCE, TYPO = 6000, 5000, 4000, 3000, 2000, 1000
_WORD_BREAKS = " -_./:@"


def allowed_typos(query: str) -> int:
    """Edits tolerated for a query this long: none for 1–3 characters (anything would
    match), one for 4–7, two from 8 on."""
    n = len(query)
    return 0 if n < 4 else 1 if n < 8 else 2


class FuzzyQuery:
    """One typed query, compiled once and scored against many lower-cased names."""

    def __init__(self, query: str) -> None:
        self.text = query.strip().lower()
        q = self.text
        self.max_typos = allowed_typos(q)
        self._chars = frozenset(q)
        # Whether the letters are there in order: a pattern that cannot backtrack (each
        # gap skips only what is not the next letter), then, for names that pass, lazy
        # gaps with groups to see where the letters landed.
        self._has_in_order = re.compile("".join(
            (f"[^{re.escape(c)}]*" if i else "") + re.escape(c) for i, c in enumerate(q)))
        self._in_order = re.compile(".*?".join(f"({re.escape(c)})" for c in q))
        self._pairs = sorted({q[i:i + 2] for i in range(len(q) - 1)})
        self._peq: dict[str, int] = {}
        for i, c in enumerate(q):
            self._peq[c] = self._peq.get(c, 0) | (1 << i)

    def score(self, name: str, chars: frozenset[str] | None = None) -> float | None:
        """How well ``name`` (already lower case) matches; None when it does not.
        ``chars`` is the name's character set when the caller has it (FuzzyIndex)."""
        close = self.close_score(name)
        return close if close is not None else self.typo_score(name, chars)

    def close_score(self, name: str) -> float | None:
        """The score of a name holding the query's letters as typed (whole, in a piece,
        or in order); None for one that needs edits."""
        q = self.text
        if not q:
            return float(EXACT)
        brevity = 1.0 / (1 + len(name))     # < 1: orders names within a rank
        at = name.find(q)
        if at >= 0:
            if len(name) == len(q):
                return EXACT + brevity
            if at == 0:
                return PREFIX + brevity
            if _starts_word(name, at) or _starts_word_anywhere(name, q, at):
                return WORD_START + brevity
            return SUBSTRING + brevity - at / 1000
        found = self._in_order.search(name) if self._has_in_order.search(name) else None
        if found is not None:
            span = found.end() - found.start()
            gaps = span - len(q)
            starts = sum(1 for g in range(1, len(q) + 1) if _starts_word(name, found.start(g)))
            return SUBSEQUENCE + min(900.0, 10.0 * starts) - min(900.0, gaps) + brevity
        return None

    def typo_score(self, name: str, chars: frozenset[str] | None = None) -> float | None:
        """The score of a name within ``max_typos`` edits of the query; None beyond.
        Two cheap necessary conditions go first: each edit loses at most one of the
        query's distinct letters and at most two of its distinct letter pairs."""
        k = self.max_typos
        if k == 0 or len(name) < len(self.text) - k:
            return None
        if len(self._chars - (chars if chars is not None else frozenset(name))) > k:
            return None
        pairs = self._pairs
        if len(pairs) > 2 * k:
            shared = sum(1 for p in pairs if p in name)
            if shared < len(pairs) - 2 * k:
                return None
        distance = self.substring_distance(name)
        if distance > self.max_typos:
            return None
        return TYPO - 100.0 * distance + 1.0 / (1 + len(name))

    def substring_distance(self, name: str) -> int:
        """The least edits (insert, delete, replace) turning the query into some stretch
        of ``name`` — Myers (1999), bit-vectors as Python ints, the text's start free."""
        m = len(self.text)
        mask = (1 << m) - 1
        high = 1 << (m - 1)
        pv, mv, score, best = mask, 0, m, m
        peq = self._peq
        for c in name:
            eq = peq.get(c, 0)
            xv = eq | mv
            xh = (((eq & pv) + pv) ^ pv) | eq
            ph = mv | (~(xh | pv) & mask)
            mh = pv & xh
            if ph & high:
                score += 1
            elif mh & high:
                score -= 1
            if score < best:
                best = score
            ph = (ph << 1) & mask
            mh = (mh << 1) & mask
            pv = mh | (~(xv | ph) & mask)
            mv = ph & xv
        return best


def _starts_word(name: str, at: int) -> bool:
    return at == 0 or name[at - 1] in _WORD_BREAKS


def _starts_word_anywhere(name: str, q: str, first: int) -> bool:
    at = name.find(q, first + 1)
    while at >= 0:
        if _starts_word(name, at):
            return True
        at = name.find(q, at + 1)
    return False


@dataclass(frozen=True)
class Match:
    index: int          # into the indexed names
    score: float


class FuzzyIndex:
    """Names prepared once for many queries (the palette rebuilds it when it opens)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = [n.lower() for n in names]
        # Each name's letters, made when a typo search first needs them (most queries
        # never do; the palette rebuilds the index each time it opens).
        self._chars: list[frozenset[str] | None] = [None] * len(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def search(self, query: str, limit: int = 50) -> list[Match]:
        """The ``limit`` best matches, best first; every name (in order) for an empty query."""
        compiled = FuzzyQuery(query)
        if not compiled.text:
            return [Match(i, float(EXACT)) for i in range(min(limit, len(self._names)))]
        scored = []
        misses = []
        close = compiled.close_score
        for i, name in enumerate(self._names):
            s = close(name)
            if s is None:
                misses.append(i)
            else:
                scored.append((s, -i))
        # Typos rank below every match as typed: look for them only when the list has
        # room left (a short or mistyped query), never when the page is already full.
        if len(scored) < limit:
            typo = compiled.typo_score
            for i in misses:
                chars = self._chars[i]
                if chars is None:
                    chars = self._chars[i] = frozenset(self._names[i])
                s = typo(self._names[i], chars)
                if s is not None:
                    scored.append((s, -i))
        best = heapq.nlargest(limit, scored)
        return [Match(-neg, s) for s, neg in best]


def rank(query: str, names: Sequence[str], limit: int = 50) -> list[str]:
    """The best-matching names for a query, best first (for one-off uses and tests)."""
    return [names[m.index] for m in FuzzyIndex(names).search(query, limit)]
