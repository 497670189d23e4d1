"""Parsing and writing domain XML, and the small element helpers the typed views use.

ElementTree keeps everything a domain document holds that libvirt cares about (elements,
attributes in their order, text, the whitespace between elements) except the prefixes of
namespaces: it names ``<qemu:commandline>`` ``{http://libvirt.org/schemas/domain/qemu/1.0}
commandline`` and would write it back as ``ns0:commandline``. libvirt itself finds such
elements by URI, but "unknown elements kept verbatim" means the prefix too, so each parsed
document remembers the prefixes it declared (``Prefixes``) and ``write`` writes them back,
declaring each namespace where it is first used: canonical XML (C14N 2.0) is the same.

Parsing is the C parser only; batches of documents go through one parser (making a
parser costs as much as parsing a short domain XML), which is what reading 10,000 domains
at connect needs.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterable, Mapping, Sequence

Element = ET.Element
Prefixes = dict[str, str]          # namespace URI -> prefix ("" for a default namespace)

BATCH = 50                         # documents parsed as one

_DECLARATION = re.compile(r"""\bxmlns(?::([A-Za-z_][\w.\-]*))?\s*=\s*(['"])(.*?)\2""")


class DomainXMLError(ValueError):
    """The text is not a domain's XML (not well-formed, or another root element).
    ``position``: (line, column) of a syntax error, for an editor to point at."""

    def __init__(self, message: str, position: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.position = position


def prefixes_of(text: str) -> Prefixes:
    """The namespace prefixes a document declares, by URI (the first declaration wins)."""
    found: Prefixes = {}
    if "xmlns" not in text:
        return found
    for prefix, _quote, uri in _DECLARATION.findall(text):
        found.setdefault(uri, prefix)
    return found


def root_declarations(text: str) -> list[tuple[str, str]]:
    """(prefix, URI) of the namespaces declared on the root element itself (libvirt
    declares driver namespaces such as qemu: there), to write them back there."""
    if "xmlns" not in text:
        return []
    start = text.find("<", text.find("<domain") if "<domain" in text else 0)
    end = text.find(">", start)
    return [(p, u) for p, _q, u in _DECLARATION.findall(text[start:end])]


def parse_element(text: str, *, comments: bool = True) -> Element:
    """One document's root element; comments inside it are kept when ``comments``."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=comments,
                                                insert_pis=comments))
    try:
        parser.feed(text)
        return parser.close()
    except ET.ParseError as err:
        line, column = err.position
        raise DomainXMLError(f"The domain XML is not well-formed: {err}",
                             (line, column)) from None


def parse_elements(documents: Sequence[str | None]) -> list[Element | None]:
    """Each document's root element (None stays None), for reading: comments are left
    out. Batches of documents are parsed as one; a document that cannot be joined with
    others (a declaration, a doctype, text outside its root) is parsed alone, and one
    that is not a single well-formed element raises DomainXMLError."""
    present = [doc for doc in documents if doc is not None]
    roots: list[Element] = []
    for i in range(0, len(present), BATCH):
        batch = present[i:i + BATCH]
        joined = _parse_joined(batch)
        if joined is None:
            joined = [parse_element(doc, comments=False) for doc in batch]
        roots.extend(joined)
    found = iter(roots)
    return [next(found) if doc is not None else None for doc in documents]


def _parse_joined(batch: Sequence[str]) -> list[Element] | None:
    try:
        wrapper = ET.fromstring("<hvconsole-batch>" + "".join(batch) + "</hvconsole-batch>")
    except ET.ParseError:
        return None
    roots = list(wrapper)
    if len(roots) != len(batch) or (wrapper.text or "").strip() or any(
            (root.tail or "").strip() or not doc.lstrip().startswith("<" + root.tag)
            for root, doc in zip(roots, batch, strict=True)):
        return None
    for root in roots:
        root.tail = None
    return roots


# -- writing --------------------------------------------------------------------------

# As libvirt escapes (virBufferEscapeString): quotes too, in text as in attributes.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;",
                               '"': "&quot;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;",
                               '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                               "\t": "&#9;"})


def write(element: Element, prefixes: Prefixes | None = None,
          declare: Sequence[tuple[str, str]] = (),
          declare_at: Mapping[int, Sequence[tuple[str, str]]] | None = None) -> str:
    """The element as XML text, attributes in single quotes as libvirt writes them, each
    namespace declared where it is first used (``declare``: on this element;
    ``declare_at``: on the elements whose id() it holds, as a snapshot's saved
    ``<domain>`` declares its own), with the document's own prefix."""
    out: list[str] = []
    _write(element, out, {"": ""}, prefixes or {}, [0], declare, declare_at or {})
    return "".join(out)


def _write(element: Element, out: list[str], scope: dict[str, str], prefixes: Prefixes,
           counter: list[int], declare: Sequence[tuple[str, str]] = (),
           declare_at: Mapping[int, Sequence[tuple[str, str]]] | None = None) -> None:
    at = declare_at or {}
    if id(element) in at:
        declare = list(declare) + list(at[id(element)])
    tag: object = element.tag
    if tag is ET.Comment:
        out.append(f"<!--{element.text or ''}-->")
    elif tag is ET.ProcessingInstruction:
        out.append(f"<?{element.text or ''}?>")
    else:
        scope = dict(scope)
        scope.update((prefix, uri) for prefix, uri in declare)
        declared: list[tuple[str, str]] = []
        name = _qualified(str(tag), False, scope, prefixes, declared, counter)
        attrs = [(_qualified(k, True, scope, prefixes, declared, counter), v)
                 for k, v in element.attrib.items()]
        out.append("<" + name)
        # Declared at first use before the attributes (libxml2's order, which libvirt
        # keeps for <metadata>); the root's own declarations after them (libvirt's).
        _declarations(out, declared)
        for key, value in attrs:
            out.append(f" {key}='{value.translate(_ATTR_ESCAPES)}'")
        _declarations(out, declare)
        if element.text or len(element):
            out.append(">")
            if element.text:
                out.append(element.text.translate(_TEXT_ESCAPES))
            for child in element:
                _write(child, out, scope, prefixes, counter, (), at)
            out.append(f"</{name}>")
        else:
            out.append("/>")
    if element.tail:
        out.append(element.tail.translate(_TEXT_ESCAPES))


def _declarations(out: list[str], declared: Sequence[tuple[str, str]]) -> None:
    for prefix, uri in declared:
        key = f"xmlns:{prefix}" if prefix else "xmlns"
        out.append(f" {key}='{uri.translate(_ATTR_ESCAPES)}'")


def _qualified(name: str, attribute: bool, scope: dict[str, str], prefixes: Prefixes,
               declared: list[tuple[str, str]], counter: list[int]) -> str:
    if not name.startswith("{"):
        if not attribute and scope.get("", "") != "":
            scope[""] = ""
            declared.append(("", ""))
        return name
    uri, local = name[1:].split("}", 1)
    wanted = prefixes.get(uri)
    if wanted == "" and not attribute:
        if scope.get("") != uri:
            scope[""] = uri
            declared.append(("", uri))
        return local
    prefix = wanted if wanted and scope.get(wanted, uri) == uri else next(
        (p for p, u in scope.items() if p and u == uri), None)
    if prefix is None:
        counter[0] += 1
        prefix = f"ns{counter[0]}"
        while prefix in scope:
            counter[0] += 1
            prefix = f"ns{counter[0]}"
    if scope.get(prefix) != uri:
        scope[prefix] = uri
        declared.append((prefix, uri))
    return f"{prefix}:{local}"


# -- element helpers ------------------------------------------------------------------

def rank(order: Sequence[str], tag: str) -> int:
    try:
        return order.index(tag)
    except ValueError:
        return len(order)


def insert_child(parent: Element, child: Element, order: Sequence[str] = ()) -> Element:
    """Put ``child`` into ``parent`` where libvirt would write it (before the first child
    that ``order`` puts after it; else last), indented like its siblings."""
    mine = rank(order, child.tag) if order else len(order)
    index = len(parent)
    if order and mine < len(order):
        for i, sibling in enumerate(parent):
            if isinstance(sibling.tag, str) and rank(order, sibling.tag) > mine:
                index = i
                break
    place(parent, index, child)
    return child


def place(parent: Element, index: int, child: Element) -> None:
    """Insert at ``index``, copying the indentation of the document around it."""
    count = len(parent)
    if count:
        near = min(index, count - 1)         # the sibling whose indentation to copy
        indent = parent.text if near == 0 else parent[near - 1].tail
        if _blank(indent):
            if index == count:
                last = parent[count - 1]
                child.tail, last.tail = last.tail, indent
            else:
                child.tail = indent
            _indent_subtree(child, indent or "")
    parent.insert(index, child)


def _blank(text: str | None) -> bool:
    return text is not None and "\n" in text and not text.strip()


def _indent_subtree(child: Element, indent: str) -> None:
    if len(child) and not (child.text or "").strip():
        depth = len(indent.rsplit("\n", 1)[-1])
        tail = child.tail
        ET.indent(child, space="  ", level=depth // 2)
        child.tail = tail


def remove_child(parent: Element, child: Element) -> None:
    """Remove ``child``, leaving the whitespace of the others as it was."""
    index = list(parent).index(child)
    if index == len(parent) - 1 and index > 0:
        parent[index - 1].tail = child.tail
    elif index == len(parent) - 1 and _blank(parent.text):
        parent.text = child.tail if _blank(child.tail) else None
    parent.remove(child)


def swap(parent: Element, old: Element, new: Element) -> None:
    """Put ``new`` where ``old`` is, with its indentation."""
    index = list(parent).index(old)
    new.tail = old.tail
    parent.remove(old)
    indent = parent.text if index == 0 else parent[index - 1].tail
    if _blank(indent):
        _indent_subtree(new, indent or "")
    parent.insert(index, new)


def ensure(parent: Element, tag: str, order: Sequence[str] = ()) -> Element:
    found = parent.find(tag)
    if found is not None:
        return found
    return insert_child(parent, Element(tag), order)


def ensure_path(parent: Element, path: str, order: Sequence[str] = ()) -> Element:
    """The element at a plain ``a/b`` path, made where missing (the first step placed by
    ``order``)."""
    node = parent
    for step, tag in enumerate(path.split("/")):
        node = ensure(node, tag, order if step == 0 else ())
    return node


def empty(element: Element) -> bool:
    return not element.attrib and not len(element) and not (element.text or "").strip()


def prune(parent: Element, path: str) -> None:
    """Remove the element at ``path`` if nothing is left in it."""
    head, _, tag = path.rpartition("/")
    holder = parent.find(head) if head else parent
    if holder is None:
        return
    found = holder.find(tag)
    if found is not None and empty(found):
        remove_child(holder, found)
        if head:
            prune(parent, head)


def new(tag: str, attrs: dict[str, str] | None = None, text: str | None = None,
        children: Iterable[Element] = ()) -> Element:
    """A fresh element; attributes whose value is None are left out by the callers."""
    element = Element(tag, attrs or {})
    element.text = text
    element.extend(children)
    return element


# -- values ---------------------------------------------------------------------------

_UNIT_KIB = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024,
             "m": 1024, "mib": 1024, "mb": 1_000_000 / 1024, "g": 1024 ** 2,
             "gib": 1024 ** 2, "gb": 1e9 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3,
             "tb": 1e12 / 1024, "p": 1024 ** 4, "pib": 1024 ** 4, "pb": 1e15 / 1024}


def kib(element: Element | None, default_unit: str = "KiB") -> int | None:
    """The element's number in KiB, whatever unit libvirt or a user wrote it in."""
    if element is None:
        return None
    text = (element.text or "").strip()
    if not text:
        return None
    factor = _UNIT_KIB.get(element.get("unit", default_unit).lower())
    if factor is None:
        return None
    try:
        return int(int(text) * factor)
    except ValueError:
        return None


def to_int(text: str | None) -> int | None:
    """A decimal or 0x-hexadecimal number (libvirt writes PCI and USB ids in hex)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return int(text.strip(), 0)
    except ValueError:
        return None
