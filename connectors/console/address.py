"""Where a standalone console connects: a vnc:// address or a virt-viewer connection
file (.vv, an INI file with a [virt-viewer] section: type, host, port, password, title…)."""
from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

VNC_BASE_PORT = 5900


@dataclass(frozen=True, slots=True)
class ConsoleAddress:
    protocol: str            # "vnc" ("spice" once that client exists)
    host: str
    port: int
    password: str | None = None
    title: str = ""

    @property
    def display(self) -> str:
        return self.title or f"{self.host}:{self.port}"


def looks_like_console_target(text: str) -> bool:
    return text.startswith(("vnc://", "spice://")) or text.endswith(".vv")


def parse_console_uri(text: str) -> ConsoleAddress:
    """vnc://HOST:PORT (PORT defaults to 5900; a port below 100 is a display number, as
    vncviewer reads it); vnc://:PASSWORD@HOST:PORT carries a password."""
    parts = urlsplit(text)
    if parts.scheme != "vnc":
        raise ValueError(f"{text}: only vnc:// consoles are supported so far")
    if not parts.hostname:
        raise ValueError(f"{text}: the address has no host (vnc://HOST:PORT)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{text}: the port is not a number from 0 to 65535") from None
    if port is None:
        port = VNC_BASE_PORT
    elif port < 100:
        port += VNC_BASE_PORT
    password = unquote(parts.password) if parts.password else None
    return ConsoleAddress("vnc", parts.hostname, port, password)


def read_vv_file(path: str | Path) -> ConsoleAddress:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, UnicodeDecodeError, configparser.Error) as err:
        raise ValueError(f"{path}: cannot read the connection file ({err})") from None
    if not parser.has_section("virt-viewer"):
        raise ValueError(f"{path}: not a virt-viewer file (no [virt-viewer] section)")
    vv = parser["virt-viewer"]
    kind = vv.get("type", "").strip().lower()
    if kind != "vnc":
        raise ValueError(f"{path}: type {kind or '(missing)'} is not supported yet; "
                         "only VNC consoles are")
    host = vv.get("host", "").strip()
    if not host:
        raise ValueError(f"{path}: no host given")
    try:
        port = int(vv.get("port", str(VNC_BASE_PORT)))
    except ValueError:
        raise ValueError(f"{path}: the port is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{path}: port {port} is out of range")
    return ConsoleAddress("vnc", host, port, vv.get("password") or None,
                          vv.get("title", "").strip())
