"""Drawing on a SPICE surface: numpy operations on an (h, w) array of 0x??RRGGBB words
(the framebuffer's own words for the primary surface).

A drawing command names a box and, optionally, a list of clip rectangles: only the parts
of the box inside one of them change. Every command here takes the box's pixels as one
block (already decoded, scaled or tiled), then writes the clipped parts of it; written
words are always made opaque (the framebuffer's fourth byte stays 0xFF).

Boxes are (left, top, right, bottom) with right and bottom excluded, as SPICE sends them.
"""
from __future__ import annotations

import numpy as np

from connectors.console.spice.wire import Payload
from connectors.console.state import ProtocolError

Box = tuple[int, int, int, int]
# What a command draws with: a block of the box's pixels, or one colour word for all.
Block = np.ndarray | int | np.uint32

ALPHA = np.uint32(0xFF000000)
WHITE = 0xFFFFFF

# SpiceRopd: how a source (image or brush) and the destination combine.
INVERS_SRC, INVERS_BRUSH, INVERS_DEST = 1, 2, 4
OP_PUT, OP_OR, OP_AND, OP_XOR = 8, 16, 32, 64
OP_BLACKNESS, OP_WHITENESS, OP_INVERS, INVERS_RES = 128, 256, 512, 1024

# Beyond this many clip rectangles in one command the server is broken or hostile.
MAX_CLIP_RECTS = 65536
# SpiceClipType
CLIP_NONE, CLIP_RECTS = 0, 1


class Surface:
    """One surface's pixels: the framebuffer's words for the primary one."""

    __slots__ = ("words", "width", "height", "primary")

    def __init__(self, words: np.ndarray | None, width: int, height: int,
                 primary: bool) -> None:
        self.words = words
        self.width = width
        self.height = height
        self.primary = primary


def read_rect(p: Payload) -> Box:
    """A SpiceRect (top, left, bottom, right on the wire) as a box."""
    top, left, bottom, right = p.unpack("iiii")
    return left, top, right, bottom


def read_clip(p: Payload) -> np.ndarray | None:
    """A SpiceClip: none, or an (n, 4) array of left, top, right, bottom rectangles."""
    kind = p.u8()
    if kind == CLIP_NONE:
        return None
    if kind != CLIP_RECTS:
        raise ProtocolError(f"clip type {kind} does not exist")
    count = p.u32()
    if count > MAX_CLIP_RECTS:
        raise ProtocolError(f"{count} clip rectangles in one drawing command")
    rects = np.frombuffer(p.take(count * 16), "<i4").reshape(count, 4)
    return rects[:, [1, 0, 3, 2]].astype(np.int64)


def check_box(box: Box, width: int, height: int, what: str = "drawing") -> None:
    left, top, right, bottom = box
    if not (0 <= left <= right <= width and 0 <= top <= bottom <= height):
        raise ProtocolError(f"a {what} at ({left}, {top})-({right}, {bottom}) lies outside "
                            f"its {width}x{height} surface")


def clip_boxes(box: Box, rects: np.ndarray | None) -> list[Box]:
    """The non-empty parts of ``box`` inside each clip rectangle (an (n, 4) array of
    left, top, right, bottom), or the box itself without clipping."""
    left, top, right, bottom = box
    if right <= left or bottom <= top:
        return []
    if rects is None:
        return [box]
    if not len(rects):
        return []
    lo = np.maximum(rects[:, :2], (left, top))
    hi = np.minimum(rects[:, 2:], (right, bottom))
    keep = (hi[:, 0] > lo[:, 0]) & (hi[:, 1] > lo[:, 1])
    parts = np.concatenate([lo[keep], hi[keep]], axis=1)
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in parts]


def combine(dest: np.ndarray, src: Block | None, rop: int, src_invert: int,
            dest_invert: int) -> np.ndarray | None:
    """What ``rop`` makes of a source and the destination. ``src_invert`` and
    ``dest_invert`` are the descriptor bits that invert each input (for a brush the
    source bit is INVERS_BRUSH; DRAW_OPAQUE's image plays the destination). None: the
    descriptor names no operation, nothing is drawn."""
    out: np.ndarray
    if rop & OP_BLACKNESS:
        out = np.zeros_like(dest)
    elif rop & OP_WHITENESS:
        out = np.full_like(dest, WHITE)
    elif rop & OP_INVERS:
        out = ~dest
    elif rop & (OP_PUT | OP_OR | OP_AND | OP_XOR):
        if src is None:          # a source operation on a command without a source
            return None
        s = ~np.asarray(src, np.uint32) if rop & src_invert else src
        if rop & OP_PUT:
            out = np.broadcast_to(s, dest.shape)
        else:
            d = ~dest if rop & dest_invert else dest
            if rop & OP_OR:
                out = d | s
            elif rop & OP_AND:
                out = d & s
            else:
                out = d ^ s
    else:
        return None
    if rop & INVERS_RES:
        out = ~out
    return out


def write(dest: np.ndarray, values: Block, mask: np.ndarray | None = None) -> None:
    """Opaque ``values`` (a block of dest's shape, or one word) into ``dest``, only where
    ``mask`` is set when there is one."""
    if mask is None:
        if np.ndim(values) == 0:
            dest[...] = int(values) | 0xFF000000
        else:
            np.bitwise_or(values, ALPHA, out=dest)
    else:
        np.copyto(dest, np.bitwise_or(values, ALPHA, dtype=np.uint32), where=mask)


def piece(block: Block | None, part: Box, box: Box) -> Block | None:
    """The piece of a box-sized block (or a single word) that covers ``part``."""
    if block is None or isinstance(block, (int, np.uint32)) or np.ndim(block) == 0:
        return block
    return part_of(block, part, box)


def part_of(array: np.ndarray, part: Box, box: Box) -> np.ndarray:
    """The piece of a box-sized array that covers ``part``."""
    return array[part[1] - box[1]:part[3] - box[1], part[0] - box[0]:part[2] - box[0]]


def draw(words: np.ndarray, box: Box, parts: list[Box], block: Block | None, *,
         rop: int = OP_PUT,
         src_invert: int = INVERS_SRC, dest_invert: int = INVERS_DEST,
         mask: np.ndarray | None = None) -> bool:
    """Combine a box-sized ``block`` (or one colour word) into the clipped ``parts`` of
    ``box``. False when the rop draws nothing."""
    plain = rop == OP_PUT
    if block is not None and np.ndim(block) == 0:
        block = np.uint32(int(block) & 0xFFFFFFFF)
    for part in parts:
        dest = words[part[1]:part[3], part[0]:part[2]]
        src = piece(block, part, box)
        m = None if mask is None else part_of(mask, part, box)
        if plain:
            if src is None:
                return False
            write(dest, src, m)
            continue
        out = combine(dest, src, rop, src_invert, dest_invert)
        if out is None:
            return False
        write(dest, out, m)
    return True


def region(src: np.ndarray, area: Box, what: str = "source area") -> np.ndarray:
    """The ``area`` of an image, checked to lie inside it."""
    check_box(area, src.shape[1], src.shape[0], what)
    return src[area[1]:area[3], area[0]:area[2]]


def scale(src: np.ndarray, width: int, height: int, interpolate: bool) -> np.ndarray:
    """``src`` stretched to width x height: nearest pixel, or bilinear (Pillow, in C)."""
    sh, sw = src.shape
    if (sw, sh) == (width, height):
        return src
    if not (sw and sh) or not (width and height):
        if width and height:
            raise ProtocolError(f"an empty source area stretched over {width}x{height}")
        return np.zeros((height, width), np.uint32)
    if interpolate and sw > 1 and sh > 1:
        from PIL import Image
        img = Image.frombuffer("RGBX", (sw, sh), np.ascontiguousarray(src), "raw", "RGBX", 0, 1)
        data = img.resize((width, height), Image.Resampling.BILINEAR).tobytes("raw", "RGBX")
        return np.frombuffer(data, np.uint32).reshape(height, width)
    ys = (np.arange(height) * sh) // height
    xs = (np.arange(width) * sw) // width
    scaled: np.ndarray = src[ys][:, xs]
    return scaled


def tile(pattern: np.ndarray, box: Box, origin_x: int, origin_y: int) -> np.ndarray:
    """A pattern brush repeated over ``box``, its top-left corner at the origin."""
    ph, pw = pattern.shape
    ys = (np.arange(box[1], box[3]) - origin_y) % ph
    xs = (np.arange(box[0], box[2]) - origin_x) % pw
    tiled: np.ndarray = pattern[ys][:, xs]
    return tiled


def mask_block(mask: np.ndarray, box: Box, x: int, y: int, invert: bool) -> np.ndarray:
    """A box-sized boolean block from a mask image whose point (x, y) lies at the box's
    top-left corner; outside the mask nothing is drawn (or everything, inverted)."""
    h, w = box[3] - box[1], box[2] - box[0]
    out = np.zeros((h, w), bool)
    mh, mw = mask.shape
    x0, y0 = max(0, -x), max(0, -y)
    x1, y1 = min(w, mw - x), min(h, mh - y)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = mask[y0 + y:y1 + y, x0 + x:x1 + x]
    if invert:
        np.logical_not(out, out=out)
    return out


def copy_bits(words: np.ndarray, box: Box, parts: list[Box], src_x: int, src_y: int) -> None:
    """Move the box's pixels from (src_x, src_y) (scrolling); source and destination may
    overlap: the source is read whole before anything is written."""
    left, top, right, bottom = box
    source = (src_x, src_y, src_x + right - left, src_y + bottom - top)
    block = region(words, source, "scrolled area").copy()
    draw(words, box, parts, block)
