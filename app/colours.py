"""HVConsole's own colours, one table with a light and a dark value for each.

Qt's palette colours the widgets; what the program paints itself — graph backgrounds and
lines, the tree's usage bars, red error sentences, the amber "demo" note, the greyed
rows of a disconnected server — used to be hex codes spread over twenty files, chosen
against a white window: on a dark desktop a #c62828 sentence on #2b2b2b hardly reads and
the graphs stayed a white block. Every such colour is named here by what it means
(``ERROR``, ``GRAPH_BACKGROUND``) and looked up for the scheme in use.

The scheme is read from the application's palette (a dark window colour is a dark
scheme), so it is right whoever set the palette: the desktop (Qt 6.5+ follows its colour
scheme), widgets/appearance.py's own dark palette, or a test. No widgets here: models use
these for their foreground roles too.
"""
from __future__ import annotations

import enum
import functools

from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette


class Scheme(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


# role: (light, dark). Dark values are lighter and less saturated: the same meaning at a
# contrast of at least 4.5:1 on the dark palette's base (#232323) and window (#2d2d2d).
ERROR = "error"
WARNING = "warning"
SUCCESS = "success"
MUTED = "muted"
NOTICE_BACKGROUND = "notice-background"
NOTICE_TEXT = "notice-text"
NOTICE_BORDER = "notice-border"
GRAPH_BACKGROUND = "graph-background"
GRAPH_AXIS = "graph-axis"
GRAPH_HOVER = "graph-hover"
USAGE_TRACK = "usage-track"
USAGE_CPU = "usage-cpu"
USAGE_MEMORY = "usage-memory"
USAGE_HIGH = "usage-high"
XML_TAG = "xml-tag"
XML_ATTRIBUTE = "xml-attribute"
XML_STRING = "xml-string"
XML_ENTITY = "xml-entity"
XML_COMMENT = "xml-comment"
XML_ERROR_LINE = "xml-error-line"

TABLE: dict[str, tuple[str, str]] = {
    ERROR: ("#c62828", "#ff8a80"),
    WARNING: ("#8a5a00", "#ffcc80"),
    SUCCESS: ("#256b29", "#81c784"),
    MUTED: ("#6e6e6e", "#a0a0a0"),
    NOTICE_BACKGROUND: ("#fff3cd", "#4a3f10"),
    NOTICE_TEXT: ("#664d03", "#ffe69c"),
    NOTICE_BORDER: ("#e0c36c", "#8a7526"),
    GRAPH_BACKGROUND: ("#ffffff", "#1e1e1e"),
    GRAPH_AXIS: ("#444444", "#c8c8c8"),
    GRAPH_HOVER: ("#888888", "#9a9a9a"),
    USAGE_TRACK: ("#1c000000", "#30ffffff"),     # #AARRGGBB: a faint well under the bar
    USAGE_CPU: ("#4a90d9", "#64a8ee"),
    USAGE_MEMORY: ("#7bb661", "#8fd175"),
    USAGE_HIGH: ("#d9534f", "#ff6b66"),
    XML_TAG: ("#1565c0", "#82b1ff"),
    XML_ATTRIBUTE: ("#8e24aa", "#ce93d8"),
    XML_STRING: ("#256b29", "#a5d6a7"),
    XML_ENTITY: ("#a84300", "#ffb74d"),
    XML_COMMENT: ("#757575", "#9e9e9e"),
    XML_ERROR_LINE: ("#ffcdd2", "#5c2b2b"),
}

# Lines of a graph, in order: matplotlib's ten hues, the light ones darkened to 3:1 on
# white (WCAG's minimum for graphics); brighter ones on dark.
SERIES: dict[Scheme, tuple[str, ...]] = {
    Scheme.LIGHT: ("#1f77b4", "#d95f02", "#2b9a2b", "#d62728", "#9467bd", "#8c564b",
                   "#c2459e", "#7a7a7a", "#8a8a00", "#0f8a96"),
    Scheme.DARK: ("#5aaef0", "#ffa040", "#5fd35f", "#ff6f6f", "#c3a2f0", "#d09a80",
                  "#f5a3da", "#bdbdbd", "#e0e050", "#40dcef"),
}

def scheme_of(palette: QPalette) -> Scheme:
    """Dark when the window colour is dark (what the user sees, whoever chose it)."""
    return Scheme.DARK if palette.color(QPalette.ColorRole.Window).lightness() < 128 \
        else Scheme.LIGHT


def current_scheme() -> Scheme:
    """The application's scheme now (light before a QGuiApplication exists)."""
    if QGuiApplication.instance() is None:
        return Scheme.LIGHT
    return scheme_of(QGuiApplication.palette())


def hex_colour(role: str, scheme: Scheme | None = None) -> str:
    """The colour as "#rrggbb" (or "#aarrggbb"), for style sheets and rich text."""
    light, dark = TABLE[role]
    return dark if (scheme or current_scheme()) is Scheme.DARK else light


def colour(role: str, scheme: Scheme | None = None) -> QColor:
    return _colour(role, scheme or current_scheme())


def brush(role: str, scheme: Scheme | None = None) -> QBrush:
    """A shared brush (models hand one out per row: thousands of rows, two brushes)."""
    return _brush(role, scheme or current_scheme())


@functools.cache
def _colour(role: str, scheme: Scheme) -> QColor:
    return QColor(hex_colour(role, scheme))


@functools.cache
def _brush(role: str, scheme: Scheme) -> QBrush:
    return QBrush(_colour(role, scheme))


def series(index: int, scheme: Scheme | None = None) -> str:
    lines = SERIES[scheme or current_scheme()]
    return lines[index % len(lines)]


def style(role: str) -> str:
    """A one-property style sheet: ``label.setStyleSheet(style(ERROR))``."""
    return f"color: {hex_colour(role)};"


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG's contrast ratio of two colours, 1 (same) to 21 (black on white)."""
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return (0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF())
                + 0.0722 * channel(c.blueF()))
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
