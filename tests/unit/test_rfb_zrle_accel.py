"""ZRLE decoded by the C decoder (_zrle_accel) and by the Python one must give the same
pixels for every stream, and the same refusals for broken ones. Streams come from a
real encoder (benchmarks/rfb_encoders.py: zlib, the tile kind chosen as servers do),
from images made to hit each tile kind, and from random bytes."""
from __future__ import annotations

import asyncio
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from benchmarks.rfb_encoders import _zrle_tile, desktop_frames, encode_zrle_frames
from connectors.console.framebuffer import Framebuffer
from connectors.console.rfb import zrle
from connectors.console.state import ProtocolError

EXAMPLES = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _the_c_decoder_is_built():
    # `pip install -e .` builds it (scripts/setup.sh); it is optional only so that an
    # install without a compiler still works. Here its absence is a failure, not a skip:
    # otherwise a broken build would quietly leave every user on the slow path.
    assert zrle.ACCEL is not None, ("connectors/console/rfb/_zrle_accel was not built: "
                                    "run `pip install -e .`")


def _reader(data: bytes):
    view, pos = memoryview(data), 0

    async def read(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(view):
            raise asyncio.IncompleteReadError(bytes(view[pos:]), n)
        pos += n
        return bytes(view[pos - n:pos])
    return read


def _decode(rects: list[tuple[int, int, int, int, bytes]], width: int, height: int,
            accel: bool) -> tuple[np.ndarray | None, str | None]:
    """Apply ZRLE rectangles (one zlib stream across them); the framebuffer's words and
    None, or the pixels so far and the refusal."""
    fb = Framebuffer(width, height)
    decoder = zrle.ZrleDecoder(accel=accel)
    assert (decoder.accel is not None) == accel

    async def go():
        for x, y, w, h, body in rects:
            await decoder.decode(_reader(body), fb, x, y, w, h)
    try:
        asyncio.run(go())
    except ProtocolError as err:
        return fb.words.copy(), str(err)
    return fb.words.copy(), None


def _body(payload: bytes, stream) -> bytes:
    data = stream.compress(payload) + stream.flush(zlib.Z_SYNC_FLUSH)
    return struct.pack(">I", len(data)) + data


def _tiles(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    return b"".join(_zrle_tile(rgb[ty:ty + 64, tx:tx + 64])
                    for ty in range(0, h, 64) for tx in range(0, w, 64))


def _words_of(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.uint32)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2] | np.uint32(0xFF000000)


def _same_both_ways(rects, width, height):
    c_words, c_err = _decode(rects, width, height, accel=True)
    py_words, py_err = _decode(rects, width, height, accel=False)
    assert (c_err is None) == (py_err is None), (c_err, py_err)
    if c_err is None:
        assert np.array_equal(c_words, py_words)
    return c_words, c_err


def test_a_desktop_from_a_real_encoder_is_decoded_exactly(qapp):
    width, height = 400, 260  # partial tiles at the right and bottom edges
    frames = desktop_frames(width, height, 3)
    stream = encode_zrle_frames(frames)
    rects = []
    for message in stream:
        # message: update header (4), rectangle header (12), then the ZRLE body
        rects.append((0, 0, width, height, message[16:]))
    for n in range(1, len(rects) + 1):
        words, err = _same_both_ways(rects[:n], width, height)
        assert err is None
        assert np.array_equal(words, _words_of(frames[n - 1]))


# An image whose tiles take every kind: colours from a small or large set, laid out in
# runs of some length (long runs: run-length tiles; short: raw or packed palette).
images = st.builds(
    lambda seed, w, h, colours, run: _image(seed, w, h, colours, run),
    st.integers(0, 2**32 - 1), st.integers(1, 150), st.integers(1, 140),
    st.sampled_from([1, 2, 3, 4, 5, 16, 17, 127, 128, 200, 5000]),
    st.sampled_from([1, 2, 7, 16, 64, 255, 256, 300, 1000, 5000]))


def _image(seed: int, w: int, h: int, colours: int, run: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (colours, 3), np.uint8)
    runs = rng.integers(1, run + 1, w * h)
    choice = rng.integers(0, colours, runs.size)
    flat = np.repeat(choice, runs)[:w * h]
    return palette[flat].reshape(h, w, 3)


def _kinds(rgb: np.ndarray) -> set[int]:
    h, w, _ = rgb.shape
    return {_zrle_tile(rgb[ty:ty + 64, tx:tx + 64])[0]
            for ty in range(0, h, 64) for tx in range(0, w, 64)}


@EXAMPLES
@given(images, st.integers(0, 30), st.integers(0, 20))
def test_encoded_images_give_the_source_pixels_both_ways(rgb, x, y):
    h, w, _ = rgb.shape
    rects = [(x, y, w, h, _body(_tiles(rgb), zlib.compressobj()))]
    words, err = _same_both_ways(rects, 200, 180)
    assert err is None
    assert np.array_equal(words[y:y + h, x:x + w], _words_of(rgb))


def test_the_image_strategy_reaches_every_tile_kind():
    seen = set()
    for seed, colours, run in [(1, 1, 1), (2, 2, 1), (3, 5, 1), (4, 16, 2), (5, 5, 300),
                               (6, 127, 64), (7, 5000, 16), (8, 5000, 1)]:
        rgb = _image(seed, 64, 64, colours, run)
        seen |= {0 if k == 0 else 1 if k == 1 else 2 if k <= 16 else k if k == 128 else 130
                 for k in _kinds(rgb)}
    assert seen == {0, 1, 2, 128, 130}


def _tile_bytes():
    """Tile-shaped garbage: a sub-encoding byte (valid or not), then bytes."""
    return st.tuples(st.sampled_from([0, 1, 2, 3, 5, 16, 17, 127, 128, 129, 130, 131, 200,
                                      255]),
                     st.binary(max_size=300)).map(lambda t: bytes([t[0]]) + t[1])


@EXAMPLES
@given(st.integers(1, 90), st.integers(1, 70), st.lists(_tile_bytes(), min_size=1, max_size=4))
def test_broken_tiles_are_refused_alike_and_never_written_outside(w, h, tiles):
    rects = [(3, 2, w, h, _body(b"".join(tiles), zlib.compressobj()))]
    words, _err = _same_both_ways(rects, 100, 80)
    outside = words.copy()
    outside[2:2 + h, 3:3 + w] = 0xFF000000
    assert (outside == 0xFF000000).all()  # nothing but the rectangle was touched
    assert ((words >> 24) == 0xFF).all()  # and every pixel stays opaque


@EXAMPLES
@given(st.integers(1, 64), st.integers(1, 48), st.binary(max_size=400))
def test_random_payloads_do_not_allocate_either_way(w, h, payload):
    rects = [(0, 0, w, h, _body(payload, zlib.compressobj()))]
    tracemalloc.start()
    try:
        _same_both_ways(rects, 64, 48)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_c_decoder_refuses_a_rectangle_outside_its_framebuffer():
    fb = Framebuffer(8, 8)
    with pytest.raises(IndexError):
        zrle.ACCEL.decode_rect(b"\x01\x00\x00\x00", fb.pixels, 8, 8, 4, 4, 8, 8)
    with pytest.raises(IndexError):
        zrle.ACCEL.decode_rect(b"\x01\x00\x00\x00", fb.pixels, 16, 8, 0, 0, 16, 8)


@pytest.mark.parametrize("tile, message", [
    (bytes([128, 1, 2, 3, 20]), "overflows"),             # 21 pixels in a 4x4 tile
    (bytes([128, 1, 2, 3, 14, 4, 5, 6, 1]), "overflows"),  # 15 + 2: one pixel too many
    (bytes([131, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 0x81, 15]), "overflows"),
    (bytes([130, 1, 2, 3, 4, 5, 6, 0x85, 15]), "past its palette"),
    (bytes([129]), "does not exist"),
    (bytes([0, 1, 2]), "ends inside a tile"),
])
def test_both_decoders_give_the_same_reason(tile, message):
    rects = [(0, 0, 4, 4, _body(tile, zlib.compressobj()))]
    for accel in (True, False):
        _words, err = _decode(rects, 8, 8, accel)
        assert message in err
