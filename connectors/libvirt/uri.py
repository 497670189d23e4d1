"""Checking a libvirt connection URI before anything tries to open it.

libvirt's own parser accepts a lot and then fails late with messages a user cannot act on
("no connection driver available"). The Add Server dialog calls ``validate_uri`` on every
keystroke, and the connection manager calls it again before connecting, so the sentence a
user reads is always one that says what is wrong and how to write it instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote

KNOWN_DRIVERS: tuple[str, ...] = (
    "qemu", "xen", "lxc", "test", "vbox", "ch", "bhyve", "openvz", "vz", "parallels",
    "vmwareplayer", "vmwarews", "vmwarefusion", "esx", "gsx", "vpx", "hyperv",
)
KNOWN_TRANSPORTS: tuple[str, ...] = ("ssh", "tls", "tcp", "unix", "libssh2", "libssh")
SSH_TRANSPORTS = ("ssh", "libssh2", "libssh")
EXAMPLES = "qemu:///system, xen:///system or qemu+ssh://user@host/system"

_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_SCHEME_PART = re.compile(r"^[a-z][a-z0-9]*$")
_USER = re.compile(r"^[A-Za-z0-9_.\-$%~!]+$")


@dataclass(frozen=True)
class ParsedURI:
    """A URI that libvirt can be asked to open, taken apart for display and policy."""

    uri: str                      # normalised: lower-case scheme and host
    driver: str                   # "qemu", "xen", "test", ...
    transport: str                # "" (local or libvirt's default), "ssh", "tls", ...
    user: str
    host: str
    port: int | None
    path: str                     # "/system", "/session", "/default", "/abs/file.xml"
    params: dict[str, str] = field(default_factory=dict)
    is_local: bool = True         # no host part: the machine HVConsole runs on
    display_name: str = "localhost"


def validate_uri(text: str) -> ParsedURI:
    """Parse ``text`` as a libvirt URI; raise ValueError with a sentence a user can act on."""
    if not isinstance(text, str):
        raise ValueError("The URI must be text, for example qemu:///system.")
    text = text.strip()
    if not text:
        raise ValueError(f"Enter a libvirt URI, for example {EXAMPLES}.")
    if any(ch.isspace() for ch in text):
        raise ValueError("The URI contains a space; a libvirt URI has none "
                         "(for example qemu:///system).")
    if any(not ch.isprintable() for ch in text):
        raise ValueError("The URI contains a character that cannot be typed; "
                         "write it as plain text, for example qemu:///system.")
    if text.lower().startswith("xapi://"):
        return _xapi(text)
    if "://" not in text:
        raise ValueError("The URI is missing '://': write it as driver://[user@host]/path, "
                         f"for example {EXAMPLES}.")
    scheme, rest = text.split("://", 1)
    if not scheme:
        raise ValueError(f"The URI is missing the driver before '://': use {EXAMPLES}.")
    if "#" in rest:
        raise ValueError("A libvirt URI has no '#' part; remove it and what follows.")
    driver, transport = _parse_scheme(scheme.lower())

    rest, _, query = rest.partition("?")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    user, host, port = _parse_authority(authority)
    params = _parse_query(query)

    if transport in SSH_TRANSPORTS and not host:
        raise ValueError(f"The '{driver}+{transport}' transport needs the host to log in to: write "
                         f"{driver}+{transport}://user@host/system.")
    path = _check_path(driver, path, params)

    authority_text = host if ":" not in host else f"[{host}]"
    if user:
        authority_text = f"{user}@{authority_text}"
    if port is not None:
        authority_text = f"{authority_text}:{port}"
    full_scheme = f"{driver}+{transport}" if transport else driver
    normalised = f"{full_scheme}://{authority_text}{path}"
    if query:
        normalised = f"{normalised}?{query}"
    return ParsedURI(uri=normalised, driver=driver, transport=transport, user=user,
                     host=host, port=port, path=path, params=params,
                     is_local=not host, display_name=host or "localhost")


def _xapi(text: str) -> ParsedURI:
    """A XenServer / XCP-ng pool (connectors.xapi): not libvirt's, but a server the user
    adds the same way, so the same checker answers for it (driver "xapi")."""
    from connectors.xapi.uri import parse as parse_xapi
    target = parse_xapi(text)
    params = {"fingerprint": target.fingerprint} if target.fingerprint else {}
    return ParsedURI(uri=target.uri, driver="xapi", transport="", user=target.user,
                     host=target.host, port=target.port, path="", params=params,
                     is_local=False, display_name=target.host)


def libvirt_uri(uri: str) -> str:
    """The URI handed to libvirt: the ``ssh`` transport gets ``no_tty=1`` unless the URI
    says otherwise. libvirt runs the ssh binary for it, and a desktop program has no
    terminal for ssh to ask on: without it ssh would wait on the terminal HVConsole was
    started from (or forever), with it ssh runs in batch mode and fails at once with its
    reason (an unknown host key, a key it cannot use). Host keys are checked before
    connecting (connectors.libvirt.hostkeys); passwords for SSH logins go through the
    ``libssh`` transport, which asks through libvirt's credential callback; libssh and
    libssh2 get ``known_hosts=~/.ssh/known_hosts`` (their default is libvirt's own file,
    not the one whose keys HVConsole checked)."""
    try:
        parsed = validate_uri(uri)
    except ValueError:
        return uri
    extra = ""
    if parsed.transport == "ssh" and "no_tty" not in parsed.params:
        extra = "no_tty=1"
    elif parsed.transport in ("libssh", "libssh2") and "known_hosts" not in parsed.params:
        # Their default is libvirt's own file; the user's is the one HVConsole checks.
        from connectors.libvirt.hostkeys import default_known_hosts
        extra = "known_hosts=" + quote(str(default_known_hosts()), safe="/~._-")
    if not extra:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{extra}"


def _parse_scheme(scheme: str) -> tuple[str, str]:
    driver, plus, transport = scheme.partition("+")
    if plus and not transport:
        raise ValueError(f"The scheme '{scheme}' ends with '+' but names no transport: use "
                         f"{driver}+ssh, {driver}+tls or just {driver}.")
    if "+" in transport:
        raise ValueError(f"The scheme '{scheme}' names more than one transport; keep one, for "
                         f"example {driver}+ssh.")
    if not _SCHEME_PART.match(driver) or driver not in KNOWN_DRIVERS:
        raise ValueError(f"Unknown driver '{driver}': use one of "
                         f"{', '.join(KNOWN_DRIVERS)} (KVM hosts use qemu).")
    if transport and transport not in KNOWN_TRANSPORTS:
        raise ValueError(f"Unknown transport '{transport}' in '{scheme}': use "
                         f"{', '.join(KNOWN_TRANSPORTS)}, or none for this machine.")
    return driver, transport


def _parse_authority(authority: str) -> tuple[str, str, int | None]:
    user = ""
    if "@" in authority:
        user, _, authority = authority.rpartition("@")
        if not user:
            raise ValueError("There is an '@' but no user name before it: write "
                             "user@host, or leave both out.")
        if not _USER.match(user):
            raise ValueError(f"The user name '{user}' has characters a user name cannot "
                             "have.")
    port_text = None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError("An IPv6 address opened with '[' needs a closing ']', "
                             "for example qemu+ssh://[fe80::1]/system.")
        host, after = authority[1:end], authority[end + 1:]
        if after:
            if not after.startswith(":"):
                raise ValueError("After an IPv6 address in brackets only ':port' may "
                                 "follow.")
            port_text = after[1:]
        if not host or not _IPV6.match(host):
            raise ValueError(f"The address '{host}' is not an IPv6 address.")
    else:
        host, colon, port_part = authority.partition(":")
        if colon:
            port_text = port_part
        if host and not _HOSTNAME.match(host):
            raise ValueError(f"The host name '{host}' has characters a host name cannot "
                             "have; use a name such as kvm1.example.org or an address.")
    if user and not host:
        raise ValueError(f"The user '{user}' is given without a host: write user@host.")
    port = None
    if port_text is not None:
        if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
            raise ValueError(f"The port '{port_text}' is not a number from 1 to 65535.")
        if not host:
            raise ValueError("A port is given without a host: write host:port.")
        port = int(port_text)
    return user, host.lower(), port


def _parse_query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    if not query:
        return params
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not name:
            raise ValueError("A parameter after '?' has no name: write name=value.")
        params[name] = value
    return params


def _check_path(driver: str, path: str, params: dict[str, str]) -> str:
    if driver == "qemu":
        if path in ("/system", "/session") or (path == "/embed" and "root" in params):
            return path
        raise ValueError(f"A qemu URI ends in /system (all VMs of the host) or /session "
                         f"(your own VMs), not '{path or 'nothing'}': for example "
                         "qemu:///system.")
    if driver == "xen":
        if path in ("", "/", "/system"):
            return "/system"
        raise ValueError(f"A xen URI ends in /system, not '{path}': for example "
                         "xen:///system.")
    if driver == "test":
        if path.startswith("/") and len(path) > 1:
            return path
        raise ValueError("A test URI ends in /default or in the absolute path of a test "
                         "driver XML file: for example test:///default.")
    if driver == "lxc":
        if path in ("", "/", "/system"):
            return path or "/"
        raise ValueError(f"An lxc URI ends in / or /system, not '{path}'.")
    return path


__all__ = ["ParsedURI", "libvirt_uri", "validate_uri", "KNOWN_DRIVERS", "KNOWN_TRANSPORTS"]
