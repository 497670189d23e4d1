"""Light or dark: the desktop's colour scheme followed, and changes to it taken live.

Qt 6.5+ reports the desktop's scheme (``QStyleHints.colorScheme``) and, with a platform
theme that supplies palettes (GNOME through xdg-desktop-portal or gtk3, KDE), switches
the palette itself. Where the scheme is known but no dark palette comes with it (plain
X11 without a platform theme), or when the user asks for one scheme (``--color-scheme``),
HVConsole sets Fusion with its own palette. Own colours (app/colours.py) follow whatever
palette results: widgets that paint with them re-read them on a palette change
(``follow_scheme``); models' colours are read at paint time anyway.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from app.colours import Scheme, current_scheme, scheme_of

CHOICES = ("auto", "light", "dark")

_DARK = {
    QPalette.ColorRole.Window: "#2d2d2d",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#232323",
    QPalette.ColorRole.AlternateBase: "#2a2a2a",
    QPalette.ColorRole.ToolTipBase: "#3a3a3a",
    QPalette.ColorRole.ToolTipText: "#f0f0f0",
    QPalette.ColorRole.PlaceholderText: "#9a9a9a",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#353535",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#4a4a4a",
    QPalette.ColorRole.Midlight: "#3e3e3e",
    QPalette.ColorRole.Mid: "#5a5a5a",
    QPalette.ColorRole.Dark: "#1e1e1e",
    QPalette.ColorRole.Shadow: "#111111",
    QPalette.ColorRole.Highlight: "#2f6fb3",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#7fb2ff",
    QPalette.ColorRole.LinkVisited: "#c39cff",
}
_DARK_DISABLED = {
    QPalette.ColorRole.WindowText: "#7c7c7c",
    QPalette.ColorRole.Text: "#7c7c7c",
    QPalette.ColorRole.ButtonText: "#7c7c7c",
    QPalette.ColorRole.HighlightedText: "#b0b0b0",
    QPalette.ColorRole.Highlight: "#3a3a3a",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, value in _DARK.items():
        palette.setColor(role, QColor(value))
    for role, value in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(value))
    return palette


def light_palette(app: QApplication) -> QPalette:
    style = app.style()
    return style.standardPalette() if style is not None else QPalette()


def apply_scheme(app: QApplication, choice: str = "auto",
                 desktop: Qt.ColorScheme | None = None) -> Scheme:
    """Sets the palette for ``choice`` ("auto": the desktop's, ``desktop`` when the
    caller was just told it, else asked) and returns the scheme in use. With "auto", a
    desktop that is dark without a dark palette gets ours."""
    if choice not in CHOICES:
        raise ValueError(f"colour scheme must be one of {', '.join(CHOICES)}")
    wanted = {"light": Scheme.LIGHT, "dark": Scheme.DARK}.get(choice)
    if wanted is None:
        if desktop is None:
            desktop = app.styleHints().colorScheme()
        if desktop == Qt.ColorScheme.Unknown:
            return current_scheme()          # nothing said: the platform's palette stays
        wanted = Scheme.DARK if desktop == Qt.ColorScheme.Dark else Scheme.LIGHT
        if scheme_of(app.palette()) is wanted:
            return wanted                    # the platform theme already switched
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")               # the one style that draws any palette well
    app.setPalette(dark_palette() if wanted is Scheme.DARK else light_palette(app))
    return wanted


class DesktopScheme(QObject):
    """Keeps following the desktop: a change of its scheme re-applies "auto"."""

    def __init__(self, app: QApplication, choice: str = "auto") -> None:
        super().__init__(app)
        self._app = app
        self.choice = choice
        self.scheme = apply_scheme(app, choice)
        app.styleHints().colorSchemeChanged.connect(self._desktop_changed)

    def stop(self) -> None:
        """No longer follows the desktop (the palette stays as it is)."""
        self._app.styleHints().colorSchemeChanged.disconnect(self._desktop_changed)

    def _desktop_changed(self, desktop: Qt.ColorScheme) -> None:
        if self.choice == "auto":
            self.scheme = apply_scheme(self._app, "auto", desktop)


class _SchemeFollower(QObject):
    def __init__(self, widget: QWidget, apply: Callable[[], None]) -> None:
        super().__init__(widget)
        self._apply = apply
        self._scheme = current_scheme()
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            scheme = current_scheme()
            if scheme is not self._scheme:      # a style sheet's own change: no loop
                self._scheme = scheme
                self._apply()
        return False


def follow_scheme(widget: QWidget, apply: Callable[[], None]) -> None:
    """Calls ``apply`` now and whenever the scheme changes (light ↔ dark) while
    ``widget`` lives: for widgets that set own colours in style sheets or pens."""
    apply()
    _SchemeFollower(widget, apply)
