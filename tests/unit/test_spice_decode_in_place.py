"""JPEG and LZ4 images decoded straight into the screen (the display's plain-copy path
with libjpeg-turbo and liblz4 writing the framebuffer themselves) give exactly the pixels
the general path gives (decode into a new array, then copy), for full-screen,
full-width and partial pieces; liblz4 through ctypes agrees with python-lz4 and never
writes past the memory it is given, whatever the block."""
from __future__ import annotations

import struct

import lz4.block
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.console import lz4block
from connectors.console.client import ConsoleClient
from connectors.console.spice import display as d
from connectors.console.spice import images as im
from connectors.console.state import ProtocolError
from tests.unit import spice_display_helpers as h

W, H = 64, 40
EXAMPLES = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _liblz4_is_there():
    # Debian systems always have liblz4; without it the in-place LZ4 path is not taken
    # and these tests would compare the general path with itself.
    assert lz4block.AVAILABLE


def photo(w: int, hgt: int, seed: int) -> np.ndarray:
    """Smooth gradients with noise: what JPEG is sent for (random pixels would do, but
    compress poorly enough to trip the bytes-per-pixel guard on small images)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:hgt, 0:w]
    rgb = np.stack([x * 200 // w + seed, y * 200 // hgt, (x + y) * 100 // (w + hgt)],
                   axis=-1)
    rgb = np.clip(rgb + rng.integers(0, 16, rgb.shape), 0, 255)
    return h.words_of(rgb.astype(np.uint8))


def lz4_one_block(words: np.ndarray):
    """An LZ4 image as QEMU sends it: top-down, 32-bit, one block."""
    return h.lz4_image(words, rows_per_block=words.shape[0])


def drawn(messages) -> np.ndarray:
    client = ConsoleClient()
    display = d.DisplayChannel(client)
    for msg_type, payload in [h.surface_create(0, W, H), *messages]:
        display.handle(msg_type, memoryview(payload))
    return client.framebuffer.words.copy()


def both_ways(box, image) -> tuple[np.ndarray, np.ndarray]:
    """The screen after a plain copy of ``image`` over ``box``, and after the same copy
    sent down the general path (one clip rectangle covering the box)."""
    background = h.draw_copy(0, (0, 0, W, H), h.bitmap(photo(W, H, 99)))
    in_place = drawn([background, h.draw_copy(0, box, image)])
    general = drawn([background, h.draw_copy(0, box, image, clip_rects=[box])])
    return in_place, general


BOXES = [(0, 0, W, H),        # the whole screen
         (0, 7, W, 31),       # full-width rows: contiguous, decoded in place
         (5, 3, 45, 29)]      # a piece: not contiguous, decoded then copied


@pytest.mark.parametrize("box", BOXES)
def test_lz4_images_decoded_in_place_are_exactly_the_general_paths(box, monkeypatch):
    calls = []
    real = lz4block.decompress_into
    monkeypatch.setattr(lz4block, "decompress_into",
                        lambda block, out: calls.append(out.shape) or real(block, out))
    words = photo(box[2] - box[0], box[3] - box[1], 3)
    in_place, general = both_ways(box, lz4_one_block(words))
    # liblz4 wrote the screen itself where the piece is contiguous, and only there.
    contiguous = box[0] == 0 and box[2] == W
    assert calls == ([(box[3] - box[1], W)] if contiguous else [])
    assert np.array_equal(in_place, general)
    left, top, right, bottom = box
    assert np.array_equal(in_place[top:bottom, left:right], words | 0xFF000000)


@pytest.mark.parametrize("box", BOXES)
def test_jpeg_images_decoded_in_place_are_exactly_the_general_paths(box):
    words = photo(box[2] - box[0], box[3] - box[1], 4)
    in_place, general = both_ways(box, h.jpeg_image(words, quality=80))
    assert np.array_equal(in_place, general)
    left, top, right, bottom = box
    assert ((in_place[top:bottom, left:right] >> 24) == 0xFF).all()
    # JPEG is lossy: close to the source, not equal to it.
    got = in_place[top:bottom, left:right].view(np.uint8).reshape(bottom - top,
                                                                  right - left, 4)
    want = (words | 0xFF000000).view(np.uint8).reshape(got.shape)
    assert np.abs(got[:, :, :3].astype(int) - want[:, :, :3]).mean() < 8


def test_a_cached_image_is_still_kept_for_later_copies():
    words = photo(W, H, 5)
    first = h.draw_copy(0, (0, 0, W, H), h.lz4_image(words, rows_per_block=H, image_id=9,
                                                      flags=im.CACHE_ME))
    again = h.draw_copy(0, (0, 0, W, H), h.cached(9, W, H))
    blank = h.draw_copy(0, (0, 0, W, H), h.bitmap(np.zeros((H, W), np.uint32)))
    assert np.array_equal(drawn([first, blank, again]), words | 0xFF000000)


def test_a_broken_block_decoded_in_place_is_refused():
    body = bytes([1, im.FMT_32BIT]) + struct.pack(">I", 6) + b"\xf0\x00\x00\x00\x00\x00"

    def image(offset):
        return h.descriptor(im.LZ4, W, H) + struct.pack("<I", len(body)) + body
    with pytest.raises(ProtocolError, match="LZ4"):
        drawn([h.draw_copy(0, (0, 0, W, H), image)])


def test_a_block_that_decodes_short_in_place_is_refused():
    block = lz4.block.compress(bytes(W * H * 4 - 4), store_size=False)
    body = bytes([1, im.FMT_32BIT]) + struct.pack(">I", len(block)) + block

    def image(offset):
        return h.descriptor(im.LZ4, W, H) + struct.pack("<I", len(body)) + body
    with pytest.raises(ProtocolError, match="LZ4"):
        drawn([h.draw_copy(0, (0, 0, W, H), image)])


@EXAMPLES
@given(st.binary(max_size=3000), st.integers(0, 4))
def test_liblz4_gives_what_python_lz4_gives(data, repeat):
    data = data * (repeat + 1)
    block = lz4.block.compress(data, store_size=False)
    out = np.full(len(data) + 64, 0xAB, np.uint8)
    assert lz4block.decompress_into(block, out[:len(data)]) == len(data)
    assert out[:len(data)].tobytes() == lz4.block.decompress(block,
                                                             uncompressed_size=len(data))
    assert (out[len(data):] == 0xAB).all()


@EXAMPLES
@given(st.binary(max_size=400), st.integers(0, 300))
def test_liblz4_never_writes_past_its_buffer(block, room):
    guard = np.full(room + 256, 0x5A, np.uint8)
    written = lz4block.decompress_into(block, guard[:room])
    assert -1 <= written <= room
    assert (guard[room:] == 0x5A).all()


def test_liblz4_refuses_memory_it_cannot_write_straight_into():
    with pytest.raises(ValueError):
        lz4block.decompress_into(b"\x10a", np.zeros((4, 4), np.uint8)[:, :2])


@pytest.mark.parametrize("box", BOXES)
def test_mjpeg_frames_decoded_in_place_are_exactly_the_general_paths(box):
    left, top, right, bottom = box
    frames = [photo(right - left, bottom - top, seed) for seed in (6, 7)]
    background = h.draw_copy(0, (0, 0, W, H), h.bitmap(photo(W, H, 98)))
    create = h.stream_create(1, box, right - left, bottom - top)
    data = [h.stream_data(1, h.jpeg_bytes(f, quality=80)) for f in frames]
    in_place = drawn([background, create, *data])
    # A clip rectangle covering the box sends the same frames down the general path.
    general = drawn([background, create, h.stream_clip(1, [box]), *data])
    assert np.array_equal(in_place, general)
    assert not np.array_equal(in_place, drawn([background]))  # the frames were drawn
    assert ((in_place >> 24) == 0xFF).all()


@EXAMPLES
@given(st.sampled_from(["lz4", "jpeg"]), st.integers(0, 2**32 - 1),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                max_size=6),
       st.integers(0, 40))
def test_broken_images_decoded_in_place_stay_inside_their_rows(kind, seed, flips, cut):
    """Bytes of a full-width image flipped or cut off: refused or drawn, never an other
    error, never a pixel outside the image's rows, and the screen stays opaque."""
    box = (0, 7, W, 31)
    words = photo(W, 24, seed % 1000)
    # The LZ4 block (or the JPEG) is broken, its framing kept: the in-place path takes it.
    head, coded = ((b"", h.jpeg_bytes(words, quality=80)) if kind == "jpeg" else
                   (lambda p: (p[:2], p[6:]))(h.lz4_payload(words, rows_per_block=24)))
    broken = bytearray(coded)
    for where, value in flips:
        broken[where % len(broken)] = value
    broken = broken[:max(1, len(broken) - cut)]
    body = head + (struct.pack(">I", len(broken)) if head else b"") + bytes(broken)
    image_type = im.LZ4 if kind == "lz4" else im.JPEG

    def image(offset):
        return h.descriptor(image_type, W, 24) + struct.pack("<I", len(body)) + bytes(body)
    client = ConsoleClient()
    display = d.DisplayChannel(client)
    display.handle(*_as_view(h.surface_create(0, W, H)))
    before = client.framebuffer.words.copy()
    try:
        display.handle(*_as_view(h.draw_copy(0, box, image)))
    except ProtocolError:
        pass
    after = client.framebuffer.words
    assert np.array_equal(after[:7], before[:7]) and np.array_equal(after[31:], before[31:])
    assert ((after >> 24) == 0xFF).all()


def _as_view(message):
    msg_type, payload = message
    return msg_type, memoryview(payload)
