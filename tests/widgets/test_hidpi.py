"""HiDPI at 1.5× and 2×: icons drawn from their SVGs at the screen's pixel density (not a
small bitmap blown up), and the whole window rendered at that density.

The icons are checked in process: a QIcon asked for a 16-point pixmap at a device pixel
ratio must paint as many device pixels, exactly as the SVG renders at that size. The
window is checked by running the program under QT_SCALE_FACTOR (a setting Qt reads at
start, hence a child process) with ``--screenshot``: the picture has the device pixels of
the scaled window."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

import resources
from app import icons

ROOT = Path(__file__).resolve().parents[2]
ICON_NAMES = sorted(p.stem for p in (ROOT / "resources" / "icons").glob("*.svg"))


def _pixels(image: QImage) -> np.ndarray:
    """Premultiplied RGBA: a transparent pixel is 0,0,0,0 whatever colour it was given."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888_Premultiplied)
    w, h = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    # A copy while the image lives: the buffer goes with it.
    return raw.reshape(h, image.bytesPerLine() // 4, 4)[:, :w].copy()


def _rendered(path: Path, pixels: int) -> np.ndarray:
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(path)).render(painter)
    painter.end()
    return _pixels(image).astype(int)


@pytest.mark.parametrize("ratio", [1.5, 2.0])
def test_icons_are_drawn_from_svg_at_the_screens_density(qapp, ratio):
    assert len(ICON_NAMES) > 20
    blurred = 0
    for name in ICON_NAMES:
        icon = icons.icon(name)
        pixmap = icon.pixmap(QSize(16, 16), ratio)
        device = round(16 * ratio)
        assert (pixmap.width(), pixmap.height()) == (device, device), name
        assert pixmap.devicePixelRatio() == ratio
        got = _pixels(pixmap.toImage()).astype(int)
        path = resources.icon_file(name)
        assert path is not None
        crisp = _rendered(path, device)
        # The SVG rendered at the device size, pixel for pixel (rounding aside) …
        assert np.abs(got - crisp).max() <= 2, name
        # … which a 16-pixel bitmap scaled up is not.
        small = QImage(16, 16, QImage.Format.Format_ARGB32_Premultiplied)
        small.fill(Qt.GlobalColor.transparent)
        painter = QPainter(small)
        QSvgRenderer(str(path)).render(painter)
        painter.end()
        upscaled = _pixels(small.scaled(device, device)).astype(int)
        if np.abs(upscaled - crisp).max() > 16:
            blurred += 1
    assert blurred > len(ICON_NAMES) // 2, "scaled bitmaps would look like these"


@pytest.mark.parametrize("scale", ["1.5", "2"])
def test_the_window_renders_at_the_scale_factor(tmp_path, scale):
    shot = tmp_path / f"window-{scale}.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=scale,
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    demo = ROOT / "resources" / "demo" / "lab.xml"
    done = subprocess.run([sys.executable, "-m", "app", "--connect", f"test://{demo}",
                           "--show-domain", "web-01", "--screenshot", str(shot)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    image = QImage(str(shot))
    # The window's default size (1280×800 points) in device pixels.
    assert (image.width(), image.height()) == (round(1280 * float(scale)),
                                               round(800 * float(scale)))
