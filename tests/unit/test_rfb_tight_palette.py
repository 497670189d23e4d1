"""Lossless Tight's palette rectangles (two colours at one bit a pixel, up to 256 at a
byte) decoded with a lookup table and take(): a desktop from a real encoder
(benchmarks/rfb_encoders.py: zlib, tiles chosen as servers do) comes back exactly, and
random palettes and indexes give what a pixel-by-pixel reading of the protocol gives,
indexes past the palette as opaque black."""
from __future__ import annotations

import asyncio
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from benchmarks.rfb_encoders import desktop_frames, encode_tight_frames
from connectors.console.framebuffer import Framebuffer
from connectors.console.rfb import tight
from connectors.console.rfb.client import RfbClient
from tests.unit.rfb_helpers import compact, memory_reader

EXAMPLES = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def test_a_desktop_from_a_real_encoder_comes_back_exactly(qapp):
    width, height = 400, 260  # partial tiles at the right and bottom edges
    frames = desktop_frames(width, height, 3)
    # One client for every frame: Tight's zlib streams run across them.
    client = RfbClient(transport=None, encodings=("tight",))
    client.framebuffer.resize(width, height)

    async def apply(update: bytes) -> None:
        read = memory_reader(update)
        kind = (await read(1))[0]
        await client._message(kind, read)
    for rgb, update in zip(frames, encode_tight_frames(frames), strict=True):
        asyncio.run(apply(update))
        assert np.array_equal(client.framebuffer.rgb(), rgb)
        assert ((client.framebuffer.words >> 24) == 0xFF).all()


@EXAMPLES
@given(st.integers(1, 40), st.integers(1, 20), st.integers(2, 256), st.data())
def test_random_palettes_give_the_straightforward_pixels(w, h, colours, data):
    palette = data.draw(st.binary(min_size=colours * 3, max_size=colours * 3))
    bits = 1 if colours == 2 else 8
    row_bytes = (w + 7) // 8 if bits == 1 else w
    raw = data.draw(st.binary(min_size=row_bytes * h, max_size=row_bytes * h))
    stream = zlib.compressobj()
    payload = (raw if len(raw) < 12 else
               compact(len(packed := stream.compress(raw) + stream.flush(zlib.Z_SYNC_FLUSH)))
               + packed)
    body = bytes([0x40, 1, colours - 1]) + palette + payload
    fb = Framebuffer(w + 3, h + 2)
    asyncio.run(tight.TightDecoder().decode(memory_reader(body), fb, 3, 2, w, h))
    # The protocol read pixel by pixel: an index per pixel (bits from the top of each
    # row's bytes), its palette entry R, G, B, or black past the palette.
    for y in range(h):
        for x in range(w):
            if bits == 1:
                index = (raw[y * row_bytes + x // 8] >> (7 - x % 8)) & 1
            else:
                index = raw[y * row_bytes + x]
            r, g, b = palette[index * 3:index * 3 + 3] if index < colours else (0, 0, 0)
            assert fb.words[2 + y, 3 + x] == 0xFF000000 | (r << 16) | (g << 8) | b
    outside = fb.words.copy()
    outside[2:, 3:] = 0xFF000000
    assert (outside == 0xFF000000).all()
