"""xapi's S-expressions, the way state.db stores sets and maps inside XML attributes.

A set is a node of strings, ``('a' 'b')``; a map a node of two-string nodes,
``(('k' 'v') ('k2' 'v2'))``. xapi writes every atom in single quotes and escapes
backslash, double and single quote with a backslash; its reader takes atoms in single or
double quotes (a backslash keeps the next character whatever it is) and bare symbols.
Attribute values are also "space protected" (Xml_spaces in xapi): a space is written
``%.``, tab ``%t``, newline ``%n``, CR ``%r`` and ``%`` itself ``%%``, so that XML
attribute normalisation cannot eat them."""
from __future__ import annotations

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


def loads(text: str) -> str | list:
    """Parse one S-expression; raises SExprError on anything else."""
    value, end = _parse(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise SExprError(f"trailing text at {end}: {text[end:end + 20]!r}")
    return value


def _skip(text: str, i: int) -> int:
    while i < len(text):
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == ";":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl + 1
        else:
            break
    return i


def _parse(text: str, i: int) -> tuple[str | list, int]:
    if i >= len(text):
        raise SExprError("unexpected end")
    c = text[i]
    if c == "(":
        items: list = []
        i = _skip(text, i + 1)
        while True:
            if i >= len(text):
                raise SExprError("unclosed node")
            if text[i] == ")":
                return items, i + 1
            item, i = _parse(text, i)
            items.append(item)
            i = _skip(text, i)
    if c == ")":
        raise SExprError(f"unexpected ')' at {i}")
    if c in "'\"":
        out = []
        i += 1
        while True:
            if i >= len(text):
                raise SExprError("unclosed string")
            ch = text[i]
            if ch == "\\":
                if i + 1 >= len(text):
                    raise SExprError("dangling backslash")
                out.append(text[i + 1])
                i += 2
            elif ch == c:
                return "".join(out), i + 1
            else:
                out.append(ch)
                i += 1
    start = i
    while i < len(text) and text[i] not in "\"' \t\r\n()":
        i += 1
    return text[start:i], i


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


def protect(text: str) -> str:
    """xapi's Xml_spaces.protect: whitespace and % made safe inside an XML attribute."""
    if not any(c in text for c in _PROTECT):
        return text
    return "".join(_PROTECT.get(c, c) for c in text)


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
