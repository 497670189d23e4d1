"""Helpers for the RFB tests: a client whose server is a real socket we write bytes
into, and byte builders that follow the RFB document (not our decoders)."""
from __future__ import annotations

import asyncio
import socket
import struct

from connectors.console.rfb.client import RfbClient
from connectors.console.transport import Channel


class ScriptedServer:
    """The far end of a socketpair: whatever bytes the test sends, then end of stream."""

    def __init__(self, data: bytes, eof: bool = True) -> None:
        self.data, self.eof = data, eof
        self.ours: socket.socket | None = None
        self.description = "scripted server"

    async def open(self) -> Channel:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        self.ours = ours
        ours.sendall(self.data)
        if self.eof:
            ours.shutdown(socket.SHUT_WR)
        reader, writer = await asyncio.open_connection(sock=theirs)
        return Channel(reader, writer, self.description, [ours.close])

    def received(self) -> bytes:
        """What the client sent so far."""
        out = b""
        try:
            while chunk := self.ours.recv(65536):
                out += chunk
        except BlockingIOError:
            pass
        return out


def server_init(width: int, height: int, name: bytes = b"test") -> bytes:
    pixel_format = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
    return struct.pack(">HH", width, height) + pixel_format + struct.pack(">I", len(name)) + name


def handshake_38(width: int = 64, height: int = 48) -> bytes:
    """RFB 3.8, security None, result OK, ServerInit."""
    return (b"RFB 003.008\n" + bytes([1, 1]) + struct.pack(">I", 0)
            + server_init(width, height))


def update(*rects: bytes) -> bytes:
    return struct.pack(">BxH", 0, len(rects)) + b"".join(rects)


def rect(x: int, y: int, w: int, h: int, encoding: int, body: bytes = b"") -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding) + body


def bgrx(r: int, g: int, b: int) -> bytes:
    """One pixel in the client's format (32-bit little-endian, red at bit 16)."""
    return bytes([b, g, r, 0])


def compact(n: int) -> bytes:
    """Tight's compact length: 7 bits per byte, least significant first, the high bit
    saying another byte follows; the third byte carries 8 bits."""
    out = bytes([n & 0x7F | (0x80 if n > 0x7F else 0)])
    if n > 0x7F:
        out += bytes([(n >> 7) & 0x7F | (0x80 if n > 0x3FFF else 0)])
        if n > 0x3FFF:
            out += bytes([n >> 14])
    return out


async def run_client(data: bytes, timeout: float = 10.0, **kwargs) -> RfbClient:
    """Connect a client to a server that sends ``data`` and closes; run it to the end.
    Returns the client; errors other than the end of the stream propagate."""
    client = RfbClient(ScriptedServer(data), **kwargs)
    await asyncio.wait_for(client.connect(), timeout)
    try:
        await asyncio.wait_for(client.run(), timeout)
    except Exception as err:  # noqa: BLE001 - the caller decides what it expected
        if "closed the connection" not in str(err):
            raise
    return client


def memory_reader(data: bytes):
    """An awaitable readexactly(n) over bytes already received: what a decoder is given,
    without a socket."""
    pos = 0

    async def read(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise asyncio.IncompleteReadError(data[pos:], n)
        pos += n
        return data[pos - n:pos]
    return read
