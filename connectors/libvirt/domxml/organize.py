"""HVConsole's own entry in a domain's ``<metadata>``: the VM's tags, folder and custom
fields, kept with the VM itself so that they follow it to another host, survive a
reinstall of this computer and are seen by every HVConsole that opens the host.

The entry lives under one XML namespace of ours (``ORGANIZE_NS``) and is written with
``virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT, ..., key=ORGANIZE_PREFIX,
uri=ORGANIZE_NS)``; libvirt replaces the whole element of that namespace on each write, so
a change of one tag rewrites the entry::

    <hvconsole:organize xmlns:hvconsole="https://hvconsole.org/xmlns/organize/1.0">
      <hvconsole:folder>/prod/web</hvconsole:folder>
      <hvconsole:tag>web</hvconsole:tag>
      <hvconsole:field name="owner">alice</hvconsole:field>
    </hvconsole:organize>

Anyone may write this (``virsh metadata DOM URI --key hvconsole --set '<organize>...'``),
so reading is forgiving: children are matched by local name whatever namespace libvirt or
a script gave them, anything unknown is skipped, values are normalised the way the editor
normalises them, and no input makes reading raise (a hypothesis test feeds it junk).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Iterable

from connectors.libvirt.domxml.xmltree import Element

ORGANIZE_NS = "https://hvconsole.org/xmlns/organize/1.0"
ORGANIZE_PREFIX = "hvconsole"
ORGANIZE_ROOT = "organize"

MAX_TAG = 64            # characters; longer tags are cut (a tag is a label, not a note)
MAX_FIELD_NAME = 64
MAX_FIELD_VALUE = 1024


@dataclass(frozen=True, slots=True)
class Organization:
    """Tags (sorted, unique), folder ("" for none, else "/a/b") and custom fields
    ((name, value) sorted by name, names unique) of one VM, always normalised."""

    tags: tuple[str, ...] = ()
    folder: str = ""
    custom_fields: tuple[tuple[str, str], ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.tags or self.folder or self.custom_fields)

    def field(self, name: str) -> str | None:
        return dict(self.custom_fields).get(name)


EMPTY = Organization()


def _clean(text: str, limit: int) -> str:
    """One line of printable text: control characters become spaces, runs of
    whitespace one space, ends stripped."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:limit].strip()


def normal_tag(tag: str) -> str:
    """A tag as stored: one line of at most MAX_TAG characters."""
    return _clean(tag, MAX_TAG)


def normal_tags(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({t for t in (normal_tag(tag) for tag in tags) if t}))


def normal_folder(path: str) -> str:
    """"" or an absolute path of non-empty parts: " prod//web/ " -> "/prod/web"."""
    parts = [_clean(part, MAX_TAG) for part in path.split("/")]
    parts = [p for p in parts if p]
    return "/" + "/".join(parts) if parts else ""


def folder_parts(path: str) -> tuple[str, ...]:
    """The folder's path as its parts: "/prod/web" -> ("prod", "web")."""
    return tuple(p for p in normal_folder(path).split("/") if p)


def normal_fields(fields: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Names cleaned and unique (the last value given for a name wins), sorted; a field
    with an empty name or an empty value is no field."""
    found: dict[str, str] = {}
    for name, value in fields:
        key = _clean(name, MAX_FIELD_NAME)
        text = _clean(value, MAX_FIELD_VALUE)
        if key and text:
            found[key] = text
        elif key:
            found.pop(key, None)
    return tuple(sorted(found.items()))


def organization(tags: Iterable[str] = (), folder: str = "",
                 custom_fields: Iterable[tuple[str, str]] = ()) -> Organization:
    """An Organization from raw values, normalised."""
    return Organization(normal_tags(tags), normal_folder(folder), normal_fields(custom_fields))


def _local(tag: object) -> str:
    name = str(tag)
    return name.rsplit("}", 1)[-1] if name.startswith("{") else name


def from_element(entry: Element | None) -> Organization:
    """The Organization an ``<organize>`` element holds (EMPTY for None)."""
    if entry is None:
        return EMPTY
    tags: list[str] = []
    folder = ""
    fields: list[tuple[str, str]] = []
    for child in entry:
        if not isinstance(child.tag, str):
            continue                     # a comment or processing instruction
        kind = _local(child.tag)
        text = "".join(child.itertext())
        if kind == "tag":
            tags.append(text)
        elif kind == "folder" and not folder:
            folder = text
        elif kind == "field":
            fields.append((child.get("name") or "", text))
    return organization(tags, folder, fields)


def from_text(text: str | None) -> Organization:
    """The Organization of the XML ``virDomainGetMetadata`` returns (EMPTY for None or
    for text that is not one well-formed element)."""
    if not text or not text.strip():
        return EMPTY
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return EMPTY
    if _local(root.tag) != ORGANIZE_ROOT:
        return EMPTY
    return from_element(root)


def to_text(org: Organization) -> str:
    """The element to hand to ``virDomainSetMetadata``: unqualified, since libvirt puts it
    and its children in ``ORGANIZE_NS`` under the key it is given."""
    root = ET.Element(ORGANIZE_ROOT)
    root.text = "\n  " if not org.is_empty else None
    children: list[Element] = []
    if org.folder:
        children.append(_leaf("folder", org.folder))
    children.extend(_leaf("tag", tag) for tag in org.tags)
    for name, value in org.custom_fields:
        field = _leaf("field", value)
        field.set("name", name)
        children.append(field)
    for i, child in enumerate(children):
        child.tail = "\n" if i == len(children) - 1 else "\n  "
        root.append(child)
    return ET.tostring(root, encoding="unicode")


def _leaf(tag: str, text: str) -> Element:
    element = ET.Element(tag)
    element.text = text
    return element


@dataclass(frozen=True, slots=True)
class OrgChange:
    """One edit of a VM's organisation, applied to what the VM holds at the moment of
    writing (so a bulk "add tag web" keeps each VM's other tags). ``folder`` None keeps
    the folder, "" takes the VM out of any folder; a field set to "" is removed;
    ``replace_tags`` sets the whole tag list (the editor's), else tags are added and
    removed one by one (bulk actions')."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    replace_tags: tuple[str, ...] | None = None
    folder: str | None = None
    set_fields: tuple[tuple[str, str], ...] = ()
    replace_fields: tuple[tuple[str, str], ...] | None = None

    def apply(self, org: Organization) -> Organization:
        tags = set(org.tags if self.replace_tags is None else normal_tags(self.replace_tags))
        tags |= set(normal_tags(self.add_tags))
        tags -= set(normal_tags(self.remove_tags))
        fields = list(org.custom_fields if self.replace_fields is None
                      else self.replace_fields)
        fields.extend(self.set_fields)
        return organization(tags, org.folder if self.folder is None else self.folder,
                            fields)
