"""Help → About names the version a bug report is about, the one `hvconsole --version`
prints and CHANGELOG.md's newest release, beside the application's icon."""
from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from widgets.about import show_about
from widgets.icons import app_icon

ROOT = Path(__file__).resolve().parents[2]
SCREEN_BLUE = QColor("#2f75b5")      # the monitor's screen in resources/icons/hvconsole.svg


def test_the_about_box_shows_the_version_and_the_icon(qtbot):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"## {version} — " in (ROOT / "CHANGELOG.md").read_text()
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.setWindowIcon(app_icon())
    box = show_about(parent)
    qtbot.waitExposed(box)
    assert f"HVConsole {version}" in box.text()
    assert "libvirt " in box.text() and "Qt " in box.text()
    icon = box.iconPixmap().toImage()
    assert icon.width() == 64
    blue = sum(icon.pixelColor(x, y) == SCREEN_BLUE
               for x in range(icon.width()) for y in range(icon.height()))
    assert blue > 64 * 64 // 5, "the About box shows no application icon"
    box.close()


def test_the_application_icon_is_the_installed_svg_not_the_drawn_fallback():
    from app import icons
    assert not icons.icon("hvconsole").isNull()
