"""``xapi://[user@]host[:port][?fingerprint=SHA256:…]``: a pool as the user names it.

The host may be any pool member (the connection follows to the master). The port is
XAPI's HTTPS port, 443 unless said. ``fingerprint`` pins the server certificate's SHA-256
for scripts, instead of the first-contact question.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

SCHEME = "xapi"
DEFAULT_PORT = 443


@dataclass(frozen=True)
class XapiURI:
    host: str
    port: int = DEFAULT_PORT
    user: str = ""
    fingerprint: str = ""       # "SHA256:<base64>", or "" to use the trusted store

    @property
    def uri(self) -> str:
        """The normal form: what is saved and what identifies the connection."""
        user = f"{urllib.parse.quote(self.user, safe='')}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port != DEFAULT_PORT else ""
        query = f"?fingerprint={self.fingerprint}" if self.fingerprint else ""
        return f"{SCHEME}://{user}{host}{port}{query}"

    @property
    def address(self) -> str:
        """host:port as a user reads it (the port only when it is not 443)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORT else f"{host}:{self.port}"

    def at(self, host: str, port: int | None = None) -> XapiURI:
        """The same user and pin at another address (the pool master)."""
        return XapiURI(host, self.port if port is None else port, self.user,
                       self.fingerprint)


def is_xapi_uri(uri: str) -> bool:
    return uri.strip().lower().startswith(SCHEME + "://")


def parse(uri: str) -> XapiURI:
    """Parses and checks a URI; ValueError with a sentence for the user."""
    text = uri.strip()
    if not is_xapi_uri(text):
        raise ValueError(f"{uri!r} is not a XenAPI address (xapi://host)")
    parts = urllib.parse.urlsplit(text)
    if parts.path not in ("", "/"):
        raise ValueError(f"A XenAPI address has no path: {uri!r} (xapi://[user@]host[:port])")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"The port of {uri!r} is not a number from 1 to 65535 ({exc})") \
            from None
    if not host:
        raise ValueError(f"{uri!r} names no host (xapi://[user@]host[:port])")
    if port == 0:
        raise ValueError(f"The port of {uri!r} is not a number from 1 to 65535")
    fingerprint = ""
    # Split by hand: parse_qsl reads "+" as a space, and base64 fingerprints hold "+".
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        key, value = urllib.parse.unquote(key), urllib.parse.unquote(value)
        if key != "fingerprint":
            raise ValueError(f"{uri!r}: unknown parameter {key!r} (only fingerprint=)")
        fingerprint = normalise_fingerprint(value)
    user = urllib.parse.unquote(parts.username or "")
    if parts.password:
        raise ValueError("A password does not belong in the address: HVConsole asks for "
                         "it and keeps it in the keyring")
    return XapiURI(host, port or DEFAULT_PORT, user, fingerprint)


def normalise_fingerprint(value: str) -> str:
    """``SHA256:<base64, no padding>`` as OpenSSH prints it, or the hex digest with or
    without colons (as ``openssl x509 -fingerprint -sha256`` prints it); ValueError else."""
    import base64
    import binascii
    text = value.strip()
    if text.upper().startswith("SHA256:") and ":" in text[7:]:
        text = text[7:]          # SHA256:AB:CD:… (hex after the prefix)
    if text.upper().startswith("SHA256:"):
        body = text[7:]
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError(f"The fingerprint {value!r} is not a SHA-256 digest")
        return "SHA256:" + base64.b64encode(raw).decode().rstrip("=")
    hexdigits = text.replace(":", "")
    try:
        raw = bytes.fromhex(hexdigits)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"The fingerprint {value!r} is not a SHA-256 digest "
                         "(SHA256:<base64> or 64 hex digits)")
    return "SHA256:" + base64.b64encode(raw).decode().rstrip("=")
