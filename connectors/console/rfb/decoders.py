"""Rectangle decoders for the encodings with no state across rectangles: Raw, CopyRect,
Hextile. Every size comes from a rectangle the framebuffer has already accepted, so a
decoder never reads or allocates more than that rectangle's worth.

``read`` is an awaitable ``readexactly(n)``; pixels are in our pixel format (32-bit
little-endian 0x00RRGGBB), see messages.OUR_PIXEL_FORMAT.
"""
from __future__ import annotations

import struct
from typing import Awaitable, Callable

import numpy as np

from connectors.console.framebuffer import Framebuffer
from connectors.console.state import ProtocolError

Read = Callable[[int], Awaitable[bytes]]
BPP = 4


async def decode_raw(read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int) -> None:
    data = await read(w * h * BPP)
    fb.put_words(x, y, np.frombuffer(data, np.uint32).reshape(h, w))


async def decode_copyrect(read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int) -> None:
    src_x, src_y = struct.unpack(">HH", await read(4))
    fb.copy(src_x, src_y, x, y, w, h)


# Hextile sub-encoding bits
HEX_RAW, HEX_BACKGROUND, HEX_FOREGROUND, HEX_ANY_SUBRECTS, HEX_COLOURED = 1, 2, 4, 8, 16


async def decode_hextile(read: Read, fb: Framebuffer, x: int, y: int, w: int, h: int) -> None:
    """16x16 tiles, left to right, top to bottom. Background and foreground colours carry
    over from one tile to the next within the rectangle."""
    fb.check_rect(x, y, w, h)
    background = foreground = 0
    words = fb.words
    for ty in range(y, y + h, 16):
        th = min(16, y + h - ty)
        for tx in range(x, x + w, 16):
            tw = min(16, x + w - tx)
            sub = (await read(1))[0]
            tile = words[ty:ty + th, tx:tx + tw]
            if sub & HEX_RAW:
                raw = np.frombuffer(await read(tw * th * BPP), np.uint32).reshape(th, tw)
                np.bitwise_or(raw, 0xFF000000, out=tile)
                continue
            if sub & HEX_BACKGROUND:
                background = int.from_bytes(await read(BPP), "little")
            tile[:] = background | 0xFF000000
            if sub & HEX_FOREGROUND:
                foreground = int.from_bytes(await read(BPP), "little")
            if sub & HEX_ANY_SUBRECTS:
                count = (await read(1))[0]
                coloured = bool(sub & HEX_COLOURED)
                size = 2 + (BPP if coloured else 0)
                data = await read(count * size)
                for i in range(0, count * size, size):
                    if coloured:
                        colour = int.from_bytes(data[i:i + BPP], "little")
                        i += BPP
                    else:
                        colour = foreground
                    sx, sy = data[i] >> 4, data[i] & 15
                    sw, sh = (data[i + 1] >> 4) + 1, (data[i + 1] & 15) + 1
                    if sx + sw > tw or sy + sh > th:
                        raise ProtocolError("a Hextile subrectangle lies outside its tile")
                    tile[sy:sy + sh, sx:sx + sw] = colour | 0xFF000000
    fb.add_damage_xywh(x, y, w, h)
