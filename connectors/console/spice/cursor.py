"""The cursor channel: the guest's pointer shape (ALPHA and MONO cursors), where it is,
and when it is hidden. Shapes the server marks "cache me" are kept (bounded) so a later
"from cache" message only names them.
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import CursorImage
from connectors.console.spice.channel import Outgoing
from connectors.console.spice.wire import CHANNEL_CURSOR, Payload
from connectors.console.state import ProtocolError

log = logging.getLogger(__name__)

MSG_INIT, MSG_RESET, MSG_SET, MSG_MOVE, MSG_HIDE = 101, 102, 103, 104, 105
MSG_TRAIL, MSG_INVAL_ONE, MSG_INVAL_ALL = 106, 107, 108

FLAG_NONE, FLAG_CACHE_ME, FLAG_FROM_CACHE = 1, 2, 4
TYPE_ALPHA, TYPE_MONO = 0, 1
TYPE_NAMES = {0: "alpha", 1: "mono", 2: "4-bit colour", 3: "8-bit colour",
              4: "16-bit colour", 5: "24-bit colour", 6: "32-bit colour"}
MAX_SIDE = 512
MAX_CACHED = 256


def alpha_cursor(data: memoryview, width: int, height: int) -> np.ndarray:
    """ARGB32 words, little-endian: already B, G, R, A bytes."""
    need = width * height * 4
    if len(data) < need:
        raise ProtocolError(f"an alpha cursor of {width}x{height} with {len(data)} bytes")
    return np.frombuffer(data[:need], np.uint8).reshape(height, width, 4).copy()


def mono_cursor(data: memoryview, width: int, height: int) -> np.ndarray:
    """An AND mask then an XOR mask, 1 bit a pixel, rows padded to bytes. AND set and XOR
    clear is transparent; AND clear gives black or white; both set (invert the screen)
    is drawn black, which shows on the light backgrounds where inverting matters."""
    stride = (width + 7) // 8
    plane = stride * height
    if len(data) < 2 * plane:
        raise ProtocolError(f"a mono cursor of {width}x{height} with {len(data)} bytes")
    raw = np.frombuffer(data[:2 * plane], np.uint8).reshape(2, height, stride)
    bits = np.unpackbits(raw, axis=2)[:, :, :width].astype(bool)
    and_mask, xor_mask = bits[0], bits[1]
    pixels = np.zeros((height, width, 4), np.uint8)
    white = ~and_mask & xor_mask
    pixels[white, :3] = 0xFF
    pixels[:, :, 3] = np.where(and_mask & ~xor_mask, 0, 0xFF)
    return pixels


class CursorChannel:
    """The cursor channel's handler: calls ``client.on_cursor`` with a CursorImage, or
    None when the guest hides its pointer."""

    channel_type = CHANNEL_CURSOR

    def __init__(self, client: ConsoleClient) -> None:
        self.client = client
        self.position = (0, 0)
        self.visible = True
        self.cursor: CursorImage | None = None
        self._cache: OrderedDict[int, CursorImage] = OrderedDict()
        self._unsupported_told: set[int] = set()

    def capabilities(self) -> tuple[list[int], list[int]]:
        return [], []

    def initial_messages(self) -> list[Outgoing]:
        return []

    def handle(self, msg_type: int, payload: memoryview) -> list[Outgoing]:
        p = Payload(payload, f"cursor channel message {msg_type}")
        if msg_type == MSG_INIT:
            x, y, _trail_length, _trail_frequency, visible = p.unpack("hhHHB")
            self._cache.clear()
            self._shape(p, (x, y), bool(visible))
        elif msg_type == MSG_SET:
            x, y, visible = p.unpack("hhB")
            self._shape(p, (x, y), bool(visible))
        elif msg_type == MSG_MOVE:
            self.position = p.unpack("hh")
        elif msg_type == MSG_HIDE:
            self._show(None, False)
        elif msg_type == MSG_RESET:
            self._cache.clear()
            self.visible = True
        elif msg_type == MSG_INVAL_ONE:
            self._cache.pop(p.u64(), None)
        elif msg_type == MSG_INVAL_ALL:
            self._cache.clear()
        return []

    def _shape(self, p: Payload, position: tuple[int, int], visible: bool) -> None:
        self.position = position
        flags = p.u16()
        if flags & FLAG_NONE:
            if not visible:
                self._show(None, False)
            return   # no shape: the local pointer stays as it is
        unique, kind, width, height, hot_x, hot_y = p.unpack("QBHHHH")
        if flags & FLAG_FROM_CACHE:
            image = self._cache.get(unique)
            if image is None:
                log.debug("cursor %d is not in the cache", unique)
                return
        else:
            image = self._decode(kind, width, height, hot_x, hot_y, p.rest())
            if image is None:
                return
            if flags & FLAG_CACHE_ME:
                self._cache[unique] = image
                self._cache.move_to_end(unique)
                while len(self._cache) > MAX_CACHED:
                    self._cache.popitem(last=False)
        self._show(image if visible else None, visible)

    def _decode(self, kind: int, width: int, height: int, hot_x: int, hot_y: int,
                data: memoryview) -> CursorImage | None:
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise ProtocolError(f"a {width}x{height} cursor is larger than any pointer")
        if kind == TYPE_ALPHA:
            pixels = alpha_cursor(data, width, height)
        elif kind == TYPE_MONO:
            pixels = mono_cursor(data, width, height)
        else:
            if kind not in self._unsupported_told:
                self._unsupported_told.add(kind)
                log.info("SPICE %s cursors are not drawn; the local pointer stays",
                         TYPE_NAMES.get(kind, f"type {kind}"))
            return None
        return CursorImage(pixels, min(hot_x, width - 1), min(hot_y, height - 1))

    def _show(self, image: CursorImage | None, visible: bool) -> None:
        self.visible = visible
        self.cursor = image
        self.client.on_cursor(image)
