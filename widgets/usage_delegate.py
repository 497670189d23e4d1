"""Small inline bars in the tree's CPU and Memory columns (as virt-manager's list has).

The delegate paints the fraction the model gives through USAGE_ROLE as a bar under the
text; it allocates nothing per paint beyond what QPainter needs, since thousands of rows
repaint on every statistics tick while the tree scrolls.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QHeaderView, QStyledItemDelegate, QStyleOptionViewItem,
                               QTreeView)

from app import colours
from app.inventory import CPU_COLUMN, MEMORY_COLUMN, STATE_COLUMN, USAGE_ROLE


class UsageBarDelegate(QStyledItemDelegate):
    def __init__(self, colour_role: str, parent=None) -> None:
        super().__init__(parent)
        self.colour_role = colour_role     # app/colours.py: light or dark at paint time

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        # The cell (background, selection, text) first, the bar over its foot: painted
        # under it, a selected row's highlight covered the bar.
        super().paint(painter, option, index)
        fraction = index.data(USAGE_ROLE)
        if isinstance(fraction, float) and not math.isnan(fraction):
            rect = QRectF(option.rect).adjusted(3, 3, -3, -3)
            bar = QRectF(rect.left(), rect.bottom() - 4, rect.width(), 4)
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            scheme = colours.current_scheme()
            painter.fillRect(bar, colours.colour(colours.USAGE_TRACK, scheme))
            filled = QRectF(bar.left(), bar.top(),
                            bar.width() * max(0.0, min(1.0, fraction)), bar.height())
            painter.fillRect(filled, colours.colour(
                colours.USAGE_HIGH if fraction >= 0.9 else self.colour_role, scheme))
            painter.restore()


def install_usage_columns(tree: QTreeView) -> None:
    """Bars, widths and click-to-sort for the tree's usage columns. The tree starts
    unsorted (the inventory's own order) and sorts when a header is clicked."""
    tree.setItemDelegateForColumn(CPU_COLUMN, UsageBarDelegate(colours.USAGE_CPU, tree))
    tree.setItemDelegateForColumn(MEMORY_COLUMN,
                                  UsageBarDelegate(colours.USAGE_MEMORY, tree))
    header = tree.header()
    # The name column stretches: narrower State/CPU/Memory leave it room for names.
    for column, width in ((STATE_COLUMN, 96), (CPU_COLUMN, 50), (MEMORY_COLUMN, 76)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(column, width)
    # No column, ascending: the proxy then keeps the inventory's own order. (With no
    # column but descending it shows the source rows backwards: VMs from Z to A.)
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    tree.setSortingEnabled(True)
