"""The security step: pick a type the server offers and run it.

Each security type is a handler that may wrap the stream it is given (VeNCrypt returns
the same stream upgraded to TLS); the client only sees (reader, writer) come back.

VeNCrypt (type 19, version 0.2) negotiates a sub-type: TLS with an X.509 certificate
that is verified (X509None/X509Vnc/X509Plain), anonymous TLS (TLSNone/TLSVnc/TLSPlain:
encrypted but the server is not proven), or Plain (user name and password in the
clear); then the inner authentication runs over the TLS stream. Of the sub-types a
server offers, a verified one is always chosen first, and a failing verification is an
error, never a reason to fall back to an unverified one.
"""
from __future__ import annotations

import asyncio
import getpass
import struct
import warnings
from typing import Awaitable, Callable, Protocol

from connectors.console import tls
from connectors.console.rfb.messages import SEC_NONE, SEC_VENCRYPT, SEC_VNC_AUTH
from connectors.console.state import AuthenticationError, ProtocolError

PasswordSource = Callable[[], Awaitable[str | None]]


def _reverse_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def vnc_auth_response(password: str, challenge: bytes) -> bytes:
    """DES-encrypt the 16-byte challenge with the password as key: its first 8 bytes,
    zero-padded, each byte's bits mirrored (VNC's historical quirk)."""
    if len(challenge) != 16:
        raise ProtocolError("the VNC authentication challenge must be 16 bytes")
    raw = password.encode("latin-1", "replace")[:8].ljust(8, b"\x00")
    key = bytes(_reverse_bits(b) for b in raw)
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # cryptography < 43
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    # Three equal DES keys make TripleDES exactly single DES.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


class SecurityHandler(Protocol):
    type_id: int

    @property
    def uses_password(self) -> bool:
        """A refusal means the password was wrong."""
        ...

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...


class NoneSecurity:
    type_id = SEC_NONE
    uses_password = False

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return reader, writer


class VncAuthSecurity:
    type_id = SEC_VNC_AUTH
    uses_password = True

    def __init__(self, password: PasswordSource) -> None:
        self.password = password

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        challenge = await reader.readexactly(16)
        writer.write(vnc_auth_response(await _required(self.password), challenge))
        await writer.drain()
        return reader, writer


async def _required(password: PasswordSource) -> str:
    value = await password()
    if value is None:
        raise AuthenticationError("The console needs a password.", needs_password=True)
    return value


# VeNCrypt sub-types: (name, TLS kind, inner authentication).
VENCRYPT_PLAIN, VENCRYPT_TLS_NONE, VENCRYPT_TLS_VNC, VENCRYPT_TLS_PLAIN = 256, 257, 258, 259
VENCRYPT_X509_NONE, VENCRYPT_X509_VNC, VENCRYPT_X509_PLAIN = 260, 261, 262
VENCRYPT_SUBTYPES = {
    VENCRYPT_X509_NONE: ("X509None", "x509", "none"),
    VENCRYPT_X509_VNC: ("X509Vnc", "x509", "vnc"),
    VENCRYPT_X509_PLAIN: ("X509Plain", "x509", "plain"),
    VENCRYPT_TLS_NONE: ("TLSNone", "anon", "none"),
    VENCRYPT_TLS_VNC: ("TLSVnc", "anon", "vnc"),
    VENCRYPT_TLS_PLAIN: ("TLSPlain", "anon", "plain"),
    VENCRYPT_PLAIN: ("Plain", None, "plain"),
}
# Dict order is our preference: verified TLS, then anonymous TLS, then the clear.
VENCRYPT_PREFERENCE = tuple(VENCRYPT_SUBTYPES)
_OTHER_SUBTYPE_NAMES = {0: "VeNCrypt's nothing", 1: "None", 2: "VncAuth",
                        263: "TLSSASL", 264: "X509SASL"}
MAX_SUBTYPES = 64


def subtype_name(number: int) -> str:
    if number in VENCRYPT_SUBTYPES:
        return VENCRYPT_SUBTYPES[number][0]
    return _OTHER_SUBTYPE_NAMES.get(number, str(number))


class VeNCryptSecurity:
    """VeNCrypt 0.2. ``where`` names the server in messages; ``server_name`` is the name
    its certificate must carry (None: the chain is checked but not the name)."""

    type_id = SEC_VENCRYPT

    def __init__(self, password: PasswordSource, tls_options: tls.TlsOptions | None = None,
                 server_name: str | None = None, where: str = "the VNC server",
                 username: str | None = None) -> None:
        self.password = password
        self.tls_options = tls_options or tls.TlsOptions()
        self.server_name = self.tls_options.server_name or server_name
        self.where = where
        self.username = username
        self.subtype: int | None = None

    @property
    def uses_password(self) -> bool:
        return self.subtype is not None and VENCRYPT_SUBTYPES[self.subtype][2] != "none"

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        major, minor = await reader.readexactly(2)
        if (major, minor) < (0, 2):
            raise AuthenticationError(f"{self.where} speaks VeNCrypt {major}.{minor}; "
                                      "HVConsole needs version 0.2.")
        writer.write(b"\x00\x02")
        await writer.drain()
        if (await reader.readexactly(1))[0] != 0:
            raise AuthenticationError(f"{self.where} refused VeNCrypt version 0.2.")
        count = (await reader.readexactly(1))[0]
        if count == 0 or count > MAX_SUBTYPES:
            raise ProtocolError(f"a VeNCrypt offer of {count} sub-types")
        offered = list(struct.unpack(f">{count}I", await reader.readexactly(4 * count)))
        self.subtype = choose_vencrypt_subtype(offered, self.where)
        writer.write(struct.pack(">I", self.subtype))
        await writer.drain()
        _name, tls_kind, inner = VENCRYPT_SUBTYPES[self.subtype]
        # The server acknowledges a TLS sub-type with one byte (1) before the handshake;
        # Plain has no such byte (TigerVNC and libvncclient agree).
        if tls_kind is not None and (await reader.readexactly(1))[0] != 1:
            raise AuthenticationError(f"{self.where} did not accept the VeNCrypt sub-type "
                                      f"{subtype_name(self.subtype)} it offered.")
        if tls_kind == "x509":
            context, trust = tls.verified_context(self.tls_options, self.server_name)
            reader, writer = await tls.upgrade(reader, writer, context, self.server_name,
                                               self.where, trust)
        elif tls_kind == "anon":
            reader, writer = await tls.upgrade(reader, writer, tls.anonymous_context(),
                                               None, self.where)
        if inner == "vnc":
            reader, writer = await VncAuthSecurity(self.password).run(reader, writer)
        elif inner == "plain":
            await self._send_plain(writer)
        return reader, writer

    async def _send_plain(self, writer: asyncio.StreamWriter) -> None:
        password = (await _required(self.password)).encode("utf-8")
        user = (self.username or getpass.getuser()).encode("utf-8")
        writer.write(struct.pack(">II", len(user), len(password)) + user + password)
        await writer.drain()


def choose_vencrypt_subtype(offered: list[int], where: str = "the VNC server") -> int:
    for subtype in VENCRYPT_PREFERENCE:
        if subtype in offered:
            return subtype
    names = ", ".join(subtype_name(t) for t in offered)
    raise AuthenticationError(f"{where} offers only VeNCrypt sub-types HVConsole does not "
                              f"support ({names}); it supports "
                              f"{', '.join(v[0] for v in VENCRYPT_SUBTYPES.values())}.")


def choose_security(offered: list[int], password: PasswordSource,
                    tls_options: tls.TlsOptions | None = None, server_name: str | None = None,
                    where: str = "the VNC server", username: str | None = None
                    ) -> SecurityHandler:
    """The first of our types the server offers: None (no password to ask for), then
    VeNCrypt (encrypted), then VNC authentication."""
    if SEC_NONE in offered:
        return NoneSecurity()
    if SEC_VENCRYPT in offered:
        return VeNCryptSecurity(password, tls_options, server_name, where, username)
    if SEC_VNC_AUTH in offered:
        return VncAuthSecurity(password)
    names = ", ".join(str(t) for t in offered) or "none"
    raise AuthenticationError(f"The VNC server asks for a security type HVConsole does "
                              f"not support yet (offered: {names}).")


def security_name(handler: SecurityHandler) -> str:
    """How the connection is protected, in a word or two (for the status line)."""
    if isinstance(handler, VeNCryptSecurity) and handler.subtype is not None:
        return f"VeNCrypt {subtype_name(handler.subtype)}"
    return {SEC_NONE: "None", SEC_VNC_AUTH: "VNC authentication"}.get(handler.type_id,
                                                                     str(handler.type_id))
