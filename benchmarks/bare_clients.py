"""The floor of key-to-echo: the least a VNC or SPICE client can do to see a typed key's
echo arrive. Each client here sends one key press and release and then only reads the
server's messages until one of them changes a piece of screen at least ECHO_ROWS rows
tall (a blinking text cursor changes two rows; a glyph more). Nothing is decoded, drawn
or painted: the time measured is the guest's echo, QEMU's display refresh and the wire.

The console benchmark (benchmarks/console_latency.py) runs these beside HVConsole's own
clients on the same guest, so that its key-to-echo figure is a ratio to this floor.
Only the link stage of SPICE (the RSA ticket) comes from HVConsole's wire module; the
message loops are written out here, apart from HVConsole's channel and display code.
"""
from __future__ import annotations

import asyncio
import struct
import time
from typing import Callable

from connectors.console.spice import wire

ECHO_ROWS = 4           # a change at least this tall is the echo, not the text cursor

# ---- RFB ----

RFB_RAW, RFB_EXT_KEY, RFB_DESKTOP_SIZE = 0, -258, -223
RECT = struct.Struct(">HHHHi")


class BareRfb:
    """RFB 3.8 without security (libvirt's socket with SKIPAUTH), 32-bit pixels, Raw."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.width = self.height = 0

    async def handshake(self) -> None:
        r, w = self.reader, self.writer
        await r.readexactly(12)
        w.write(b"RFB 003.008\n")
        types = await r.readexactly((await r.readexactly(1))[0])
        if 1 not in types:
            raise RuntimeError(f"the server wants security types {list(types)}")
        w.write(b"\x01")
        if await r.readexactly(4) != b"\0\0\0\0":
            raise RuntimeError("security refused")
        w.write(b"\x01")                                   # shared
        self.width, self.height = struct.unpack(">HH", await r.readexactly(4))
        await r.readexactly(16)
        await r.readexactly(struct.unpack(">I", await r.readexactly(4))[0])
        # B, G, R, X little-endian words, as HVConsole asks; Raw and QEMU's key events.
        w.write(struct.pack(">B3xBBBBHHHBBB3x", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        w.write(struct.pack(">BxHiii", 2, 3, RFB_RAW, RFB_EXT_KEY, RFB_DESKTOP_SIZE))
        self._request(False)
        await self._update(lambda _h: None)

    def _request(self, incremental: bool) -> None:
        self.writer.write(struct.pack(">BBHHHH", 3, incremental, 0, 0, self.width,
                                      self.height))

    async def _update(self, seen: Callable[[int], None]) -> None:
        """Read one server message; ``seen(height)`` for each rectangle of an update."""
        r = self.reader
        kind = (await r.readexactly(1))[0]
        if kind == 0:
            count = struct.unpack(">xH", await r.readexactly(3))[0]
            for _ in range(count):
                _x, _y, w, h, encoding = RECT.unpack(await r.readexactly(RECT.size))
                if encoding == RFB_RAW:
                    await r.readexactly(w * h * 4)
                    seen(h)
                elif encoding == RFB_DESKTOP_SIZE:
                    self.width, self.height = w, h
            self._request(True)
        elif kind == 2:                                     # bell
            pass
        elif kind == 3:                                     # server cut text
            await r.readexactly(3)
            await r.readexactly(struct.unpack(">I", await r.readexactly(4))[0])
        else:
            raise RuntimeError(f"server message {kind} not expected")

    async def watch(self, echoes: list[float], seen: asyncio.Event) -> None:
        """Read updates for ever, noting when each tall enough change arrives: the floor
        for keys another client sends."""
        def note(height: int) -> None:
            if height >= ECHO_ROWS:
                echoes.append(time.perf_counter())
                seen.set()
        while True:
            await self._update(note)

    async def key_to_echo(self, scancode: int, keysym: int) -> float:
        """Seconds from sending the key to the first update holding its echo."""
        t0 = time.perf_counter()
        for down in (1, 0):
            self.writer.write(struct.pack(">BBHII", 255, 0, down, keysym, scancode))
        tall: list[int] = []
        while not tall:
            await self._update(lambda h: tall.append(h) if h >= ECHO_ROWS else None)
        return time.perf_counter() - t0


# ---- SPICE ----

MINI = struct.Struct("<HI")
DISPLAY_CAPS = (0, 5, 6, 8, 9)   # sized streams, LZ4, preferred compression, MJPEG: as HVConsole
DRAW_FIRST, DRAW_LAST = 302, 318
BOX = struct.Struct("<Iiiii")     # surface, top, left, bottom, right


class BareSpiceChannel:
    """One linked SPICE channel with mini headers: answers SET_ACK, acks and pings."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.window = self.left = 0

    @classmethod
    async def link(cls, host: str, port: int, kind: int, connection_id: int,
                   channel_caps: list[int]) -> BareSpiceChannel:
        reader, writer = await asyncio.open_connection(host, port)
        common = wire.caps_words(wire.CAP_PROTOCOL_AUTH_SELECTION, wire.CAP_AUTH_SPICE,
                                 wire.CAP_MINI_HEADER)
        writer.write(wire.link_message(connection_id, kind, 0, common, channel_caps))
        size = wire.parse_link_header(await reader.readexactly(wire.LINK_HEADER.size))
        reply = wire.parse_link_reply(await reader.readexactly(size))
        if not wire.has_cap(reply.common_caps, wire.CAP_MINI_HEADER):
            raise RuntimeError("the SPICE server does not offer mini headers")
        writer.write(struct.pack("<I", wire.CAP_AUTH_SPICE))
        writer.write(wire.encrypt_ticket(reply.public_key, ""))
        if await reader.readexactly(4) != b"\0\0\0\0":
            raise RuntimeError("SPICE link refused")
        return cls(reader, writer)

    def send(self, kind: int, payload: bytes = b"") -> None:
        self.writer.write(MINI.pack(kind, len(payload)) + payload)

    async def message(self, quiet_s: float | None = None) -> tuple[int, bytes] | None:
        """The next message of the channel's own kind (common ones are answered here);
        None when nothing began to arrive for ``quiet_s``."""
        while True:
            try:
                head = await asyncio.wait_for(self.reader.readexactly(MINI.size), quiet_s)
            except asyncio.TimeoutError:
                return None     # readexactly takes nothing until it has all it asked
            kind, size = MINI.unpack(head)
            body = await self.reader.readexactly(size)
            if self.left:
                self.left -= 1
                if not self.left:
                    self.send(wire.MSGC_ACK)
                    self.left = self.window
            if kind == wire.MSG_SET_ACK:
                generation, self.window = struct.unpack_from("<II", body)
                self.left = self.window
                self.send(wire.MSGC_ACK_SYNC, struct.pack("<I", generation))
            elif kind == wire.MSG_PING:
                self.send(wire.MSGC_PONG, body[:12])
            elif kind >= wire.FIRST_CHANNEL_MESSAGE:
                return kind, body

    def close(self) -> None:
        self.writer.close()


class BareSpice:
    """Main, display and inputs channels; the display channel is read only for the boxes
    of its drawing commands."""

    def __init__(self) -> None:
        self.main: BareSpiceChannel | None = None
        self.display: BareSpiceChannel | None = None
        self.inputs: BareSpiceChannel | None = None
        self._drain: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int) -> None:
        self.main = await BareSpiceChannel.link(host, port, wire.CHANNEL_MAIN, 0, [])
        kind, body = await self.main.message() or (0, b"")
        if kind != 103:                                          # MAIN_INIT
            raise RuntimeError(f"main channel began with message {kind}")
        session = struct.unpack_from("<I", body)[0]
        self.main.send(104)                                      # ATTACH_CHANNELS
        self.display = await BareSpiceChannel.link(host, port, wire.CHANNEL_DISPLAY, session,
                                                   wire.caps_words(*DISPLAY_CAPS))
        self.display.send(101, struct.pack("<BqBi", 1, 8 << 20, 1, 0))   # DISPLAY_INIT
        self.display.send(103, bytes([7]))                      # preferred compression: LZ4
        self.inputs = await BareSpiceChannel.link(host, port, wire.CHANNEL_INPUTS, session, [])
        self._drain = asyncio.ensure_future(self._drain_others())

    async def _drain_others(self) -> None:
        async def drain(channel: BareSpiceChannel) -> None:
            while True:
                await channel.message()
        assert self.main and self.inputs
        await asyncio.gather(drain(self.main), drain(self.inputs))

    async def settle(self, seconds: float) -> None:
        """Read the display for ``seconds`` (its first screen, the cursor blinking)."""
        assert self.display
        end = time.perf_counter() + seconds
        while (left := end - time.perf_counter()) > 0:
            await self.display.message(left)

    async def key_to_echo(self, scancode: int, _keysym: int = 0) -> float:
        """Seconds from sending the key to the first drawing tall enough to be its echo."""
        assert self.display and self.inputs
        t0 = time.perf_counter()
        self.inputs.send(101, struct.pack("<I", scancode))                 # KEY_DOWN
        self.inputs.send(102, struct.pack("<I", scancode | 0x80))          # KEY_UP
        while True:
            kind, body = await self.display.message() or (0, b"")
            if DRAW_FIRST <= kind <= DRAW_LAST and len(body) >= BOX.size:
                _surface, top, _left, bottom, _right = BOX.unpack_from(body)
                if bottom - top >= ECHO_ROWS:
                    return time.perf_counter() - t0

    def close(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
        for channel in (self.inputs, self.display, self.main):
            if channel is not None:
                channel.close()
