"""The application's own icon (window, task bar, About box).

The themed object and action icons come from app/icons.py. The application icon is the
resources' hvconsole.svg, read here directly (it is set before the window's first paint,
which must not wait for app/icons.py's imports); when the resources hold none, it is drawn
here (a monitor with a green "on" light), so the window never shows the platform's blank
default.
"""
from __future__ import annotations

from PySide6.QtGui import QIcon, QPixmap


def app_icon() -> QIcon:
    # The file itself, not app.icons (which loads the connectors' state types): the icon
    # is set before the window's first paint (widgets/startup.py).
    from resources import icon_file
    path = icon_file("hvconsole")
    if path is not None:
        return QIcon(str(path))
    drawn = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        drawn.addPixmap(_draw(size))
    return drawn


def _draw(size: int) -> QPixmap:
    # Imported here: the icon is set before the first paint, and a resource file is the
    # rule, so these Qt classes (each built with its enums on import) are rarely needed.
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath

    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64.0
    screen = QPainterPath()
    screen.addRoundedRect(QRectF(4 * s, 8 * s, 56 * s, 40 * s), 6 * s, 6 * s)
    p.fillPath(screen, QColor("#1f4e79"))
    p.fillRect(QRectF(10 * s, 14 * s, 44 * s, 28 * s), QColor("#2f75b5"))
    p.fillRect(QRectF(26 * s, 48 * s, 12 * s, 6 * s), QColor("#1f4e79"))
    p.fillRect(QRectF(16 * s, 54 * s, 32 * s, 4 * s), QColor("#1f4e79"))
    if size >= 24:
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, int(14 * s)))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(QRectF(10 * s, 14 * s, 44 * s, 28 * s), Qt.AlignmentFlag.AlignCenter, "HV")
    p.setBrush(QColor("#4caf50"))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(QRectF(48 * s, 40 * s, 10 * s, 10 * s))
    p.end()
    return pixmap
