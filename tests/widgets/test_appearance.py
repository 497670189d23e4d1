"""Light and dark: the main window on the demo lab, drawn in both schemes, with no text in
the colour of what is behind it — read from the widgets' palettes and from the pixels
they render — and the program's own colours (app/colours.py) readable on both.

The offscreen platform reports no desktop colour scheme (and ignores
QStyleHints.setColorScheme), so dark is forced as the launcher forces it for
``--color-scheme dark``: Fusion with HVConsole's dark palette (widgets/appearance.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractButton, QApplication, QLabel, QLineEdit, QTabBar,
                               QWidget)

from app import colours
from app.colours import Scheme, contrast_ratio
from tests.conftest import wait_until
from tests.widgets.test_main_window import session  # noqa: F401 (the window fixture)
from widgets.appearance import DesktopScheme, apply_scheme, dark_palette

TEXT_ROLES = (colours.ERROR, colours.WARNING, colours.SUCCESS, colours.XML_TAG,
              colours.XML_ATTRIBUTE, colours.XML_STRING, colours.XML_ENTITY)
MIN_TEXT_CONTRAST = 4.5       # WCAG AA for body text
MIN_RENDERED_CONTRAST = 3.0   # antialiased glyphs at 9–10 pt never reach their pen's full colour


@pytest.fixture
def schemes(qapp):
    """Switches the application light ↔ dark; puts the test session's look back after."""
    style, palette = qapp.style().name(), QPalette(qapp.palette())
    yield lambda choice: apply_scheme(qapp, choice)
    qapp.setStyle(style)
    qapp.setPalette(palette)


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    # BGRA → RGB, copied while the image lives: the buffer goes with it.
    return raw.reshape(h, image.bytesPerLine() // 4, 4)[:, :w, 2::-1].copy()


def rendered_contrast(widget: QWidget) -> float:
    """The contrast between a widget's commonest colour (its background) and the colour
    in it farthest from that (its text's core), from what it actually paints."""
    grabbed = widget.grab()
    # Onto the window's colour: where a widget paints nothing its pixmap is transparent,
    # and a transparent pixel's colour is undefined.
    image = QImage(grabbed.size(), QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(grabbed.devicePixelRatio())
    image.fill(widget.window().palette().color(QPalette.ColorRole.Window))
    painter = QPainter(image)
    painter.drawPixmap(0, 0, grabbed)
    painter.end()
    rgb = _pixels(image).reshape(-1, 3)
    values, counts = np.unique(rgb, axis=0, return_counts=True)
    background = QColor(*map(int, values[counts.argmax()]))
    ratios = [contrast_ratio(background, QColor(*map(int, v)))
              for v, n in zip(values, counts, strict=True) if n >= 2]
    return max(ratios)


def _texts(window) -> list[QWidget]:
    """Visible, enabled widgets of the window that show text."""
    found: list[QWidget] = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or not widget.isEnabled() or widget.width() < 4:
            continue
        if isinstance(widget, QLabel) and widget.text().strip() and widget.pixmap().isNull():
            found.append(widget)
        elif isinstance(widget, (QAbstractButton, QLineEdit, QTabBar)):
            found.append(widget)
    return found


def _check_window(window, scheme: Scheme) -> list[str]:
    problems = []
    assert colours.current_scheme() is scheme
    texts = _texts(window)
    assert len(texts) > 20, "the window shows its labels, buttons and tabs"
    for widget in texts:
        palette = widget.palette()
        fg = palette.color(widget.foregroundRole())
        bg = palette.color(widget.backgroundRole())
        name = f"{type(widget).__name__} {widget.objectName() or ''} " \
               f"{getattr(widget, 'text', lambda: '')()[:30]!r}"
        if contrast_ratio(fg, bg) < MIN_TEXT_CONTRAST:
            problems.append(f"{scheme.value}: {name} palette {fg.name()} on {bg.name()}")
        if isinstance(widget, QLabel) and rendered_contrast(widget) < MIN_RENDERED_CONTRAST:
            problems.append(f"{scheme.value}: {name} renders at "
                            f"{rendered_contrast(widget):.1f}:1")
    # The tree's rows and the tab bar, as painted.
    for painted in (window.tree.viewport(), window.tabs.tabBar()):
        if rendered_contrast(painted) < MIN_RENDERED_CONTRAST:
            problems.append(f"{scheme.value}: {type(painted).__name__} renders at "
                            f"{rendered_contrast(painted):.1f}:1")
    return problems


def test_the_window_reads_in_light_and_in_dark(session, schemes, qtbot, aloop):  # noqa: F811
    window = session.window
    window.resize(1280, 800)
    host = session.manager.host(session.conn_id)
    window.tree.select_node(session.conn_id, sorted(host.vms(), key=lambda v: v.name)[0].key)
    window.status.set_result("Shutting down VM web-01 failed: it refused", failed=True)
    window.status.demo_label.setVisible(True)
    qtbot.waitExposed(window)
    assert schemes("light") is Scheme.LIGHT
    QApplication.processEvents()
    light_window = window.palette().color(QPalette.ColorRole.Window)
    problems = _check_window(window, Scheme.LIGHT)
    assert schemes("dark") is Scheme.DARK
    aloop.run_until_complete(wait_until(
        lambda: window.palette().color(QPalette.ColorRole.Window).lightness() < 128))
    QApplication.processEvents()
    assert window.palette().color(QPalette.ColorRole.Window) != light_window
    problems += _check_window(window, Scheme.DARK)
    # The status bar's own colours switched with it (no light note on a dark bar).
    assert colours.hex_colour(colours.NOTICE_BACKGROUND, Scheme.DARK) in \
        window.status.demo_label.styleSheet()
    assert colours.hex_colour(colours.ERROR, Scheme.DARK) in \
        window.status.task_label.styleSheet()
    assert problems == []


def test_the_graphs_follow_the_scheme(session, schemes, qtbot, aloop):  # noqa: F811
    window = session.window
    host = session.manager.host(session.conn_id)
    window.tree.select_node(session.conn_id, sorted(host.vms(), key=lambda v: v.name)[0].key)
    window.tabs.setCurrentWidget(window.performance_tab)
    qtbot.waitExposed(window)
    aloop.run_until_complete(wait_until(lambda: bool(_charts(window))))
    for choice, scheme in (("dark", Scheme.DARK), ("light", Scheme.LIGHT)):
        schemes(choice)
        QApplication.processEvents()
        for chart in _charts(window):
            background = chart.view.backgroundBrush().color()
            assert background == colours.colour(colours.GRAPH_BACKGROUND, scheme)
            axis = chart.plot.getAxis("left").textPen().color()
            assert contrast_ratio(axis, background) >= MIN_TEXT_CONTRAST
            for i, curve in enumerate(chart.curves):
                assert curve.item.opts["pen"].color().name() == colours.series(i, scheme)
            assert rendered_contrast(chart.title) >= MIN_RENDERED_CONTRAST


def _charts(window):
    grid = window.performance_tab.findChild(QWidget, "perfCharts")
    return [c for c in getattr(grid, "charts", []) if c.isVisible()] if grid else []


@pytest.mark.parametrize("scheme", list(Scheme))
def test_own_text_colours_read_on_both_palettes(qapp, scheme):
    palette = dark_palette() if scheme is Scheme.DARK else qapp.style().standardPalette()
    for role in TEXT_ROLES:
        for ground in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
            ratio = contrast_ratio(colours.colour(role, scheme), palette.color(ground))
            assert ratio >= MIN_TEXT_CONTRAST, (role, scheme, ground, ratio)
    assert contrast_ratio(colours.colour(colours.NOTICE_TEXT, scheme),
                          colours.colour(colours.NOTICE_BACKGROUND, scheme)) >= 7
    assert contrast_ratio(colours.colour(colours.MUTED, scheme),
                          palette.color(QPalette.ColorRole.Base)) >= 3
    background = colours.colour(colours.GRAPH_BACKGROUND, scheme)
    for i in range(len(colours.SERIES[scheme])):
        assert contrast_ratio(QColor(colours.series(i, scheme)), background) >= 3, i


def test_the_rendered_contrast_check_catches_invisible_text(qapp, qtbot):
    label = QLabel("Shutting down failed")
    qtbot.addWidget(label)
    label.setStyleSheet("QLabel { color: #2d2d2d; background: #2d2d2d; }")
    label.show()
    assert rendered_contrast(label) < 1.1
    label.setStyleSheet("QLabel { color: #e6e6e6; background: #2d2d2d; }")
    assert rendered_contrast(label) >= MIN_TEXT_CONTRAST
    assert Qt.ColorScheme.Dark   # the Qt 6.5+ enum the launcher follows exists here


@pytest.mark.parametrize("scheme", list(Scheme))
def test_state_and_action_icons_stand_out_on_both_backgrounds(qapp, scheme):
    """Every SVG icon has a part that reads on the view's background (3:1, WCAG's
    minimum for graphics): no dark-grey-only icon lost on a dark tree."""
    from PySide6.QtCore import QSize

    from tests.widgets.test_hidpi import ICON_NAMES
    from tests.widgets.test_hidpi import _pixels as rgba
    from app import icons
    palette = dark_palette() if scheme is Scheme.DARK else qapp.style().standardPalette()
    base = palette.color(QPalette.ColorRole.Base)
    faint = []
    for name in ICON_NAMES:
        pixels = rgba(icons.icon(name).pixmap(QSize(32, 32)).toImage()).reshape(-1, 4)
        opaque = pixels[pixels[:, 3] >= 200]
        assert len(opaque), name
        best = max(contrast_ratio(base, QColor(*map(int, p[:3])))
                   for p in np.unique(opaque[:, :3], axis=0))
        if best < 3.0:
            faint.append((name, round(best, 2)))
    assert faint == []


def test_focus_is_visible_where_the_keyboard_goes(session, qtbot):  # noqa: F811
    """The tab bar and a page's button paint differently with the keyboard on them."""
    window = session.window
    window.activateWindow()
    qtbot.waitUntil(lambda: window.focusWidget() is window.tree, timeout=3000)
    bar = window.tabs.tabBar()
    before = _pixels(bar.grab().toImage())
    for _ in range(2):              # F6: tree → saved searches → tab bar
        QTest.keyClick(window.focusWidget(), Qt.Key.Key_F6)
    assert bar.hasFocus()
    after = _pixels(bar.grab().toImage())
    assert (before != after).any(), "the focused tab bar shows where the keyboard is"
    # Tab from there: the page's first field, drawn with its focus frame.
    QTest.keyClick(bar, Qt.Key.Key_Tab)
    focused = window.focusWidget()
    assert focused is not bar and window.tabs.isAncestorOf(focused)


def test_the_window_follows_the_desktop_when_it_changes(session, schemes, aloop):  # noqa: F811
    """The desktop switching to dark, then back (QStyleHints.colorSchemeChanged, which
    the offscreen platform never sends by itself): the window and its own colours follow."""
    window = session.window
    follower = DesktopScheme(QApplication.instance(), "auto")
    hints = QApplication.instance().styleHints()
    try:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert follower.scheme is Scheme.DARK
        aloop.run_until_complete(wait_until(
            lambda: window.palette().color(QPalette.ColorRole.Window).lightness() < 128))
        assert colours.hex_colour(colours.NOTICE_BACKGROUND, Scheme.DARK) in \
            window.status.demo_label.styleSheet()
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert follower.scheme is Scheme.LIGHT
        aloop.run_until_complete(wait_until(
            lambda: window.palette().color(QPalette.ColorRole.Window).lightness() >= 128))
        assert colours.hex_colour(colours.NOTICE_BACKGROUND, Scheme.LIGHT) in \
            window.status.demo_label.styleSheet()
        # Told to stay light, it ignores the desktop.
        follower.choice = "light"
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert colours.current_scheme() is Scheme.LIGHT
    finally:
        follower.stop()
        follower.deleteLater()
