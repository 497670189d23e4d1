"""An asyncio RFB client: the handshake (3.3, 3.7, 3.8), the security step, then a loop
that applies the server's messages to the framebuffer and keeps one update request
outstanding.

Every length a server sends is checked against a bound before anything is read or
allocated; a message that has begun must end within BODY_TIMEOUT_S, so a server that
stalls mid-message ends the connection instead of hanging it.
"""
from __future__ import annotations

import asyncio
import logging
import struct
from typing import Awaitable, Callable

import numpy as np

from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import CursorImage, FramebufferError, check_size
from connectors.console.rfb import messages as m
from connectors.console.rfb.auth import PasswordSource, choose_security, security_name
from connectors.console.rfb.decoders import Read, decode_copyrect, decode_hextile, decode_raw
from connectors.console.rfb.tight import TightDecoder
from connectors.console.rfb.zrle import ZrleDecoder
from connectors.console.state import AuthenticationError, ConsoleError, ProtocolError
from connectors.console.tls import TlsOptions
from connectors.console.transport import Channel, Transport

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 15.0
BODY_TIMEOUT_S = 30.0
MAX_TEXT = 1 << 20          # reason strings, desktop name, clipboard
MAX_CURSOR = 512
# Preferred order, by benchmarks/console_decode.py (1920x1080 desktop, CPU per frame):
# Raw ~2.5 ms but 8 MB a frame; lossless Tight ~12 ms at ~0.21 MB (Tight JPEG ~8 ms);
# ZRLE ~5 ms at ~0.17 MB with its C decoder (~47 ms where it was not built); Hextile
# ~30 ms at 5 MB. Over a network Tight comes first (it alone can go lossy with a JPEG
# quality); on the local machine (libvirt's socket) Raw costs both sides least.
DEFAULT_ENCODINGS = ("tight", "zrle", "hextile", "raw")
LOCAL_ENCODINGS = ("raw", "tight", "zrle", "hextile")


async def _no_password() -> str | None:
    return None


class RfbClient(ConsoleClient):
    def __init__(self, transport: Transport, *, password: PasswordSource = _no_password,
                 encodings: tuple[str, ...] = DEFAULT_ENCODINGS, jpeg_quality: int | None = None,
                 shared: bool = True, tls: TlsOptions | None = None,
                 username: str | None = None) -> None:
        """``tls``: where VeNCrypt finds its certificates (None: the default directories);
        ``username``: for VeNCrypt's Plain sub-types (None: the local user's name)."""
        super().__init__()
        unknown = [e for e in encodings if e not in m.ENCODING_NAMES]
        if unknown:
            raise ValueError(f"unknown encodings: {', '.join(unknown)}")
        self.transport = transport
        self.password = password
        self.encodings = tuple(encodings)
        self.jpeg_quality = jpeg_quality
        self.shared = shared
        self.tls = tls
        self.username = username
        self.security = ""          # the security type in use, e.g. "VeNCrypt X509Vnc"
        self.version = (0, 0)
        self.channel: Channel | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._zrle = ZrleDecoder()
        self._tight = TightDecoder(png_allowed="tightpng" in encodings)
        self._closed = False

    # ---- handshake ----

    async def connect(self) -> None:
        self.channel = await self.transport.open()
        try:
            await asyncio.wait_for(self._handshake(self.channel.reader, self.channel.writer),
                                   HANDSHAKE_TIMEOUT_S)
        except asyncio.TimeoutError:
            self.close()
            raise ConsoleError(f"The VNC server at {self.transport.description} did not "
                               f"finish the handshake within {HANDSHAKE_TIMEOUT_S:g} s.") from None
        except asyncio.IncompleteReadError:
            self.close()
            hint = (" It may want a client certificate: client-cert.pem and client-key.pem "
                    "beside the CA certificate." if self.security.startswith("VeNCrypt X509")
                    else "")
            raise ConsoleError(f"The VNC server at {self.transport.description} closed the "
                               f"connection during the handshake.{hint}") from None
        except BaseException:
            self.close()
            raise

    async def _handshake(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        banner = await reader.readexactly(12)
        if not (banner.startswith(b"RFB ") and banner[7:8] == b"." and banner.endswith(b"\n")):
            raise ProtocolError(f"not a VNC server (it said {banner!r})")
        try:
            major, minor = int(banner[4:7]), int(banner[8:11])
        except ValueError:
            raise ProtocolError(f"not a VNC server (it said {banner!r})") from None
        if major != 3 or minor < 3:
            raise ProtocolError(f"RFB version {major}.{minor} is not supported")
        # 3.4 and 3.6 are Apple/UltraVNC 3.3s; anything newer than 3.8 speaks 3.8.
        self.version = (3, 8 if minor >= 8 else 7 if minor == 7 else 3)
        writer.write(b"RFB 003.%03d\n" % self.version[1])
        if self.version[1] == 3:
            (sec_type,) = struct.unpack(">I", await reader.readexactly(4))
            offered = [] if sec_type == m.SEC_INVALID else [sec_type]
        else:
            count = (await reader.readexactly(1))[0]
            offered = list(await reader.readexactly(count)) if count else []
        if not offered:
            raise ConsoleError(f"The VNC server refused the connection: "
                               f"{await self._reason(reader)}")
        handler = choose_security(offered, self.password, self.tls,
                                  getattr(self.transport, "host", None),
                                  f"the VNC server at {self.transport.description}",
                                  self.username)
        if self.version[1] >= 7:
            writer.write(bytes([handler.type_id]))
        await writer.drain()
        reader, writer = await handler.run(reader, writer)
        self.security = security_name(handler)
        if handler.type_id != m.SEC_NONE or self.version[1] >= 8:
            (result,) = struct.unpack(">I", await reader.readexactly(4))
            if result != 0:
                why = await self._reason(reader) if self.version[1] >= 8 else ""
                raise AuthenticationError(
                    "The VNC server refused the password" + (f": {why}" if why else "."),
                    needs_password=handler.uses_password)
        writer.write(bytes([int(self.shared)]))
        width, height = struct.unpack(">HH", await reader.readexactly(4))
        await reader.readexactly(16)  # the server's pixel format: we set our own below
        (name_len,) = struct.unpack(">I", await reader.readexactly(4))
        if name_len > MAX_TEXT:
            raise ProtocolError(f"a desktop name of {name_len} bytes")
        self.name = (await reader.readexactly(name_len)).decode("utf-8", "replace")
        try:
            self.framebuffer.resize(width, height)
        except FramebufferError as err:
            raise ProtocolError(str(err)) from None
        self._reader, self._writer = reader, writer
        writer.write(m.set_pixel_format())
        writer.write(m.set_encodings(self._encoding_list()))
        writer.write(m.update_request(False, 0, 0, width, height))
        await writer.drain()

    def _encoding_list(self) -> list[int]:
        wanted = [m.ENCODING_NAMES[e] for e in self.encodings]
        if m.ENC_COPYRECT not in wanted:
            wanted.insert(0, m.ENC_COPYRECT)
        if m.ENC_TIGHT_PNG in wanted and m.ENC_TIGHT not in wanted:
            wanted.append(m.ENC_TIGHT)
        pseudo = list(m.PSEUDO_ENCODINGS)
        if self.jpeg_quality is not None:
            pseudo.append(m.ENC_JPEG_QUALITY_0 + max(0, min(9, self.jpeg_quality)))
        return wanted + pseudo

    @staticmethod
    async def _reason(reader: asyncio.StreamReader) -> str:
        (length,) = struct.unpack(">I", await reader.readexactly(4))
        if length > MAX_TEXT:
            raise ProtocolError(f"a reason string of {length} bytes")
        return (await reader.readexactly(length)).decode("utf-8", "replace") or "no reason given"

    # ---- the message loop ----

    async def run(self) -> None:
        """Apply server messages until the connection ends. Raises ConsoleError (or its
        ProtocolError) with the reason; returns only after close()."""
        if self._reader is None:
            raise ConsoleError("not connected")
        reader = self._reader
        try:
            while not self._closed:
                kind = (await reader.readexactly(1))[0]
                await asyncio.wait_for(self._message(kind, reader.readexactly),
                                       BODY_TIMEOUT_S)
        except asyncio.IncompleteReadError:
            if not self._closed:
                raise ConsoleError("The VNC server closed the connection.") from None
        except asyncio.TimeoutError:
            raise ProtocolError(f"the server stopped in the middle of a message for "
                                f"{BODY_TIMEOUT_S:g} s") from None
        except (ConnectionError, OSError) as err:
            if not self._closed:
                raise ConsoleError(f"The console connection broke: "
                                   f"{getattr(err, 'strerror', None) or err}.") from None
        except FramebufferError as err:
            raise ProtocolError(str(err)) from None
        finally:
            self.close()

    async def _message(self, kind: int, read: Callable[[int], Awaitable[bytes]]) -> None:
        if kind == m.MSG_FRAMEBUFFER_UPDATE:
            await self._framebuffer_update(read)
        elif kind == m.MSG_SET_COLOUR_MAP:
            _first, count = struct.unpack(">xHH", await read(5))
            await read(count * 6)  # we asked for true colour: nothing to apply
        elif kind == m.MSG_BELL:
            self.on_bell()
        elif kind == m.MSG_SERVER_CUT_TEXT:
            (length,) = struct.unpack(">3xI", await read(7))
            if length > MAX_TEXT:
                raise ProtocolError(f"a clipboard text of {length} bytes")
            self.on_clipboard((await read(length)).decode("latin-1"))
        else:
            raise ProtocolError(f"unknown server message type {kind}")

    async def _framebuffer_update(self, read: Read) -> None:
        (count,) = struct.unpack(">xH", await read(3))
        for _ in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", await read(12))
            if encoding == m.ENC_LAST_RECT:
                break
            await self._rect(read, x, y, w, h, encoding)
        self.frames += 1
        if self._writer is not None and not self._closed:
            fb = self.framebuffer
            self._writer.write(m.update_request(True, 0, 0, fb.width, fb.height))
        self.on_update()

    async def _rect(self, read: Read, x: int, y: int, w: int, h: int,
                    encoding: int) -> None:
        fb = self.framebuffer
        if encoding == m.ENC_DESKTOP_SIZE:
            self._resize(w, h)
        elif encoding == m.ENC_EXTENDED_DESKTOP_SIZE:
            screens = (await read(4))[0]
            await read(16 * screens)
            if y == 0:  # status 0: a size change, not an answer to a request of ours
                self._resize(w, h)
        elif encoding == m.ENC_CURSOR:
            await self._cursor(read, x, y, w, h)
        elif encoding == m.ENC_QEMU_EXTENDED_KEY_EVENT:
            self.has_scancodes = True
            self.on_capabilities()
        elif encoding == m.ENC_QEMU_POINTER_MOTION_CHANGE:
            self.absolute_pointer = x != 0
            self.on_capabilities()
        elif encoding == m.ENC_QEMU_LED_STATE:
            self.leds = (await read(1))[0]
            self.on_capabilities()
        elif w == 0 or h == 0:
            if encoding in (m.ENC_ZRLE, m.ENC_TIGHT, m.ENC_TIGHT_PNG):
                fb.check_rect(x, y, w, h)  # an empty rect still carries its header bytes
            if encoding == m.ENC_COPYRECT:
                await read(4)
            elif encoding == m.ENC_ZRLE:
                await self._zrle.decode(read, fb, x, y, w, h)
        else:
            fb.check_rect(x, y, w, h)
            if encoding == m.ENC_RAW:
                await decode_raw(read, fb, x, y, w, h)
            elif encoding == m.ENC_COPYRECT:
                await decode_copyrect(read, fb, x, y, w, h)
            elif encoding == m.ENC_HEXTILE:
                await decode_hextile(read, fb, x, y, w, h)
            elif encoding == m.ENC_ZRLE:
                await self._zrle.decode(read, fb, x, y, w, h)
            elif encoding in (m.ENC_TIGHT, m.ENC_TIGHT_PNG):
                await self._tight.decode(read, fb, x, y, w, h)
            else:
                raise ProtocolError(f"the server used encoding {encoding}, which was "
                                    "not asked for")

    def _resize(self, w: int, h: int) -> None:
        try:
            check_size(w, h)
        except FramebufferError as err:
            raise ProtocolError(str(err)) from None
        self.framebuffer.resize(w, h)
        self.on_resize(w, h)

    async def _cursor(self, read: Read, hot_x: int, hot_y: int, w: int, h: int) -> None:
        if w > MAX_CURSOR or h > MAX_CURSOR:
            raise ProtocolError(f"a {w}x{h} cursor is larger than any pointer")
        if w == 0 or h == 0:
            self.on_cursor(None)  # the guest hides its pointer
            return
        pixels = np.frombuffer(await read(w * h * 4), np.uint8).reshape(h, w, 4).copy()
        row_bytes = (w + 7) // 8
        mask = np.frombuffer(await read(row_bytes * h), np.uint8).reshape(h, row_bytes)
        pixels[:, :, 3] = np.unpackbits(mask, axis=1)[:, :w] * 255
        self.on_cursor(CursorImage(pixels, min(hot_x, w - 1), min(hot_y, h - 1)))

    # ---- input ----

    def _send(self, data: bytes) -> None:
        if self._writer is not None and not self._closed:
            self._writer.write(data)

    def send_key(self, down: bool, keysym: int, scancode: int | None = None) -> None:
        if self.has_scancodes and scancode is not None:
            self._send(m.qemu_extended_key_event(down, keysym, scancode))
        else:
            self._send(m.key_event(down, keysym))

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        self._send(m.pointer_event(buttons, x, y))

    def send_clipboard(self, text: str) -> None:
        self._send(m.client_cut_text(text))

    def request_full_update(self) -> None:
        fb = self.framebuffer
        self._send(m.update_request(False, 0, 0, fb.width, fb.height))

    def close(self) -> None:
        self._closed = True
        if self.channel is not None:
            self.channel.close()
