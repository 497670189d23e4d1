"""The charts of the Performance tab, laid out in one or two columns by the width there
is, and scrolled when they do not fit: five charts squeezed into 500 pixels left each
too little height to read (axis numbers ran into each other at 1024×700)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFrame, QGridLayout, QScrollArea, QWidget

from app import colours
from widgets.appearance import follow_scheme

if TYPE_CHECKING:
    from widgets.perf.chart import Chart

TWO_COLUMNS_FROM = 800     # px: two charts side by side (at 1280 px the tab gets ~850)


class ChartGrid(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("perfCharts")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.inner = QWidget()
        self.inner.setObjectName("perfChartsInner")
        follow_scheme(self, lambda: self.inner.setStyleSheet(
            "QWidget#perfChartsInner { background: %s; }"
            % colours.hex_colour(colours.GRAPH_BACKGROUND)))
        self.grid = QGridLayout(self.inner)
        self.grid.setContentsMargins(4, 0, 4, 4)
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(6)
        self.setWidget(self.inner)
        self.charts: list[Chart] = []
        self.columns = 1

    def set_charts(self, charts: list[Chart]) -> None:
        """Shows ``charts``; others are taken out and hidden, not deleted (the tab keeps
        them for the next object that has them)."""
        for chart in self.charts:
            if chart not in charts:
                self.grid.removeWidget(chart)
                chart.hide()
        self.charts = list(charts)
        self._place()

    def _wanted_columns(self) -> int:
        # Two charts read best one above the other, on the widest time axis there is.
        return 2 if self.viewport().width() >= TWO_COLUMNS_FROM and len(self.charts) > 2 \
            else 1

    def _place(self) -> None:
        self.columns = self._wanted_columns()
        for chart in self.charts:
            self.grid.removeWidget(chart)
        for i, chart in enumerate(self.charts):
            self.grid.addWidget(chart, i // self.columns, i % self.columns)
            chart.show()
        rows = (len(self.charts) + self.columns - 1) // self.columns
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(2):
            self.grid.setColumnStretch(c, 1 if c < self.columns else 0)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._wanted_columns() != self.columns:
            self._place()
