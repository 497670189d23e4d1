"""SPICE images: the descriptor every drawing command points at, and the decoders for
the image types HVConsole reads fast (BITMAP, LZ4, JPEG), the image and palette caches
the server fills and refers to, and the images that come from another surface.

An image decodes to an (h, w) array of 0x??RRGGBB words, possibly read-only (the top
byte is alpha for RGBA bitmaps, anything otherwise: the canvas makes what it writes
opaque). LZ4 and JPEG are decoded in C (python-lz4, Pillow); bitmaps are numpy
reshapes. Every offset and length comes from the message and is checked against it
before anything is read; every size is checked before anything is allocated, and an
allocation is never more than a fixed multiple of the bytes that arrived.

What the server may send but HVConsole does not decode (QUIC, SPICE's own LZ and GLZ)
raises UnsupportedImage: the display channel skips that drawing and tells the user once.
The display channel's capabilities and preferred compression keep a well-behaved server
from sending them at all.
"""
from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Callable, Literal

import lz4.block
import numpy as np

from connectors.console import imagecodec, lz4block
from connectors.console.imagecodec import decode_into
from connectors.console.spice.wire import Payload
from connectors.console.state import ProtocolError

# SpiceImageType
BITMAP, QUIC, LZ_PLT, LZ_RGB, GLZ_RGB, FROM_CACHE = 0, 1, 100, 101, 102, 103
SURFACE, JPEG, FROM_CACHE_LOSSLESS, ZLIB_GLZ_RGB, JPEG_ALPHA, LZ4 = 104, 105, 106, 107, 108, 109
TYPE_NAMES = {BITMAP: "bitmap", QUIC: "QUIC", LZ_PLT: "LZ (palette)", LZ_RGB: "LZ",
              GLZ_RGB: "GLZ", FROM_CACHE: "cached", SURFACE: "surface", JPEG: "JPEG",
              FROM_CACHE_LOSSLESS: "cached", ZLIB_GLZ_RGB: "zlib-GLZ",
              JPEG_ALPHA: "JPEG with alpha", LZ4: "LZ4"}
# SpiceImageFlags
CACHE_ME, HIGH_BITS_SET, CACHE_REPLACE_ME = 1, 2, 4
# SpiceBitmapFmt
FMT_1BIT_LE, FMT_1BIT_BE, FMT_4BIT_LE, FMT_4BIT_BE, FMT_8BIT = 1, 2, 3, 4, 5
FMT_16BIT, FMT_24BIT, FMT_32BIT, FMT_RGBA, FMT_8BIT_A = 6, 7, 8, 9, 10
BITS_PER_PIXEL = {FMT_1BIT_LE: 1, FMT_1BIT_BE: 1, FMT_4BIT_LE: 4, FMT_4BIT_BE: 4,
                  FMT_8BIT: 8, FMT_16BIT: 16, FMT_24BIT: 24, FMT_32BIT: 32, FMT_RGBA: 32,
                  FMT_8BIT_A: 8}
# SpiceBitmapFlags
PAL_CACHE_ME, PAL_FROM_CACHE, TOP_DOWN = 1, 2, 4

ALPHA = 0xFF000000
# One image's sides: the framebuffer's own limit. Anything larger is refused unread.
MAX_IMAGE_SIDE = 8192
# Compressed images may not promise more pixels than their bytes can carry: LZ4 expands
# at most 255 times; a JPEG of a flat black screen carries about 64 pixels per byte.
LZ4_MAX_RATIO = 255
JPEG_MAX_PIXELS_PER_BYTE = 512
SMALL_IMAGE_PIXELS = 1 << 16
MAX_PALETTES = 1024
LZ4_WINDOW = 64 << 10
# An LZ4 image's descriptor and data size: id, type, flags, width, height, size.
LZ4_HEAD = struct.Struct("<QBBIII")


class UnsupportedImage(Exception):
    """A well-formed image HVConsole does not decode; ``what`` names it for the user."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def at(data: memoryview, offset: int, what: str) -> Payload:
    """A reader at a pointer the message states (offsets count from the message start)."""
    p = Payload(data, what)
    if offset <= 0 or offset >= len(data):
        raise ProtocolError(f"a {what} points at offset {offset}, outside its "
                            f"{len(data)}-byte message")
    p.seek(offset)
    return p


def check_image_size(width: int, height: int, what: str = "image") -> None:
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ProtocolError(f"a {width}x{height} {what} is outside what a console shows "
                            f"(1x1 to {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE})")


class ImageCache:
    """The server's pixmap cache on our side: images kept by id, at most ``max_pixels``
    pixels in all (the size announced in DISPLAY_INIT, which the server also counts).
    The server evicts on its own and tells us; should it overfill, the least recently
    used go first, as the server would have done."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels
        self.pixels = 0
        self._images: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._images)

    def put(self, image_id: int, words: np.ndarray) -> None:
        self.remove(image_id)
        size = words.shape[0] * words.shape[1]
        if size > self.max_pixels:
            return
        while self.pixels + size > self.max_pixels and self._images:
            _, old = self._images.popitem(last=False)
            self.pixels -= old.shape[0] * old.shape[1]
        self._images[image_id] = words
        self.pixels += size

    def get(self, image_id: int) -> np.ndarray | None:
        words = self._images.get(image_id)
        if words is not None:
            self._images.move_to_end(image_id)
        return words

    def remove(self, image_id: int) -> None:
        old = self._images.pop(image_id, None)
        if old is not None:
            self.pixels -= old.shape[0] * old.shape[1]

    def clear(self) -> None:
        self._images.clear()
        self.pixels = 0


class ImageDecoder:
    """Decodes the image a drawing command points at, with the caches it may use.

    ``surface_words(id)`` gives another surface's pixels for SURFACE images (None: no
    such surface kept)."""

    def __init__(self, *, cache_pixels: int,
                 surface_words: Callable[[int], np.ndarray | None] = lambda _id: None) -> None:
        self.cache = ImageCache(cache_pixels)
        self.palettes: OrderedDict[int, np.ndarray] = OrderedDict()
        self.surface_words = surface_words

    def reset(self) -> None:
        self.cache.clear()
        self.palettes.clear()

    def decode(self, data: memoryview, offset: int) -> np.ndarray:
        """The image at ``offset`` of message ``data`` as (h, w) uint32 words."""
        if 0 < offset <= len(data) - LZ4_HEAD.size and data[offset + 8] == LZ4:
            return self._lz4(data, offset)
        p = at(data, offset, "image")
        image_id, kind, flags, width, height = p.unpack("QBBII")
        if kind in (FROM_CACHE, FROM_CACHE_LOSSLESS):
            words = self.cache.get(image_id)
            if words is None:
                raise UnsupportedImage("a reference to an image the console no longer "
                                       "keeps")
            return words
        if kind == SURFACE:
            surface_id = p.u32()
            words = self.surface_words(surface_id)
            if words is None:
                raise UnsupportedImage("a picture of an off-screen surface the console "
                                       "did not keep")
            return words
        check_image_size(width, height)
        if kind == BITMAP:
            words = self._bitmap(data, p, width, height)
        elif kind == LZ4:
            words = decode_lz4(p.take(p.u32()), width, height)
        elif kind == JPEG:
            words = decode_jpeg(p.take(p.u32()), width, height)
        elif kind == JPEG_ALPHA:
            # The alpha plane is SPICE-LZ compressed; the picture itself is drawn opaque.
            _flags, jpeg_size, data_size = p.unpack("BII")
            body = p.take(data_size)
            if jpeg_size > data_size:
                raise ProtocolError(f"a JPEG of {jpeg_size} bytes in {data_size} bytes")
            words = decode_jpeg(body[:jpeg_size], width, height)
        elif kind in TYPE_NAMES:
            raise UnsupportedImage(f"{TYPE_NAMES[kind]}-compressed images")
        else:
            raise ProtocolError(f"image type {kind} does not exist")
        if flags & (CACHE_ME | CACHE_REPLACE_ME):
            if not words.flags.owndata:
                words = words.copy()  # the message's memory is not ours to keep
            self.cache.put(image_id, words)
        return words

    def decode_onto(self, data: memoryview, offset: int, out: np.ndarray) -> bool:
        """Decode the image at ``offset`` straight into ``out`` (the (h, w) piece of the
        screen it covers whole) when it is a JPEG, or an LZ4 image as QEMU sends them,
        that the cache does not keep: libjpeg-turbo and liblz4 then write the screen's
        memory themselves. False, with nothing written, for anything else."""
        if not 0 < offset <= len(data) - LZ4_HEAD.size:
            return False
        _id, kind, flags, width, height, size = LZ4_HEAD.unpack_from(data, offset)
        if (kind not in (LZ4, JPEG) or flags & (CACHE_ME | CACHE_REPLACE_ME)
                or out.shape != (height, width)):
            return False
        check_image_size(width, height)
        start = offset + LZ4_HEAD.size
        if start + size > len(data):
            raise ProtocolError(f"an image ends early: {size} more bytes needed at offset "
                                f"{start} of {len(data)}")
        if kind == JPEG:
            decode_jpeg(data[start:start + size], width, height, out)
            return True
        return lz4_into(data[start:start + size], width, height, out)

    def _lz4(self, data: memoryview, offset: int) -> np.ndarray:
        """An LZ4 image (QEMU's every piece of screen over TCP): the descriptor read in
        one step rather than field by field."""
        image_id, _kind, flags, width, height, size = LZ4_HEAD.unpack_from(data, offset)
        check_image_size(width, height)
        start = offset + LZ4_HEAD.size
        if start + size > len(data):
            raise ProtocolError(f"an image ends early: {size} more bytes needed at offset "
                                f"{start} of {len(data)}")
        words = decode_lz4(data[start:start + size], width, height)
        if flags & (CACHE_ME | CACHE_REPLACE_ME):
            if not words.flags.owndata:
                words = words.copy()  # the message's memory is not ours to keep
            self.cache.put(image_id, words)
        return words

    # ---- bitmaps ----

    def _bitmap(self, data: memoryview, p: Payload, width: int, height: int) -> np.ndarray:
        fmt, flags, bw, bh, stride = p.unpack("BBIII")
        if (bw, bh) != (width, height):
            raise ProtocolError(f"a {bw}x{bh} bitmap in a {width}x{height} image")
        bits = BITS_PER_PIXEL.get(fmt)
        if bits is None:
            raise ProtocolError(f"bitmap format {fmt} does not exist")
        if fmt == FMT_8BIT_A:
            raise UnsupportedImage("alpha-only bitmaps")
        palette = None
        if flags & PAL_FROM_CACHE:
            palette_id = p.u64()
            palette = self.palettes.get(palette_id)
            if palette is None:
                raise UnsupportedImage("a reference to a palette the console no longer "
                                       "keeps")
        else:
            pointer = p.u32()
            if pointer:
                palette = self._palette(data, pointer, cache=bool(flags & PAL_CACHE_ME))
        row_bytes = (width * bits + 7) // 8
        if stride < row_bytes:
            raise ProtocolError(f"a bitmap row of {stride} bytes cannot hold {width} "
                                f"pixels of {bits} bits")
        if stride * height > p.remaining:
            raise ProtocolError(f"a {width}x{height} bitmap needs {stride * height} bytes; "
                                f"the message has {p.remaining} left")
        rows = np.frombuffer(p.take(stride * height), np.uint8).reshape(height, stride)
        if not flags & TOP_DOWN:
            rows = rows[::-1]
        return bitmap_words(rows[:, :row_bytes], fmt, width, palette)

    def _palette(self, data: memoryview, offset: int, *, cache: bool) -> np.ndarray:
        p = at(data, offset, "palette")
        unique, count = p.unpack("QH")
        entries = np.frombuffer(p.take(count * 4), "<u4").astype(np.uint32)
        if cache:
            self.palettes[unique] = entries
            while len(self.palettes) > MAX_PALETTES:
                self.palettes.popitem(last=False)
        return entries

    def forget_palette(self, palette_id: int) -> None:
        self.palettes.pop(palette_id, None)


def _palette_table(palette: np.ndarray | None, size: int) -> np.ndarray:
    """``size`` entries; indexes past the palette read black. Without a palette (masks),
    0 is black and anything else white."""
    table = np.zeros(size, np.uint32)
    if palette is None:
        table[1:] = 0xFFFFFF
    else:
        n = min(size, len(palette))
        table[:n] = palette[:n]
    return table


def bitmap_words(rows: np.ndarray, fmt: int, width: int,
                 palette: np.ndarray | None) -> np.ndarray:
    """(h, row_bytes) uint8 rows, top row first, to (h, w) words."""
    height = rows.shape[0]
    if fmt == FMT_32BIT or fmt == FMT_RGBA:
        return np.ascontiguousarray(rows).view("<u4").reshape(height, width)
    if fmt == FMT_24BIT:
        bgr = rows.reshape(height, width, 3)
        words = np.empty((height, width), np.uint32)
        out = words.view(np.uint8).reshape(height, width, 4)
        out[:, :, :3] = bgr
        out[:, :, 3] = 0xFF
        return words
    if fmt == FMT_16BIT:  # x1r5g5b5, little-endian
        v = np.ascontiguousarray(rows).view("<u2").reshape(height, width).astype(np.uint32)
        r, g, b = (v >> 10) & 31, (v >> 5) & 31, v & 31
        r, g, b = (r << 3) | (r >> 2), (g << 3) | (g >> 2), (b << 3) | (b >> 2)
        return (r << 16) | (g << 8) | b | np.uint32(ALPHA)
    if fmt in (FMT_1BIT_LE, FMT_1BIT_BE):
        order: Literal["little", "big"] = "little" if fmt == FMT_1BIT_LE else "big"
        index = np.unpackbits(rows, axis=1, bitorder=order)[:, :width]
        return _palette_table(palette, 2)[index]
    if fmt in (FMT_4BIT_LE, FMT_4BIT_BE):
        first, second = (rows & 0x0F, rows >> 4) if fmt == FMT_4BIT_LE else (rows >> 4,
                                                                              rows & 0x0F)
        index = np.empty((height, rows.shape[1] * 2), np.uint8)
        index[:, 0::2] = first
        index[:, 1::2] = second
        return _palette_table(palette, 16)[index[:, :width]]
    if fmt == FMT_8BIT:
        mapped: np.ndarray = _palette_table(palette, 256)[rows]
        return mapped
    raise ProtocolError(f"bitmap format {fmt} does not exist")


# ---- compressed images ----

LZ4_BYTES_PER_PIXEL = {FMT_16BIT: 2, FMT_24BIT: 3, FMT_32BIT: 4, FMT_RGBA: 4}


def lz4_into(body: memoryview, width: int, height: int, out: np.ndarray) -> bool:
    """QEMU's LZ4 image (top-down 32-bit pixels, the whole image in one block) decoded
    straight into ``out``, a contiguous (height, width) piece of the screen, made
    opaque there: no allocation and no copy. False, with nothing written, for any other
    kind of LZ4 image (decode_lz4 then takes it)."""
    if not (lz4block.AVAILABLE and out.flags.c_contiguous and len(body) > 6
            and body[0] and LZ4_BYTES_PER_PIXEL.get(body[1]) == 4
            and int.from_bytes(body[2:6], "big") == len(body) - 6
            and out.shape == (height, width)):
        return False
    total = width * height * 4
    if total > LZ4_MAX_RATIO * len(body) + 1024:
        raise ProtocolError(f"an LZ4 image of {len(body)} bytes cannot hold "
                            f"{width}x{height} pixels")
    written = lz4block.decompress_into(body[6:], out)
    # Opaque even when the block was broken halfway: the screen keeps its invariant.
    np.bitwise_or(out, ALPHA, out=out)
    if written != total:
        raise ProtocolError("an LZ4 block cannot be decoded" if written < 0 else
                            f"an LZ4 image decoded to {written} bytes, not {total}")
    return True


def decode_lz4(body: memoryview, width: int, height: int) -> np.ndarray:
    """SPICE's LZ4 image: a top-down byte, a bitmap format byte, then blocks, each a
    big-endian length and an LZ4 block that may refer back to the blocks before it
    (one stream per image)."""
    if len(body) < 2:
        raise ProtocolError("an LZ4 image without its header")
    top_down, fmt = body[0], body[1]
    bpp = LZ4_BYTES_PER_PIXEL.get(fmt)
    if bpp is None:
        raise ProtocolError(f"an LZ4 image in bitmap format {fmt}")
    total = width * height * bpp
    if total > LZ4_MAX_RATIO * len(body) + 1024:
        raise ProtocolError(f"an LZ4 image of {len(body)} bytes cannot hold "
                            f"{width}x{height} pixels")
    if top_down and bpp == 4 and int.from_bytes(body[2:6], "big") == len(body) - 6 > 0:
        # What QEMU sends: the whole top-down image in one block, decoded to its words
        # without the block loop below.
        try:
            block = lz4.block.decompress(body[6:], uncompressed_size=total)
        except lz4.block.LZ4BlockError as err:
            raise ProtocolError(f"an LZ4 block cannot be decoded ({err})") from None
        if len(block) != total:
            raise ProtocolError(f"an LZ4 image decoded to {len(block)} bytes, not {total}")
        return np.frombuffer(block, np.uint32).reshape(height, width)
    out: np.ndarray | None = None
    done = 0
    pos = 2
    while pos < len(body):
        if pos + 4 > len(body):
            raise ProtocolError("an LZ4 image ends inside a block length")
        size = int.from_bytes(body[pos:pos + 4], "big")
        pos += 4
        if size == 0 or pos + size > len(body):
            raise ProtocolError(f"an LZ4 block of {size} bytes at offset {pos} of "
                                f"{len(body)}")
        room = total - done
        if room <= 0:
            raise ProtocolError("an LZ4 image has more blocks than pixels")
        window = b"" if out is None else out[max(0, done - LZ4_WINDOW):done]
        try:
            block = lz4.block.decompress(body[pos:pos + size],
                                         uncompressed_size=min(room, size * LZ4_MAX_RATIO + 64),
                                         dict=window)
        except lz4.block.LZ4BlockError as err:
            raise ProtocolError(f"an LZ4 block cannot be decoded ({err})") from None
        pos += size
        if out is None:
            if len(block) == total:  # the whole image in one block, as QEMU sends it
                out = np.frombuffer(block, np.uint8)
                done = total
                continue
            out = np.empty(total, np.uint8)
        out[done:done + len(block)] = np.frombuffer(block, np.uint8)
        done += len(block)
    if done != total or out is None:
        raise ProtocolError(f"an LZ4 image decoded to {done} bytes, not {total}")
    rows = out.reshape(height, width * bpp)
    if not top_down:
        rows = rows[::-1]
    return bitmap_words(rows, fmt, width, None)


def decode_jpeg(body: memoryview, width: int, height: int,
                out: np.ndarray | None = None) -> np.ndarray:
    """A JPEG as opaque B, G, R, X words, decoded in C (libjpeg-turbo, or Pillow for
    what it refuses): into ``out`` (a (height, width) piece of the screen) when given,
    else into a new array."""
    if width * height > max(SMALL_IMAGE_PIXELS, JPEG_MAX_PIXELS_PER_BYTE * len(body)):
        raise ProtocolError(f"a JPEG of {len(body)} bytes cannot hold {width}x{height} pixels")
    if out is None:
        out = np.empty((height, width), np.uint32)
    decode_into(body, width, height, out, turbo=imagecodec.SIMPLEJPEG)
    return out

