"""HVConsole's data files — the icons and the demo lab — wherever HVConsole is installed.

They are package data of this package, so a checkout, an editable install and a wheel
installed anywhere find them the same way (importlib.resources), instead of by a path
relative to the source tree that only a checkout has. Qt and libvirt need real files
(QIcon's path, the test driver's ``test:///<file>``): HVConsole is never imported from a
zip, so the package's folder is a real folder.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

ROOT = Path(str(files(__name__)))
ICONS = ROOT / "icons"
DEMO_LAB = ROOT / "demo" / "lab.xml"


def icon_file(name: str) -> Path | None:
    """The SVG of an icon name (file name without .svg); None when there is none."""
    path = ICONS / f"{name}.svg"
    return path if path.is_file() else None
