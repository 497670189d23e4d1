"""Hostile and broken display-channel messages: whatever a server sends, the display
channel either draws it, skips it with a notice, or raises ProtocolError (which ends the
channel) — no other exception, and no allocation beyond a bound (sizes are refused before
anything is allocated). Each example is one message or a short sequence after a valid
primary surface, mutated at random."""
from __future__ import annotations

import struct
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.console.framebuffer import FramebufferError
from connectors.console.spice import display as d
from connectors.console.spice import images as im
from connectors.console.state import ProtocolError
from tests.unit import spice_display_helpers as h
from tests.unit.test_spice_display import Recorder

FUZZ = settings(deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MEMORY_BOUND = 48 << 20
SMALL = dict(cache_pixels=1 << 16, offscreen_pixels=1 << 16, max_primary_pixels=256 * 256)
TYPES = sorted(set(v for k, v in vars(d).items() if k.startswith("MSG_")))


def survive(messages, **bounds) -> None:
    """Feed ``messages`` to a channel with a 64x48 screen; only ProtocolError may come out
    (FramebufferError too: the channel loop turns it into one)."""
    client = Recorder()
    ch = d.DisplayChannel(client, **(bounds or SMALL))
    ch.handle(*h.surface_create(0, 64, 48)[:1], memoryview(h.surface_create(0, 64, 48)[1]))
    tracemalloc.start()
    start = time.process_time()
    try:
        for msg_type, payload in messages:
            try:
                ch.handle(msg_type, memoryview(payload))
            except (ProtocolError, FramebufferError):
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND
    assert time.process_time() - start < 10
    assert client.framebuffer.width * client.framebuffer.height <= 256 * 256


def valid_messages() -> list[tuple[int, bytes]]:
    """One of each kind the channel draws, each valid on a 64x48 screen."""
    img = (np.arange(16 * 12, dtype=np.uint32).reshape(12, 16) * 0x010203) & 0xFFFFFF
    rows8 = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    frame = h.jpeg_bytes(img)
    return [
        h.draw_copy(0, (0, 0, 16, 12), h.bitmap(img, image_id=3, flags=im.CACHE_ME)),
        h.draw_copy(0, (4, 4, 20, 16), h.bitmap(img, top_down=False), clip_rects=[(0, 0, 8, 8)]),
        h.draw_copy(0, (0, 0, 16, 12), h.bitmap(img, fmt=im.FMT_8BIT, rows=rows8,
                                                palette=list(range(256)),
                                                palette_flags=im.PAL_CACHE_ME)),
        h.draw_copy(0, (0, 0, 16, 12), h.lz4_image(img, rows_per_block=4)),
        h.draw_copy(0, (0, 0, 16, 12), h.jpeg_image(img)),
        h.draw_copy(0, (0, 0, 32, 24), h.cached(3, 16, 12), area=(0, 0, 16, 12),
                    scale_mode=d.SCALE_INTERPOLATE),
        h.draw_copy(0, (0, 0, 16, 12), h.bitmap(img),
                    mask=h.bitmap(np.zeros((12, 16)), fmt=im.FMT_1BIT_LE,
                                  rows=np.full((12, 2), 0x5A, np.uint8))),
        h.draw_blend(0, (0, 0, 16, 12), h.surface_image(0, 64, 48), rop=64),
        h.draw_opaque(0, (0, 0, 16, 12), h.bitmap(img), 0x00FF00, rop=16),
        h.draw_fill(0, (0, 0, 64, 48), 0x123456, clip_rects=[(1, 1, 5, 5), (10, 10, 70, 70)]),
        h.draw_fill(0, (0, 0, 20, 20), pattern=h.bitmap(img), pattern_pos=(3, 5)),
        h.copy_bits(0, (0, 0, 64, 40), 0, 8),
        h.surface_create(1, 32, 32, primary=False),
        h.surface_destroy(1),
        h.stream_create(1, (0, 0, 16, 12), 16, 12, clip_rects=[(0, 0, 8, 8)]),
        h.stream_data(1, frame),
        h.stream_data_sized(1, (0, 0, 32, 24), 16, 12, frame),
        h.stream_clip(1, [(0, 0, 64, 48)]),
        h.stream_destroy(1),
        h.inval_list(3, 4),
        (d.MSG_INVAL_PALETTE, struct.pack("<Q", 0)),
        (d.MSG_MARK, b""), (d.MSG_RESET, b""),
    ]


VALID = valid_messages()


def test_every_valid_message_is_drawn_without_error():
    client = Recorder()
    ch = d.DisplayChannel(client, **SMALL)
    ch.handle(*h.surface_create(0, 64, 48)[:1], memoryview(h.surface_create(0, 64, 48)[1]))
    for msg_type, payload in VALID:
        ch.handle(msg_type, memoryview(payload))
    assert client.notices == []
    assert client.frames > 10


@FUZZ
@given(st.sampled_from(TYPES), st.binary(max_size=400))
def test_any_bytes_as_any_message(msg_type, payload):
    survive([(msg_type, payload)])


boundary = st.sampled_from([0, 1, 2, 7, 8, 15, 16, 63, 64, 255, 256, 4096, 8192, 8193,
                            65535, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])


@FUZZ
@given(st.integers(0, len(VALID) - 1), st.data())
def test_valid_messages_with_fields_overwritten(index, data):
    msg_type, payload = VALID[index]
    body = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4))):
        if len(body) < 4:
            break
        pos = data.draw(st.integers(0, len(body) - 4))
        struct.pack_into("<I", body, pos, data.draw(boundary))
    survive([(msg_type, bytes(body))])


@FUZZ
@given(st.integers(0, len(VALID) - 1), st.data())
def test_valid_messages_with_bytes_flipped_or_cut(index, data):
    msg_type, payload = VALID[index]
    body = bytearray(payload)
    for _ in range(data.draw(st.integers(0, 6)) if body else 0):
        pos = data.draw(st.integers(0, len(body) - 1))
        body[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    survive([(msg_type, bytes(body[:cut]))])


@FUZZ
@given(st.lists(st.integers(0, len(VALID) - 1), min_size=1, max_size=12))
def test_valid_messages_in_any_order(indexes):
    survive([VALID[i] for i in indexes])


@pytest.mark.parametrize("message", [
    h.surface_create(0, 65535, 65535),
    h.surface_create(0, 8192, 8192),          # allowed by the framebuffer, not by this channel
    h.stream_create(1, (0, 0, 16, 16), 65535, 65535),
    h.draw_copy(0, (0, 0, 4, 4), h.raw_image(im.LZ4, 8192, 8192,
                                             bytes([1, 8]) + struct.pack(">I", 4) + b"\0" * 4)),
    h.draw_copy(0, (0, 0, 4, 4), h.raw_image(im.JPEG, 8192, 8192, h.jpeg_bytes(
        np.zeros((8, 8), np.uint32)))),
    h.draw_copy(0, (0, 0, 4, 4), lambda off: h.descriptor(im.BITMAP, 8192, 8192)
                + struct.pack("<BBIIII", im.FMT_32BIT, 4, 8192, 8192, 32768, 0)),
    (d.MSG_DRAW_FILL, h.base(0, (0, 0, 4, 4)) + struct.pack("<BI", 1, 0xFFFFFFFF)),
    (d.MSG_INVAL_LIST, struct.pack("<H", 65535)),
])
def test_huge_sizes_are_refused_before_allocating(message):
    client = Recorder()
    ch = d.DisplayChannel(client, **SMALL)
    ch.handle(*h.surface_create(0, 64, 48)[:1], memoryview(h.surface_create(0, 64, 48)[1]))
    tracemalloc.start()
    try:
        with pytest.raises((ProtocolError, FramebufferError)):
            ch.handle(message[0], memoryview(message[1]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND


def test_an_off_screen_surface_over_the_budget_is_not_allocated():
    client = Recorder()
    ch = d.DisplayChannel(client, **SMALL)
    tracemalloc.start()
    try:
        ch.handle(*h.surface_create(9, 8192, 8192, primary=False)[:1],
                  memoryview(h.surface_create(9, 8192, 8192, primary=False)[1]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND
    assert ch.dropped == {9} and len(client.notices) == 1
