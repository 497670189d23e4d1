"""Tight (and TightPNG): per rectangle a control byte picks fill, JPEG, PNG or "basic"
(zlib on one of four streams, with a copy, palette or gradient filter). Pixels are
TPIXELs: with a 24-bit true-colour format, three bytes R, G, B. JPEG and PNG are decoded
in C (connectors/console/imagecodec.py), never in Python."""
from __future__ import annotations

from types import ModuleType

import numpy as np

from connectors.console.framebuffer import ALPHA, Framebuffer
from connectors.console.imagecodec import SIMPLEJPEG, decode_into
from connectors.console.rfb.decoders import Read
from connectors.console.rfb.zlibstream import ZlibStream
from connectors.console.state import ProtocolError

FILL, JPEG, PNG = 8, 9, 10
FILTER_COPY, FILTER_PALETTE, FILTER_GRADIENT = 0, 1, 2
TPIXEL = 3
MIN_TO_COMPRESS = 12  # smaller payloads are sent without zlib


async def read_compact_length(read: Read) -> int:
    """1 to 3 bytes, 7 bits each, least significant first; the third carries 8 bits."""
    length = 0
    for shift in (0, 7, 14):
        b = (await read(1))[0]
        if shift == 14:
            return length | (b << 14)
        length |= (b & 0x7F) << shift
        if not b & 0x80:
            return length
    return length


def _rgb_words(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) R, G, B bytes as n opaque words: the bytes laid out as the framebuffer's
    B, G, R, 0xFF and read as words (two numpy calls, not seven: palettes are small and
    come with every rectangle)."""
    out = np.full((rgb.shape[0], 4), 0xFF, np.uint8)
    out[:, :3] = rgb[:, ::-1]
    return out.view(np.uint32).ravel()


class TightDecoder:
    def __init__(self, png_allowed: bool = False,
                 jpeg: ModuleType | None | bool = True) -> None:
        """``jpeg``: True for simplejpeg when installed, False for Pillow alone."""
        self.streams = [ZlibStream() for _ in range(4)]
        self.png_allowed = png_allowed
        self.jpeg = SIMPLEJPEG if jpeg is True else jpeg or None

    async def decode(self, read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int) -> None:
        fb.check_rect(x, y, w, h)
        control = (await read(1))[0]
        for i in range(4):
            if control & (1 << i):
                self.streams[i].reset()
        kind = control >> 4
        if kind == FILL:
            r, g, b = await read(TPIXEL)
            fb.fill(x, y, w, h, (r << 16) | (g << 8) | b)
        elif kind == JPEG:
            await self._image(read, fb, x, y, w, h, "JPEG")
        elif kind == PNG:
            if not self.png_allowed:
                raise ProtocolError("the server sent a PNG rectangle without TightPNG")
            await self._image(read, fb, x, y, w, h, "PNG")
        elif kind & 0x8:
            raise ProtocolError(f"Tight compression type {kind} does not exist")
        else:
            await self._basic(read, fb, x, y, w, h, stream=kind & 3,
                              has_filter=bool(kind & 4))

    async def _image(self, read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int,
                     fmt: str) -> None:
        length = await read_compact_length(read)
        data = await read(length)
        # Straight into the framebuffer: in place for full-width strips, as servers send.
        decode_into(data, w, h, fb.pixels[y:y + h, x:x + w], fmt=fmt,
                    turbo=self.jpeg if fmt == "JPEG" else None)
        fb.add_damage_xywh(x, y, w, h)

    async def _basic(self, read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int, *,
                     stream: int,
                     has_filter: bool) -> None:
        filter_id = (await read(1))[0] if has_filter else FILTER_COPY
        if filter_id == FILTER_PALETTE:
            colours = (await read(1))[0] + 1
            palette = _rgb_words(np.frombuffer(await read(colours * TPIXEL), np.uint8)
                                 .reshape(colours, TPIXEL))
            row_bytes = (w + 7) // 8 if colours == 2 else w
            data = await self._payload(read, stream, row_bytes * h)
            packed = np.frombuffer(data, np.uint8).reshape(h, row_bytes)
            if colours == 2:
                index = np.unpackbits(packed, axis=1)[:, :w]
            else:
                index = packed
            table = np.full(256, ALPHA, np.uint32)  # indexes past the palette: black
            table[:colours] = palette
            # take() is twice as fast as table[index] on uint8 indexes, and the table's
            # words are opaque already: copied in, not OR-ed in.
            fb.put_opaque_words(x, y, table.take(index))
        elif filter_id in (FILTER_COPY, FILTER_GRADIENT):
            data = await self._payload(read, stream, w * h * TPIXEL)
            rgb = np.frombuffer(data, np.uint8).reshape(h, w, TPIXEL)
            if filter_id == FILTER_GRADIENT:
                rgb = _undo_gradient(rgb)
            fb.put_rgb(x, y, rgb)
        else:
            raise ProtocolError(f"Tight filter {filter_id} does not exist")

    async def _payload(self, read: Read, stream: int, size: int) -> bytes:
        if size < MIN_TO_COMPRESS:
            return await read(size)
        length = await read_compact_length(read)
        if length > size + size // 100 + 1024:
            raise ProtocolError(f"{length} compressed bytes for {size} bytes of pixels")
        data = self.streams[stream].inflate(await read(length), size)
        if len(data) != size:
            raise ProtocolError(f"a Tight rectangle inflated to {len(data)} bytes, "
                                f"not {size}")
        return data


def _undo_gradient(diff: np.ndarray) -> np.ndarray:
    """Each pixel was sent as its difference from left + above - above-left (clamped to
    0..255). Every pixel depends on its decoded left neighbour, so this walks pixel by
    pixel: slow, but servers use the filter rarely (QEMU only without JPEG, for photos)."""
    h, w, _ = diff.shape
    out = np.zeros((h, w, 3), np.int32)
    d = diff.astype(np.int32)
    for row in range(h):
        above = out[row - 1] if row else np.zeros((w, 3), np.int32)
        left = np.zeros(3, np.int32)
        upper_left = np.zeros(3, np.int32)
        line = out[row]
        for col in range(w):
            predicted = np.clip(left + above[col] - upper_left, 0, 255)
            line[col] = (d[row, col] + predicted) & 0xFF
            left = line[col]
            upper_left = above[col]
    return out.astype(np.uint8)
