"""Which HVConsole this is, and which libvirt and Qt it runs on: for ``--version``, the
About box and bug reports. Its own module so that the About box (widgets/) needs nothing
from the composition root (app/cli.py), which imports widgets/ itself.
"""
from __future__ import annotations

from pathlib import Path

FALLBACK_VERSION = "0.1.0"
# The desktop's name for HVConsole: its .desktop file, icon, AppStream and Flatpak id
# (packaging/). Qt hands it to the desktop, which finds the entry's icon by it (Wayland).
APP_ID = "io.github.hvconsole.HVConsole"


def hvconsole_version() -> str:
    """The installed distribution's version; in a source tree, pyproject.toml's."""
    from importlib import metadata
    try:
        return metadata.version("hvconsole")
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        import tomllib
        with pyproject.open("rb") as fh:
            return tomllib.load(fh)["project"]["version"]
    except (OSError, KeyError, ValueError):
        return FALLBACK_VERSION


def libvirt_version() -> str:
    """The libvirt library this process talks through, as A.B.C (libvirt packs it as
    major * 1,000,000 + minor * 1,000 + release). A local query: no connection, no daemon."""
    try:
        import libvirt
    except ImportError:
        return "not installed"
    packed = libvirt.getVersion()
    return f"{packed // 1_000_000}.{packed // 1000 % 1000}.{packed % 1000}"


def qt_version() -> str:
    from PySide6.QtCore import qVersion
    return qVersion()


def version_line() -> str:
    return f"hvconsole {hvconsole_version()} (libvirt {libvirt_version()}, Qt {qt_version()})"
