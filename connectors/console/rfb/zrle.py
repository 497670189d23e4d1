"""ZRLE: one zlib stream per connection; 64x64 tiles of raw, solid, packed-palette,
plain-RLE or palette-RLE pixels. Pixels are CPIXELs: with our pixel format the three
low bytes of the little-endian word, i.e. B, G, R.

The tiles are decoded by _zrle_accel (C, built by `pip install -e .`) when it was built:
the run-length tiles must be walked byte by byte, ~300k runs a frame on a busy
1920x1080 desktop, and no numpy formulation beat the Python loop below by enough (see
docs/ARCHITECTURE.md, Consoles). The Python decoder stays for machines without a
compiler; the tests run both and check they agree."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from connectors.console.framebuffer import ALPHA, Framebuffer
from connectors.console.rfb.decoders import Read
from connectors.console.rfb.zlibstream import ZlibStream
from connectors.console.state import ProtocolError

TILE = 64
CPIXEL = 3
ACCEL_API_VERSION = 1


class ZrleAccel(Protocol):
    """The C decoder's interface (_zrle_accel.pyi)."""

    def decode_rect(self, data: bytes, pixels: np.ndarray, fb_width: int, fb_height: int,
                    x: int, y: int, w: int, h: int, /) -> int: ...


def _load_accel() -> ZrleAccel | None:
    """The C decoder, if it was built and is the version this file speaks to (a stale
    build left by an older checkout is ignored rather than trusted)."""
    try:
        from connectors.console.rfb import _zrle_accel
    except ImportError:
        return None
    # A build left by an older checkout may lack the constant: asked, not assumed.
    if getattr(_zrle_accel, "API_VERSION", None) != ACCEL_API_VERSION:
        return None
    return _zrle_accel


ACCEL = _load_accel()


def _cpixels(data: bytes | memoryview, count: int) -> np.ndarray:
    """``count`` CPIXELs as opaque 0xFFRRGGBB words."""
    raw = np.frombuffer(data, np.uint8, count * CPIXEL).reshape(count, CPIXEL).astype(np.uint32)
    return raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16) | np.uint32(ALPHA)


class _Cursor:
    """A read position in the inflated bytes, with a clear error when they run out."""

    __slots__ = ("raw", "data", "pos")

    def __init__(self, data: bytes) -> None:
        self.raw = data
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.data):
            raise ProtocolError("ZRLE data ends inside a tile")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ProtocolError("ZRLE data ends inside a tile")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def pixel(self) -> int:
        """One CPIXEL as an opaque 0xFFRRGGBB word."""
        end = self.pos + CPIXEL
        if end > len(self.data):
            raise ProtocolError("ZRLE data ends inside a tile")
        d, p = self.data, self.pos
        self.pos = end
        return d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | ALPHA


class ZrleDecoder:
    def __init__(self, accel: ZrleAccel | None | bool = True) -> None:
        """``accel``: True for the C decoder when built, False for the Python one."""
        self.stream = ZlibStream()
        self.accel = ACCEL if accel is True else accel or None

    def worst_case(self, w: int, h: int) -> int:
        tiles = -(-w // TILE) * -(-h // TILE)
        # plain RLE at worst: a CPIXEL and a one-byte run per pixel; a palette per tile.
        return w * h * (CPIXEL + 1) + tiles * (1 + 127 * CPIXEL)

    async def decode(self, read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int) -> None:
        fb.check_rect(x, y, w, h)
        length = int.from_bytes(await read(4), "big")
        # zlib cannot shrink data below ~1/1032; more input than that per output is garbage.
        if length > self.worst_case(w, h) + 1024:
            raise ProtocolError(f"a ZRLE rectangle of {w}x{h} cannot need {length} bytes")
        data = self.stream.inflate(await read(length), self.worst_case(w, h))
        if self.accel is not None:
            try:
                self.accel.decode_rect(data, fb.pixels, fb.width, fb.height, x, y, w, h)
            except ValueError as err:
                raise ProtocolError(str(err)) from None
            fb.add_damage_xywh(x, y, w, h)
            return
        src = _Cursor(data)
        words = fb.words
        for ty in range(y, y + h, TILE):
            th = min(TILE, y + h - ty)
            for tx in range(x, x + w, TILE):
                tw = min(TILE, x + w - tx)
                self._tile(src, words[ty:ty + th, tx:tx + tw], tw, th)
        fb.add_damage_xywh(x, y, w, h)

    @staticmethod
    def _tile(src: _Cursor, tile: np.ndarray, tw: int, th: int) -> None:
        sub = src.byte()
        count = tw * th
        if sub == 0:
            tile[:] = _cpixels(src.take(count * CPIXEL), count).reshape(th, tw)
        elif sub == 1:
            tile[:] = src.pixel()
        elif 2 <= sub <= 16:
            palette = _cpixels(src.take(sub * CPIXEL), sub)
            bits = 1 if sub == 2 else 2 if sub <= 4 else 4
            row_bytes = (tw * bits + 7) // 8
            packed = np.frombuffer(src.take(row_bytes * th), np.uint8).reshape(th, row_bytes)
            unpacked = np.unpackbits(packed, axis=1)[:, :tw * bits].reshape(th, tw, bits)
            weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
            index = (unpacked * weights).sum(axis=2, dtype=np.uint8)
            table = np.full(1 << bits, ALPHA, np.uint32)  # indexes past the palette: black
            table[:sub] = palette
            tile[:] = table[index]
        elif sub == 128:
            starts, runs, src.pos = _runs(src.raw, src.pos, count, palette=False)
            raw = np.frombuffer(src.raw, np.uint8)
            colours = (raw[starts].astype(np.uint32) | (raw[starts + 1].astype(np.uint32) << 8)
                       | (raw[starts + 2].astype(np.uint32) << 16) | np.uint32(ALPHA))
            tile[:] = np.repeat(colours, runs).reshape(th, tw)
        elif sub >= 130:
            palette = _cpixels(src.take((sub - 128) * CPIXEL), sub - 128)
            indexes, runs, src.pos = _runs(src.raw, src.pos, count, palette=True)
            if indexes.max() >= len(palette):
                raise ProtocolError("a ZRLE palette run names a colour past its palette")
            tile[:] = np.repeat(palette[indexes], runs).reshape(th, tw)
        else:
            raise ProtocolError(f"ZRLE tile sub-encoding {sub} does not exist")


# The run-length parts are the one place that must walk byte by byte (a run's length
# takes as many bytes as it needs), so they are kept to plain integer work on a bytes
# object: no calls and no numpy per run; the pixels are then made with one np.repeat.

def _runs(data: bytes, pos: int, count: int, palette: bool
          ) -> tuple[np.ndarray, list[int], int]:
    """The runs of an RLE tile: (per run, the offset of its CPIXEL, or with ``palette``
    its palette index; the run lengths; the position after the tile)."""
    heads: list[int] = []
    runs: list[int] = []
    filled = 0
    try:
        while filled < count:
            if palette:
                i = data[pos]
                pos += 1
                if not i & 0x80:  # a single pixel: no length follows
                    heads.append(i)
                    runs.append(1)
                    filled += 1
                    continue
                heads.append(i & 0x7F)
            else:
                heads.append(pos)
                pos += CPIXEL
            b = data[pos]
            pos += 1
            run = b + 1
            while b == 255:
                b = data[pos]
                pos += 1
                run += b
            runs.append(run)
            filled += run
    except IndexError:
        raise ProtocolError("ZRLE data ends inside a tile") from None
    if filled != count:
        raise ProtocolError("a ZRLE run overflows its tile")
    return np.array(heads, np.intp), runs, pos
