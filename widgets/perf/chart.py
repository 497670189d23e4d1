"""One graph of the Performance tab: a header with the title, unit and legend above the
plot (a legend inside the plot hid the newest points and was cut at its edge), a y axis
from 0 with labelled 0 and top, a time axis, and a hover line.

Every chart's y axis is the same width, so the time axes of charts stacked in a column
line up whatever their numbers. Bytes are labelled in binary units (KiB, MiB, GiB) chosen
from the highest value shown: the plotted data stay in bytes (what tests and the CSV
export read), only the tick labels are divided.

Each line owns preallocated x/y arrays (grown by doubling), refilled and handed to
setData, so a redraw allocates nothing per point. Lines whose spec did not change keep
their item when lines are added (ticking "Per vCPU" adds lines, it does not redraw the
others from scratch).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.DateAxisItem import TickSpec, ZoomLevel
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app import colours
from widgets.appearance import follow_scheme
from widgets.perf.specs import CurveSpec, GraphSpec

KIB = 1024.0
# The lowest top of a y axis per unit: an idle VM reads as "0 of a little", not as noise
# magnified to fill the graph.
Y_FLOOR = {"%": 100.0, "B": 64 * KIB * KIB, "B/s": 10 * KIB, "IO/s": 10.0}
AXIS_WIDTH = 46
Y_MARGIN = 0.03
LABEL_CLEARANCE_PX = 9.0   # half a tick label's height, and a little
MIN_PLOT_HEIGHT = 120
_BINARY = (("B", 1.0), ("KiB", KIB), ("MiB", KIB ** 2), ("GiB", KIB ** 3), ("TiB", KIB ** 4))
_PERCENT_TICKS = [[(0.0, "0"), (50.0, "50"), (100.0, "100")], [(25.0, ""), (75.0, "")]]


def unit_scale(unit: str, top: float) -> tuple[str, float]:
    """(label, divisor) for a byte axis whose highest value is ``top``: "MiB", 1048576."""
    if unit not in ("B", "B/s"):
        return unit, 1.0
    suffix = "/s" if unit == "B/s" else ""
    for name, div in _BINARY:
        if top < 1000.0 * div or name == "TiB":
            return name + suffix, div
    return "TiB" + suffix, KIB ** 4   # not reached


class ScaledAxis(pg.AxisItem):
    """A y axis that labels ``value / divisor`` with ticks at round numbers of that unit
    (pyqtgraph's own SI prefixes count in thousands: "MB" next to "MiB" elsewhere)."""

    def __init__(self, orientation: str = "left") -> None:
        super().__init__(orientation)
        self.divisor = 1.0
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802,N803 (pyqtgraph's names)
        d = self.divisor
        levels = super().tickValues(minVal / d, maxVal / d, size)
        return [(spacing * d, [v * d for v in values]) for spacing, values in levels]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        d = self.divisor
        out = []
        for v in values:
            x = v / d
            out.append(f"{x:.0f}" if abs(x - round(x)) < 1e-6 or abs(x) >= 100
                       else f"{x:.3g}")
        return out


class TimeAxis(pg.DateAxisItem):
    """pyqtgraph's date axis, allowed every 2 minutes and every 2 or 3 hours too: with
    only 1-5-15 steps, a 10-minute graph half a screen wide had one time label."""

    _FINER = {60: [1, 2, 5, 10, 15, 30], 3600: [1, 2, 3, 6, 12]}
    zoomLevels: dict[float, Any]           # pyqtgraph's own attribute, unannotated there

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        levels = {}
        for max_spacing, level in self.zoomLevels.items():
            specs = [TickSpec(spec.spacing, spec.step, spec.format,
                              self._FINER.get(spec.spacing, spec.autoSkip))
                     for spec in level.tickSpecs]
            levels[max_spacing] = ZoomLevel(specs, level.exampleText)
        self.zoomLevels = levels


class _Curve:
    """A plot line with its own preallocated arrays (grown by doubling when needed)."""

    def __init__(self, spec: CurveSpec, item: pg.PlotDataItem) -> None:
        self.spec = spec
        self.item = item
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0

    def show(self, t: np.ndarray, v: np.ndarray) -> None:
        n = len(t)
        if n > len(self.x):
            size = 1 << (n - 1).bit_length()
            self.x, self.y = np.empty(size), np.empty(size)
        self.x[:n] = t
        self.y[:n] = v
        self.n = n
        self.item.setData(self.x[:n], self.y[:n], connect="finite")

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


class _PlotView(pg.PlotWidget):
    """Says when the pointer leaves it: the read-out must not outlive the pointer. Asks
    for little height: the charts share what there is, and scroll only below their
    minimum (a scroll area sizes word-wrapped content by its preferred height, and
    pyqtgraph's 480 px per chart made two charts scroll on a 1280×800 screen)."""

    left = Signal()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(300, MIN_PLOT_HEIGHT + 20)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().leaveEvent(event)
        self.left.emit()


class Chart(QWidget):
    """``hovered(chart, x)``: the pointer is over the plot at time x; ``unhovered()``: it
    left."""

    hovered = Signal(object, float)
    unhovered = Signal()

    def __init__(self, spec: GraphSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("perfChart")
        self.spec = spec
        self.curves: list[_Curve] = []
        self._spare: list[_Curve] = []
        self._scale: tuple[str, float] | None = None
        self.title = QLabel()
        self.title.setObjectName("perfChartTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.legend = QLabel()
        self.legend.setObjectName("perfChartLegend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Policy.Expanding,
                                  QSizePolicy.Policy.Preferred)
        self.left_axis = ScaledAxis("left")
        self.view = _PlotView(background=colours.hex_colour(colours.GRAPH_BACKGROUND),
                              axisItems={
            "left": self.left_axis, "bottom": TimeAxis()})
        self.view.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.view.left.connect(self.unhovered)
        plot = self.plot = self.view.getPlotItem()
        plot.hideButtons()          # pyqtgraph's "A" (auto-range) button
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=True, y=False)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.disableAutoRange(axis="y")
        plot.layout.setContentsMargins(0, 4, 8, 0)
        self.left_axis.setWidth(AXIS_WIDTH)
        self.left_axis.setStyle(tickTextOffset=4, autoExpandTextSpace=False,
                                hideOverlappingLabels=False)
        self.left_axis.setTickDensity(0.75)   # a chart at its minimum height: 4-5 labels
        self.hover_line = pg.InfiniteLine(angle=90, movable=False)
        self.hover_line.setVisible(False)
        plot.addItem(self.hover_line, ignoreBounds=True)
        self.view.scene().sigMouseMoved.connect(self._mouse_moved)

        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 4, 0)
        header.setSpacing(12)
        header.addWidget(self.title, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.legend, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        if spec.unit == "%":
            self.left_axis.setTicks(_PERCENT_TICKS)
        self.set_spec(spec)
        self.fit_y(0.0)
        follow_scheme(self, self._apply_scheme)

    def _apply_scheme(self) -> None:
        """Background, axes, hover line and lines in the scheme's colours (app/colours.py):
        pyqtgraph paints with its own, never the palette's."""
        self.view.setBackground(colours.colour(colours.GRAPH_BACKGROUND))
        axis = colours.colour(colours.GRAPH_AXIS)
        for name in ("left", "bottom"):
            item = self.plot.getAxis(name)
            item.setPen(pg.mkPen(axis))
            item.setTextPen(pg.mkPen(axis))
        self.hover_line.setPen(pg.mkPen(colours.colour(colours.GRAPH_HOVER), width=1))
        self.set_spec(self.spec)

    # ---- lines ----

    def set_spec(self, spec: GraphSpec) -> None:
        """Show ``spec``'s lines: unchanged ones keep their item and data, new ones are
        added, lines no longer wanted go."""
        kept = {c.spec: c for c in self.curves}
        curves = []
        for i, curve_spec in enumerate(spec.curves):
            curve = kept.pop(curve_spec, None)
            color = colours.series(i)
            if curve is None and self._spare:
                curve = self._spare.pop()
                curve.spec = curve_spec
                curve.item.show()
            if curve is None:
                item = self.plot.plot(pen=pg.mkPen(color, width=curve_spec.width))
                curve = _Curve(curve_spec, item)
            else:
                curve.item.setPen(pg.mkPen(color, width=curve_spec.width))
            curves.append(curve)
        # Lines no longer wanted are emptied and kept for later, never deleted: a plot
        # item removed from its scene is freed by Python's cycle collector, on whichever
        # thread it happens to run.
        for gone in kept.values():
            gone.show(np.empty(0), np.empty(0))
            gone.item.hide()
            self._spare.append(gone)
        self.curves = curves
        self.spec = spec
        self.legend.setText("&nbsp;&nbsp; ".join(
            f"<span style='color:{colours.series(i)}'>&#9644;</span>&nbsp;"
            f"{_escape(c.label).replace(' ', '&nbsp;')}" for i, c in enumerate(spec.curves)))
        self._update_title()

    def fit_y(self, top: float) -> None:
        """0 at the bottom, the highest value plus a margin at the top (at least the
        unit's floor); percentages always 0 to 100 with both ends labelled."""
        unit = self.spec.unit
        if unit == "%":
            high = 100.0
            scale = ("%", 1.0)
        else:
            high = max(Y_FLOOR[unit], top * 1.15)
            scale = unit_scale(unit, high)
            self.left_axis.divisor = scale[1]
        # Slivers below 0 and above the top keep both end lines and their labels ("0",
        # "100") inside the plot: pyqtgraph leaves out a label that crosses its border.
        margin = min(0.1, max(Y_MARGIN, LABEL_CLEARANCE_PX / max(1.0, self.plot.vb.height())))
        self.plot.setYRange(-high * margin, high * (1 + margin), padding=0)
        if scale != self._scale:
            self._scale = scale
            self._update_title()

    def _update_title(self) -> None:
        unit = self._scale[0] if self._scale is not None else self.spec.unit
        self.title.setText(f"{self.spec.title} ({unit})")

    # ---- hover ----

    def _mouse_moved(self, pos) -> None:
        if self.plot.vb.sceneBoundingRect().contains(pos):
            self.hovered.emit(self, float(self.plot.vb.mapSceneToView(pos).x()))
        else:
            self.unhovered.emit()

    def show_hover(self, x: float | None) -> None:
        if x is None:
            self.hover_line.setVisible(False)
        else:
            self.hover_line.setPos(x)
            self.hover_line.setVisible(True)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
