"""xapi's S-expressions, the way state.db stores sets and maps inside XML attributes.

A set is a node of strings, ``('a' 'b')``; a map a node of two-string nodes,
``(('k' 'v') ('k2' 'v2'))``. xapi writes every atom in single quotes and escapes
backslash, double and single quote with a backslash; its reader takes atoms in single or
double quotes (a backslash keeps the next character whatever it is) and bare symbols.
Attribute values are also "space protected" (Xml_spaces in xapi): a space is written
``%.``, tab ``%t``, newline ``%n``, CR ``%r`` and ``%`` itself ``%%``, so that XML
attribute normalisation cannot eat them."""
from __future__ import annotations

import re

Node = list  # a node is a list of atoms (str) and nodes


class SExprError(ValueError):
    """The text is not an S-expression xapi would have written or read."""


def _escape(text: str) -> str:
    if not any(c in text for c in "\\\"'"):
        return text
    return "".join("\\" + c if c in "\\\"'" else c for c in text)


def dumps(value: str | list) -> str:
    """The S-expression text of an atom or a (nested) node."""
    if isinstance(value, str):
        return "'" + _escape(value) + "'"
    return "(" + " ".join(dumps(v) for v in value) + ")"


# One token of xapi's S-expression syntax; anything else is an error.
_TOKEN = re.compile(r"""\s+|;[^\n]*(?:\n|$)|(\()|(\))|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|"""
                    r"""([^"'\s()]+)|(.)""", re.S)
_UNESCAPE = re.compile(r"\\(.)", re.S)


def loads(text: str) -> str | list:
    """Parse one S-expression; raises SExprError on anything else."""
    stack: list[list] = []
    result: list = []
    for match in _TOKEN.finditer(text):
        opening, closing, single, double, symbol, bad = match.groups()
        if bad is not None:
            raise SExprError(f"unexpected {bad!r} at {match.start()}")
        if opening:
            stack.append([])
            continue
        if closing:
            if not stack:
                raise SExprError(f"unexpected ')' at {match.start()}")
            item: str | list = stack.pop()
        elif single is not None or double is not None:
            raw = single if single is not None else double
            item = _UNESCAPE.sub(r"\1", raw) if "\\" in raw else raw
        elif symbol is not None:
            item = symbol
        else:
            continue  # whitespace or a comment
        (stack[-1] if stack else result).append(item)
    if stack:
        raise SExprError("unclosed node")
    if len(result) != 1:
        raise SExprError("not one S-expression" if result else "unexpected end")
    return result[0]


def dump_set(items: list[str]) -> str:
    return dumps(list(items))


def dump_map(pairs: dict[str, str]) -> str:
    return dumps([[k, v] for k, v in pairs.items()])


def load_set(text: str) -> list[str]:
    value = loads(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SExprError(f"not a set of strings: {text[:40]!r}")
    return list(value)


def load_map(text: str) -> dict[str, str]:
    value = loads(text)
    if not isinstance(value, list):
        raise SExprError(f"not a map: {text[:40]!r}")
    out: dict[str, str] = {}
    for pair in value:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, str) for v in pair)):
            raise SExprError(f"not a map entry: {pair!r}")
        out[pair[0]] = pair[1]
    return out


_PROTECT = {" ": "%.", "\t": "%t", "\n": "%n", "\r": "%r", "%": "%%"}
_UNPROTECT = {".": " ", "t": "\t", "n": "\n", "r": "\r", "%": "%", "_": "  "}


_PROTECT_TABLE = str.maketrans(_PROTECT)


def protect(text: str) -> str:
    """xapi's Xml_spaces.protect: whitespace and % made safe inside an XML attribute."""
    return text.translate(_PROTECT_TABLE)


def unprotect(text: str) -> str:
    """The inverse of protect; ``%_`` (two spaces) is read as older xapi wrote it."""
    if "%" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%" and i + 1 < len(text) and text[i + 1] in _UNPROTECT:
            out.append(_UNPROTECT[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """The text with what XML cannot carry replaced by U+FFFD, so a document stays readable."""
    return _NOT_XML.sub("\ufffd", text) if _NOT_XML.search(text) else text
