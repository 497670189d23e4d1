"""Dragging VMs onto another host in the tree, as XenCenter moves them.

Installed on the tree's viewport as an event filter, so the tree's own mouse handling
(click, rubber band, double-click) is untouched until a press on a VM row moves further
than the platform's drag distance. The drag carries the selected VM rows (their keys, as
the tree's nodes: a drag never leaves this window's tree); over a host row, or any row
of a host, the host is outlined when ``accepts(nodes, conn_id)`` says the VMs can go
there, and a drop calls ``dropped(nodes, conn_id)`` (the Migrate dialog opens with that
host chosen).
"""
from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QRect, Qt
from PySide6.QtGui import QDrag, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QRubberBand, QTreeView

from app.inventory import NODE_ROLE, NodeKind

MIME = "application/x-hvconsole-vms"

Accepts = Callable[[list, str], bool]
Dropped = Callable[[list, str], object]


class TreeDrag(QObject):
    def __init__(self, tree: QTreeView, accepts: Accepts, dropped: Dropped) -> None:
        super().__init__(tree)
        self.tree = tree
        self.accepts = accepts
        self.dropped = dropped
        self._press: QPoint | None = None
        self._dragging: list = []
        self._outline = QRubberBand(QRubberBand.Shape.Rectangle, tree.viewport())
        self._outline.setObjectName("dropTarget")
        tree.viewport().setAcceptDrops(True)
        tree.viewport().installEventFilter(self)

    # ---- what is where ----

    def vm_nodes_at(self, pos: QPoint) -> list:
        """The VMs a drag starting at ``pos`` carries: the selection when the row under
        the pointer is one of it, else that row alone; [] when it is no VM."""
        index = self.tree.indexAt(pos)
        node = index.data(NODE_ROLE) if index.isValid() else None
        if node is None or node.kind is not NodeKind.VM:
            return []
        selected = [n for n in _selected(self.tree) if n.kind is NodeKind.VM]
        return selected if any(n is node for n in selected) else [node]

    def host_at(self, pos: QPoint) -> tuple[str, QRect] | None:
        """The host of the row under ``pos`` and the rectangle of its row."""
        index = self.tree.indexAt(pos)
        if not index.isValid():
            return None
        while index.parent().isValid():
            index = index.parent()
        node = index.data(NODE_ROLE)
        if node is None or node.kind is not NodeKind.HOST:
            return None
        rect = self.tree.visualRect(index)
        rect.setLeft(0)
        rect.setRight(self.tree.viewport().width() - 1)
        return node.conn_id, rect

    # ---- events ----

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's)
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            left = event.button() == Qt.MouseButton.LeftButton
            self._press = event.position().toPoint() if left else None
        elif kind == QEvent.Type.MouseButtonRelease:
            self._press = None
        elif kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent) \
                and self._press is not None \
                and event.buttons() & Qt.MouseButton.LeftButton:
            distance = (event.position().toPoint() - self._press).manhattanLength()
            if distance >= QApplication.startDragDistance():
                nodes = self.vm_nodes_at(self._press)
                self._press = None
                if nodes:
                    self.start(nodes)
                    return True
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and \
                isinstance(event, QDragMoveEvent):
            return self._over(event)
        elif kind == QEvent.Type.DragLeave:
            self._outline.hide()
            return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            return self._drop(event)
        return False

    def mime_data(self, nodes: list) -> QMimeData:
        mime = QMimeData()
        mime.setData(MIME, json.dumps([[n.conn_id, n.key] for n in nodes]).encode())
        mime.setText("\n".join(n.obj.name for n in nodes))
        return mime

    def start(self, nodes: list) -> None:
        self._dragging = list(nodes)
        drag = QDrag(self.tree)
        drag.setMimeData(self.mime_data(nodes))
        try:
            drag.exec(Qt.DropAction.MoveAction)
        finally:
            self._dragging = []
            self._outline.hide()

    def _carried(self, mime: QMimeData) -> list:
        """The nodes of a drag from this tree (its keys must match what was picked up)."""
        if not mime.hasFormat(MIME):
            return []
        try:
            keys = [tuple(k) for k in json.loads(bytes(mime.data(MIME).data()))]
        except (ValueError, TypeError):
            return []
        nodes = self._dragging or [n for n in _selected(self.tree)
                                   if (n.conn_id, n.key) in keys]
        return [n for n in nodes if (n.conn_id, n.key) in keys]

    def _over(self, event: QDragMoveEvent) -> bool:
        nodes = self._carried(event.mimeData())
        target = self.host_at(event.position().toPoint()) if nodes else None
        if target is None or not self.accepts(nodes, target[0]):
            self._outline.hide()
            event.ignore()
            return True
        self._outline.setGeometry(target[1])
        self._outline.show()
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()
        return True

    def _drop(self, event: QDropEvent) -> bool:
        self._outline.hide()
        nodes = self._carried(event.mimeData())
        target = self.host_at(event.position().toPoint()) if nodes else None
        if target is None or not self.accepts(nodes, target[0]):
            event.ignore()
            return True
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()
        self.dropped(nodes, target[0])
        return True


def _selected(tree: QTreeView) -> list:
    return [i.data(NODE_ROLE) for i in tree.selectionModel().selectedRows(0)
            if i.data(NODE_ROLE) is not None]
