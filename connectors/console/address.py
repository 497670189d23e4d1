"""Where a standalone console connects: a vnc:// or spice:// address, or a virt-viewer
connection file (.vv, an INI file with a [virt-viewer] section: type, host, port,
tls-port, password, title…), read as remote-viewer reads them."""
from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

VNC_BASE_PORT = 5900
PROTOCOLS = ("vnc", "spice")
TLS_SPICE = "TLS SPICE is not supported yet"
TLS_NOT_SUPPORTED = f"{TLS_SPICE}: give the server's plain port (port=…) instead of only a tls-port"


@dataclass(frozen=True, slots=True)
class ConsoleAddress:
    protocol: str            # "vnc" or "spice"
    host: str
    port: int
    password: str | None = None
    title: str = ""
    username: str | None = None   # VeNCrypt's Plain log-in (vnc://USER:PASSWORD@HOST)

    @property
    def display(self) -> str:
        return self.title or f"{self.host}:{self.port}"


def looks_like_console_target(text: str) -> bool:
    return text.startswith(("vnc://", "spice://", "spice+tls://", "spice+unix://")) \
        or text.endswith(".vv")


def parse_console_uri(text: str) -> ConsoleAddress:
    """vnc://HOST:PORT (PORT defaults to 5900; a port below 100 is a display number, as
    vncviewer reads it); vnc://:PASSWORD@HOST:PORT carries a password.
    spice://HOST:PORT or spice://HOST?port=PORT[&tls-port=N][&password=P], as remote-viewer
    takes them (a SPICE address always names its port)."""
    parts = urlsplit(text)
    if parts.scheme == "spice":
        return _parse_spice_uri(text, parts)
    if parts.scheme == "spice+tls":
        raise ValueError(f"{text}: {TLS_SPICE}; use spice://HOST:PORT with the server's "
                         "plain port")
    if parts.scheme == "spice+unix":
        raise ValueError(f"{text}: SPICE over a UNIX socket is not supported; for a VM on "
                         "this machine open HVConsole on its libvirt connection instead")
    if parts.scheme != "vnc":
        raise ValueError(f"{text}: not a console address; use vnc://HOST:PORT or "
                         "spice://HOST:PORT")
    if not parts.hostname:
        raise ValueError(f"{text}: the address has no host (vnc://HOST:PORT)")
    port = _uri_port(text, parts)
    if port is None:
        port = VNC_BASE_PORT
    elif port < 100:
        port += VNC_BASE_PORT
    password = unquote(parts.password) if parts.password else None
    username = unquote(parts.username) if parts.username else None
    return ConsoleAddress("vnc", parts.hostname, port, password, username=username)


def _uri_port(text: str, parts: SplitResult) -> int | None:
    try:
        port: int | None = parts.port
        return port
    except ValueError:
        raise ValueError(f"{text}: the port is not a number from 0 to 65535") from None


def _parse_spice_uri(text: str, parts: SplitResult) -> ConsoleAddress:
    if not parts.hostname:
        raise ValueError(f"{text}: the address has no host (spice://HOST:PORT)")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError(f"{text}: the part after '?' is not NAME=VALUE pairs "
                         "joined by '&'") from None
    unknown = sorted(set(query) - {"port", "tls-port", "password"})
    if unknown:
        raise ValueError(f"{text}: unknown parameter {unknown[0]!r} (SPICE addresses take "
                         "port, tls-port and password)")
    port = _uri_port(text, parts)
    if port == 0:
        raise ValueError(f"{text}: port 0 is out of range (1 to 65535)")
    query_port = _number(text, "port", _last(query, "port"))
    if port is not None and query_port is not None and port != query_port:
        raise ValueError(f"{text}: two different ports ({port} and port={query_port})")
    port = port if port is not None else query_port
    tls_port = _number(text, "tls-port", _last(query, "tls-port"))
    if port is None:
        if tls_port is not None:
            raise ValueError(f"{text}: {TLS_NOT_SUPPORTED}")
        raise ValueError(f"{text}: the address has no port (spice://HOST:PORT or "
                         "spice://HOST?port=PORT)")
    password = _last(query, "password")
    if password is None and parts.password:
        password = unquote(parts.password)
    return ConsoleAddress("spice", parts.hostname, port, password or None)


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _number(where: str, name: str, text: str | None) -> int | None:
    """A port given as text; None when absent or empty (as remote-viewer reads "port=")."""
    if text is None or not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{where}: {name} {text!r} is not a number") from None
    if not 0 < value < 65536:
        raise ValueError(f"{where}: {name} {value} is out of range (1 to 65535)")
    return value


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
    if kind not in PROTOCOLS:
        raise ValueError(f"{path}: type {kind or '(missing)'} is not supported; "
                         "only vnc and spice consoles are")
    host = vv.get("host", "").strip()
    if not host:
        raise ValueError(f"{path}: no host given")
    port = _number(str(path), "port", vv.get("port"))
    if kind == "spice":
        tls_port = _number(str(path), "tls-port", vv.get("tls-port"))
        if port is None:
            raise ValueError(f"{path}: {TLS_NOT_SUPPORTED}" if tls_port is not None
                             else f"{path}: no port given")
        secure = {c.strip() for c in vv.get("secure-channels", "").split(";")}
        if secure & {"all", "main"}:
            raise ValueError(f"{path}: the server wants its channels over TLS "
                             f"(secure-channels), and {TLS_SPICE}")
    elif port is None:
        port = VNC_BASE_PORT
    return ConsoleAddress(kind, host, port, vv.get("password") or None,
                          vv.get("title", "").strip(), vv.get("username") or None)
