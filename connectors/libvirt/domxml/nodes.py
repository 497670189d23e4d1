"""Typed views of elements: a ``Node`` reads and writes its element directly.

A view holds nothing but its element, so whatever the view does not know (attributes,
children, comments of an element it models only in part) stays where it was, and a view
costs only what is read through it. The descriptors below say in one line which attribute
or child a property is (``bus = Attr("bus", "target")``).
"""
from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar, overload

from connectors.libvirt.domxml import xmltree
from connectors.libvirt.domxml.xmltree import Element

T = TypeVar("T")


class Node:
    """A view of one element. ``ORDER``: the children in the order libvirt writes them,
    so that a child made by a setter lands where libvirt would put it."""

    __slots__ = ("element",)
    ORDER: ClassVar[tuple[str, ...]] = ()

    def __init__(self, element: Element) -> None:
        self.element = element

    def child(self, path: str) -> Element | None:
        return self.element.find(path)

    def ensure(self, path: str) -> Element:
        return xmltree.ensure_path(self.element, path, self.ORDER)

    def drop(self, path: str) -> None:
        """Remove every element at ``path`` (a tag or ``a/b``)."""
        head, _, tag = path.rpartition("/")
        holders = self.element.findall(head) if head else [self.element]
        for holder in holders:
            for found in holder.findall(tag):
                xmltree.remove_child(holder, found)

    def to_xml(self) -> str:
        """This element alone (for a device: what attachDevice/updateDevice take)."""
        saved, self.element.tail = self.element.tail, None
        try:
            return xmltree.write(self.element)
        finally:
            self.element.tail = saved

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_xml()[:80]}>"


class _Field(Generic[T]):
    """A value stored in the element; ``path`` is the child holding it ("" = itself)."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, node: None, owner: type) -> _Field[T]: ...
    @overload
    def __get__(self, node: Node, owner: type) -> T: ...

    def __get__(self, node: Node | None, owner: type) -> _Field[T] | T:
        if node is None:
            return self
        return self.read(node.element if not self.path else node.element.find(self.path))

    def __set__(self, node: Node, value: T) -> None:
        self.write(node, value)

    def read(self, element: Element | None) -> T:
        raise NotImplementedError

    def write(self, node: Node, value: T) -> None:
        raise NotImplementedError


class Attr(_Field[str | None]):
    """An attribute; None removes it (and the child holding it once that is empty)."""

    def __init__(self, attr: str, path: str = "") -> None:
        super().__init__(path)
        self.attr = attr

    def read(self, element: Element | None) -> str | None:
        return element.get(self.attr) if element is not None else None

    def write(self, node: Node, value: str | None) -> None:
        if value is None:
            target = node.element.find(self.path) if self.path else node.element
            if target is not None and self.attr in target.attrib:
                del target.attrib[self.attr]
                if self.path:
                    xmltree.prune(node.element, self.path)
            return
        target = node.ensure(self.path) if self.path else node.element
        target.set(self.attr, str(value))


class IntAttr(_Field[int | None]):
    def __init__(self, attr: str, path: str = "") -> None:
        super().__init__(path)
        self.attr = attr
        self._attr = Attr(attr, path)

    def read(self, element: Element | None) -> int | None:
        return xmltree.to_int(element.get(self.attr)) if element is not None else None

    def write(self, node: Node, value: int | None) -> None:
        self._attr.write(node, None if value is None else str(int(value)))


class Switch(_Field[bool | None]):
    """A yes/no (or on/off) attribute; None removes it (libvirt's default then)."""

    def __init__(self, attr: str, path: str = "", words: tuple[str, str] = ("yes", "no")):
        super().__init__(path)
        self._attr = Attr(attr, path)
        self.words = words

    def read(self, element: Element | None) -> bool | None:
        text = self._attr.read(element)
        if text is None:
            return None
        return text in ("yes", "on")

    def write(self, node: Node, value: bool | None) -> None:
        self._attr.write(node, None if value is None else self.words[0 if value else 1])


class Flag(_Field[bool]):
    """An empty child whose presence is the value (``<readonly/>``)."""

    def __init__(self, path: str) -> None:
        super().__init__("")
        self.tag = path

    def read(self, element: Element | None) -> bool:
        return element is not None and element.find(self.tag) is not None

    def write(self, node: Node, value: bool) -> None:
        if value:
            node.ensure(self.tag)
        else:
            node.drop(self.tag)


class Text(_Field[str | None]):
    """A child's text; None removes the child."""

    def read(self, element: Element | None) -> str | None:
        if element is None:
            return None
        return element.text or ""

    def write(self, node: Node, value: str | None) -> None:
        if value is None:
            node.drop(self.path)
        else:
            node.ensure(self.path).text = value


class IntText(_Field[int | None]):
    def read(self, element: Element | None) -> int | None:
        return xmltree.to_int(element.text) if element is not None else None

    def write(self, node: Node, value: int | None) -> None:
        if value is None:
            node.drop(self.path)
        else:
            node.ensure(self.path).text = str(int(value))


def attrs(**values: Any) -> dict[str, str]:
    """Attributes for a new element: None values left out, booleans as yes/no."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key.rstrip("_").replace("__", ":")] = (
            ("yes" if value else "no") if isinstance(value, bool) else str(value))
    return out
