"""The security step: pick a type the server offers and run it.

Each security type is a handler that may wrap the stream it is given (VeNCrypt will
return a TLS stream here); the client only sees (reader, writer) come back.
"""
from __future__ import annotations

import asyncio
import warnings
from typing import Awaitable, Callable, Protocol

from connectors.console.rfb.messages import SEC_NONE, SEC_VNC_AUTH
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

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...


class NoneSecurity:
    type_id = SEC_NONE

    async def run(self, reader, writer):
        return reader, writer


class VncAuthSecurity:
    type_id = SEC_VNC_AUTH

    def __init__(self, password: PasswordSource) -> None:
        self.password = password

    async def run(self, reader, writer):
        challenge = await reader.readexactly(16)
        password = await self.password()
        if password is None:
            raise AuthenticationError("The console needs a password.", needs_password=True)
        writer.write(vnc_auth_response(password, challenge))
        await writer.drain()
        return reader, writer


def choose_security(offered: list[int], password: PasswordSource) -> SecurityHandler:
    """The first of our types (None preferred: no password to ask for) the server offers."""
    if SEC_NONE in offered:
        return NoneSecurity()
    if SEC_VNC_AUTH in offered:
        return VncAuthSecurity(password)
    names = ", ".join(str(t) for t in offered) or "none"
    raise AuthenticationError(f"The VNC server asks for a security type HVConsole does "
                              f"not support yet (offered: {names}).")
