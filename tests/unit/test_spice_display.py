"""The SPICE display channel against messages built as spice-server marshals them
(tests/unit/spice_display_helpers.py): the framebuffer's pixels after each command."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from connectors.console import imagecodec
from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import Rect
from connectors.console.spice import display as d
from connectors.console.spice import images as im
from connectors.console.spice import wire
from connectors.console.state import ProtocolError
from tests.unit import spice_display_helpers as h

W, H = 64, 48


class Recorder(ConsoleClient):
    """The real protocol-neutral client state, remembering what the channel told it."""

    def __init__(self) -> None:
        super().__init__()
        self.notices: list[str] = []
        self.resizes: list[tuple[int, int]] = []
        self.updates = 0
        self.on_notice = self.notices.append
        self.on_resize = lambda w, h_: self.resizes.append((w, h_))
        self.on_update = self._updated

    def _updated(self) -> None:
        self.updates += 1


def channel(**kw) -> tuple[d.DisplayChannel, Recorder]:
    client = Recorder()
    ch = d.DisplayChannel(client, 0, **kw)
    send(ch, h.surface_create(0, W, H))
    assert client.frames == 1 and client.updates == 1  # the new black screen
    client.framebuffer.take_damage()
    client.frames = client.updates = 0
    return ch, client


def send(ch: d.DisplayChannel, message) -> list:
    msg_type, payload = message
    return ch.handle(msg_type, memoryview(payload))


def screen(client: Recorder) -> np.ndarray:
    """The framebuffer as 0x00RRGGBB words (alpha checked and dropped)."""
    words = client.framebuffer.words
    assert (words >> 24 == 0xFF).all(), "every pixel stays opaque"
    return words & 0xFFFFFF


def pattern(w: int, h_: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1 << 24, (h_, w), dtype=np.uint32)


# ---- the handshake side ----

def test_capabilities_announce_what_is_decoded_in_c_and_nothing_slow():
    ch, _ = channel()
    common, caps = ch.capabilities()
    assert common == []
    for bit in (d.CAP_SIZED_STREAM, d.CAP_LZ4_COMPRESSION, d.CAP_PREF_COMPRESSION,
                d.CAP_MULTI_CODEC, d.CAP_CODEC_MJPEG):
        assert wire.has_cap(caps, bit)
    for bit in (d.CAP_COMPOSITE, d.CAP_A8_SURFACE, d.CAP_GL_SCANOUT, d.CAP_STREAM_REPORT,
                d.CAP_MONITORS_CONFIG, 10, 11, 13, 14):  # no VP8/H.264/VP9/H.265
        assert not wire.has_cap(caps, bit)
    assert ch.channel_type == wire.CHANNEL_DISPLAY
    assert ch.max_message_size >= 1920 * 1080 * 4


def test_first_messages_are_init_with_our_cache_size_and_lz4_preferred():
    ch, _ = channel(cache_pixels=1234567)
    (init_type, init), (pref_type, pref) = ch.initial_messages()
    assert init_type == d.MSGC_INIT and len(init) == 14
    cache_id, cache_size, glz_id, glz_window = struct.unpack("<BqBi", init)
    assert (cache_id, cache_size, glz_window) == (1, 1234567, 0)
    assert pref_type == d.MSGC_PREFERRED_COMPRESSION and pref == bytes([7])


# ---- surfaces ----

def test_primary_surface_sizes_the_framebuffer_black_and_tells_the_client():
    ch, client = channel()
    assert client.resizes == [(W, H)]
    assert client.framebuffer.width == W and client.framebuffer.height == H
    assert (screen(client) == 0).all()
    send(ch, h.surface_destroy(0))
    send(ch, h.surface_create(0, 100, 30))
    assert client.resizes[-1] == (100, 30) and client.framebuffer.words.shape == (30, 100)


def test_a_huge_primary_surface_is_refused_before_allocating():
    client = Recorder()
    ch = d.DisplayChannel(client)
    with pytest.raises(ProtocolError):
        send(ch, h.surface_create(0, 65535, 65535))
    assert client.framebuffer.width == 1


def test_drawing_on_a_surface_that_does_not_exist_is_a_protocol_error():
    ch, _ = channel()
    with pytest.raises(ProtocolError, match="surface 7"):
        send(ch, h.draw_fill(7, (0, 0, 4, 4), 0xFF0000))


# ---- bitmaps ----

@pytest.mark.parametrize("top_down", [True, False])
@pytest.mark.parametrize("stride_pad", [0, 12])
def test_copy_of_a_32_bit_bitmap(top_down, stride_pad):
    ch, client = channel()
    img = pattern(20, 10)
    send(ch, h.draw_copy(0, (5, 7, 25, 17), h.bitmap(img, top_down=top_down,
                                                      stride_pad=stride_pad)))
    out = screen(client)
    assert (out[7:17, 5:25] == img).all()
    assert (out[:7] == 0).all() and (out[17:] == 0).all()
    assert client.framebuffer.take_damage() == [Rect(5, 7, 20, 10)]
    assert client.frames == 1 and client.updates == 1


def test_copy_of_part_of_an_image_onto_a_clipped_box():
    ch, client = channel()
    img = pattern(30, 20)
    send(ch, h.draw_copy(0, (0, 0, 10, 10), h.bitmap(img), area=(5, 3, 15, 13),
                         clip_rects=[(0, 0, 4, 10), (6, 6, 10, 8)]))
    out = screen(client)
    expect = np.zeros((10, 10), np.uint32)
    expect[:, :4] = img[3:13, 5:9]
    expect[6:8, 6:10] = img[9:11, 11:15]
    assert (out[:10, :10] == expect).all()


def test_24_and_16_bit_bitmaps():
    ch, client = channel()
    img = pattern(8, 4)
    bgr = np.stack([img & 0xFF, (img >> 8) & 0xFF, img >> 16], -1).astype(np.uint8)
    send(ch, h.draw_copy(0, (0, 0, 8, 4), h.bitmap(img, fmt=im.FMT_24BIT,
                                                    rows=bgr.reshape(4, 24))))
    assert (screen(client)[:4, :8] == img).all()
    # 16-bit x1r5g5b5: pure 5-bit levels expand to full 8-bit ones
    r, g, b = 31, 0, 16
    v = np.full((2, 3), (r << 10) | (g << 5) | b, "<u2")
    send(ch, h.draw_copy(0, (10, 10, 13, 12), h.bitmap(np.zeros((2, 3), np.uint32),
                                                        fmt=im.FMT_16BIT,
                                                        rows=v.view(np.uint8).reshape(2, 6))))
    assert (screen(client)[10:12, 10:13] == 0xFF0084).all()


@pytest.mark.parametrize("fmt, bits", [(im.FMT_1BIT_LE, 1), (im.FMT_1BIT_BE, 1),
                                       (im.FMT_4BIT_LE, 4), (im.FMT_4BIT_BE, 4),
                                       (im.FMT_8BIT, 8)])
def test_palette_bitmaps(fmt, bits):
    ch, client = channel()
    w, h_ = 13, 5
    rng = np.random.default_rng(3)
    index = rng.integers(0, 1 << bits, (h_, w))
    palette = [int(x) for x in rng.integers(0, 1 << 24, 1 << bits)]
    row_bytes = (w * bits + 7) // 8
    rows = np.zeros((h_, row_bytes), np.uint8)
    per_byte = 8 // bits
    for y in range(h_):
        for x in range(w):
            byte, slot = divmod(x, per_byte)
            little = fmt in (im.FMT_1BIT_LE, im.FMT_4BIT_LE)
            shift = slot * bits if little else 8 - bits - slot * bits
            rows[y, byte] |= index[y, x] << shift
    send(ch, h.draw_copy(0, (1, 2, 1 + w, 2 + h_), h.bitmap(np.zeros((h_, w)), fmt=fmt,
                                                            rows=rows, palette=palette)))
    assert (screen(client)[2:2 + h_, 1:1 + w] == np.array(palette, np.uint32)[index]).all()


def test_a_cached_palette_is_used_again_and_forgotten_when_invalidated():
    ch, client = channel()
    rows = np.array([[0, 1, 2]], np.uint8)
    send(ch, h.draw_copy(0, (0, 0, 3, 1), h.bitmap(np.zeros((1, 3)), fmt=im.FMT_8BIT,
                                                    rows=rows, palette=[0x10, 0x20, 0x30],
                                                    palette_flags=im.PAL_CACHE_ME,
                                                    palette_unique=99)))
    send(ch, h.draw_copy(0, (0, 1, 3, 2), h.bitmap(np.zeros((1, 3)), fmt=im.FMT_8BIT,
                                                    rows=rows[:, ::-1].copy(), palette_id=99)))
    assert screen(client)[1, :3].tolist() == [0x30, 0x20, 0x10]
    send(ch, (d.MSG_INVAL_PALETTE, struct.pack("<Q", 99)))
    send(ch, h.draw_copy(0, (0, 2, 3, 3), h.bitmap(np.zeros((1, 3)), fmt=im.FMT_8BIT,
                                                    rows=rows, palette_id=99)))
    assert client.notices and "palette" in client.notices[0]
    assert (screen(client)[2, :3] == 0).all()


def test_a_bitmap_longer_than_its_message_is_a_protocol_error():
    ch, _ = channel()
    msg_type, payload = h.draw_copy(0, (0, 0, 20, 10), h.bitmap(pattern(20, 10)))
    with pytest.raises(ProtocolError):
        ch.handle(msg_type, memoryview(payload[:-1]))


# ---- LZ4 and JPEG ----

@pytest.mark.parametrize("top_down", [True, False])
def test_lz4_image_whose_blocks_refer_to_earlier_blocks(top_down):
    ch, client = channel()
    # Rows repeat every 4 rows, blocks are 3 rows: later blocks match into earlier ones.
    img = np.tile(pattern(40, 4), (10, 1))
    send(ch, h.draw_copy(0, (2, 3, 42, 43), h.lz4_image(img, top_down=top_down,
                                                         rows_per_block=3)))
    assert (screen(client)[3:43, 2:42] == img).all()


def test_lz4_image_that_promises_more_pixels_than_it_can_hold_is_refused():
    ch, _ = channel()
    body = bytes([1, im.FMT_32BIT]) + struct.pack(">I", 4) + b"\0" * 4
    image = lambda offset: (h.descriptor(im.LZ4, 8000, 8000)  # noqa: E731
                            + struct.pack("<I", len(body)) + body)
    with pytest.raises(ProtocolError, match="cannot hold"):
        send(ch, h.draw_copy(0, (0, 0, 4, 4), image, area=(0, 0, 4, 4)))


def test_jpeg_image_is_drawn_close_to_the_original():
    ch, client = channel()
    img = np.zeros((32, 48), np.uint32)
    img[:, :24] = 0xC02010
    img[:, 24:] = 0x30A0F0
    send(ch, h.draw_copy(0, (8, 8, 56, 40), h.jpeg_image(img, quality=95)))
    out = screen(client)[8:40, 8:56]
    diff = np.abs(out.view(np.uint8).reshape(32, 48, 4)[:, :, :3].astype(int)
                  - img.view(np.uint8).reshape(32, 48, 4)[:, :, :3].astype(int))
    assert diff[:, 2:22].max() < 12 and diff[:, 26:46].max() < 12


# ---- the image cache ----

def test_cached_images_are_drawn_again_until_invalidated():
    ch, client = channel()
    img = pattern(6, 6)
    send(ch, h.draw_copy(0, (0, 0, 6, 6), h.lz4_image(img, image_id=77, flags=im.CACHE_ME)))
    send(ch, h.draw_copy(0, (10, 10, 16, 16), h.cached(77, 6, 6)))
    assert (screen(client)[10:16, 10:16] == img).all()
    assert ch.images.cache.pixels == 36
    send(ch, h.inval_list(77))
    assert ch.images.cache.pixels == 0
    send(ch, h.draw_copy(0, (20, 20, 26, 26), h.cached(77, 6, 6)))
    assert (screen(client)[20:26, 20:26] == 0).all()
    assert len(client.notices) == 1 and "no longer keeps" in client.notices[0]


def test_the_cache_never_holds_more_pixels_than_announced():
    ch, client = channel(cache_pixels=100)
    for n in range(5):
        send(ch, h.draw_copy(0, (0, 0, 6, 6), h.bitmap(pattern(6, 6, n), image_id=n,
                                                        flags=im.CACHE_ME)))
    assert ch.images.cache.pixels <= 100 and len(ch.images.cache) == 2
    send(ch, h.draw_copy(0, (0, 0, 6, 6), h.cached(4, 6, 6)))
    assert (screen(client)[:6, :6] == pattern(6, 6, 4)).all()
    send(ch, (d.MSG_INVAL_ALL_PIXMAPS, b"\0"))
    assert ch.images.cache.pixels == 0


# ---- fills, rops, masks, scrolling, scaling ----

def test_fill_with_clip_rectangles():
    ch, client = channel()
    send(ch, h.draw_fill(0, (0, 0, 20, 20), 0x123456, clip_rects=[(2, 2, 5, 5), (10, 0, 30, 1)]))
    out = screen(client)
    assert (out[2:5, 2:5] == 0x123456).all() and (out[0, 10:20] == 0x123456).all()
    assert out.astype(bool).sum() == 9 + 10
    assert client.framebuffer.take_damage() != []


def test_rops_xor_invert_blackness_whiteness():
    ch, client = channel()
    send(ch, h.draw_fill(0, (0, 0, 8, 8), 0x00FF00))
    send(ch, h.draw_fill(0, (0, 0, 4, 8), 0xFFFFFF, rop=64))           # OP_XOR
    assert screen(client)[0, 0] == 0xFF00FF and screen(client)[0, 5] == 0x00FF00
    send(ch, h.draw_fill(0, (0, 0, 8, 1), 0x0000FF, rop=16 | 1024))   # OR, then inverted
    assert screen(client)[0, 5] == (~0x00FFFF) & 0xFFFFFF
    send(ch, h.draw_fill(0, (0, 0, 8, 8), 0x0F0F0F, rop=32 | 2))      # AND with ~brush
    assert screen(client)[4, 5] == 0x00F000
    whiteness = (d.MSG_DRAW_WHITENESS, h.base(0, (1, 1, 3, 3)) + b"".join(
        x for x in h.mask_fields(None)))
    send(ch, whiteness)
    assert (screen(client)[1:3, 1:3] == 0xFFFFFF).all()
    send(ch, (d.MSG_DRAW_INVERS, h.base(0, (1, 1, 2, 2)) + b"".join(h.mask_fields(None))))
    send(ch, (d.MSG_DRAW_BLACKNESS, h.base(0, (2, 2, 3, 3)) + b"".join(h.mask_fields(None))))
    assert screen(client)[1, 1] == 0 and screen(client)[2, 2] == 0


def test_blend_combines_and_copy_ignores_the_rop():
    ch, client = channel()
    send(ch, h.draw_fill(0, (0, 0, 8, 8), 0xF0F0F0))
    img = np.full((2, 2), 0x0F0F00, np.uint32)
    send(ch, h.draw_blend(0, (0, 0, 2, 2), h.bitmap(img), rop=16))     # OR
    assert (screen(client)[:2, :2] == 0xFFFFF0).all()
    send(ch, h.draw_copy(0, (4, 4, 6, 6), h.bitmap(img), rop=16))      # still a plain put
    assert (screen(client)[4:6, 4:6] == 0x0F0F00).all()


def test_opaque_puts_the_image_then_combines_the_brush():
    ch, client = channel()
    img = np.full((2, 2), 0x00FF0F, np.uint32)
    send(ch, h.draw_opaque(0, (0, 0, 2, 2), h.bitmap(img), 0xFF0000, rop=16))  # brush OR image
    assert (screen(client)[:2, :2] == 0xFFFF0F).all()


def test_pattern_brush_is_tiled_from_its_origin():
    ch, client = channel()
    tile = np.array([[1, 2], [3, 4]], np.uint32)
    send(ch, h.draw_fill(0, (0, 0, 4, 4), pattern=h.bitmap(tile), pattern_pos=(1, 0)))
    assert screen(client)[:2, :4].tolist() == [[2, 1, 2, 1], [4, 3, 4, 3]]


def test_a_one_bit_mask_limits_a_copy():
    ch, client = channel()
    img = np.full((4, 8), 0xABCDEF, np.uint32)
    bits = np.zeros((4, 1), np.uint8)
    bits[:, 0] = 0b11110000  # left half set (big-endian bit order)
    mask = h.bitmap(np.zeros((4, 8)), fmt=im.FMT_1BIT_BE, rows=bits)
    send(ch, h.draw_copy(0, (0, 0, 8, 4), h.bitmap(img), mask=mask))
    out = screen(client)
    assert (out[:4, :4] == 0xABCDEF).all() and (out[:4, 4:8] == 0).all()
    send(ch, h.draw_copy(0, (0, 10, 8, 14), h.bitmap(img), mask=mask, mask_invert=True))
    assert (out[10:14, :4] == 0).all() and (screen(client)[10:14, 4:8] == 0xABCDEF).all()


def test_copy_bits_scrolls_with_overlap():
    ch, client = channel()
    img = pattern(W, H)
    send(ch, h.draw_copy(0, (0, 0, W, H), h.bitmap(img)))
    send(ch, h.copy_bits(0, (0, 0, W, H - 10), 0, 10))   # scroll up by 10 lines
    assert (screen(client)[:H - 10] == img[10:]).all()
    send(ch, h.copy_bits(0, (5, 0, W, H), 0, 0))          # right by 5, overlapping
    assert (screen(client)[:H - 10, 5:] == img[10:, :W - 5]).all()
    with pytest.raises(ProtocolError):
        send(ch, h.copy_bits(0, (0, 0, 10, 10), W - 5, 0))


@pytest.mark.parametrize("mode", [d.SCALE_NEAREST, d.SCALE_INTERPOLATE])
def test_scaled_copy(mode):
    ch, client = channel()
    img = np.array([[0x100000, 0x200000], [0x300000, 0x400000]], np.uint32)
    send(ch, h.draw_copy(0, (0, 0, 4, 4), h.bitmap(img), area=(0, 0, 2, 2), scale_mode=mode))
    out = screen(client)[:4, :4]
    if mode == d.SCALE_NEAREST:
        assert out.tolist() == np.kron(img, np.ones((2, 2), np.uint32)).tolist()
    else:
        assert out[0, 0] >> 16 <= 0x20 and out[3, 3] >> 16 >= 0x30


def test_a_box_outside_the_surface_or_an_area_outside_the_image_is_refused():
    ch, _ = channel()
    with pytest.raises(ProtocolError):
        send(ch, h.draw_fill(0, (0, 0, W + 1, 4), 0))
    with pytest.raises(ProtocolError):
        send(ch, h.draw_copy(0, (0, 0, 4, 4), h.bitmap(pattern(4, 4)), area=(1, 0, 5, 4)))


# ---- off-screen surfaces ----

def test_off_screen_surface_drawn_then_copied_to_the_screen():
    ch, client = channel()
    send(ch, h.surface_create(5, 16, 16, primary=False))
    img = pattern(16, 16)
    send(ch, h.draw_copy(5, (0, 0, 16, 16), h.bitmap(img)))
    assert client.frames == 0 and client.framebuffer.take_damage() == []
    send(ch, h.draw_copy(0, (10, 10, 18, 18), h.surface_image(5, 16, 16), area=(4, 4, 12, 12)))
    assert (screen(client)[10:18, 10:18] == img[4:12, 4:12]).all()
    send(ch, h.surface_destroy(5))
    with pytest.raises(ProtocolError):
        send(ch, h.draw_fill(5, (0, 0, 1, 1), 0))


def test_off_screen_surfaces_beyond_the_budget_are_skipped_with_a_notice():
    ch, client = channel(offscreen_pixels=300)
    send(ch, h.surface_create(1, 16, 16, primary=False))
    send(ch, h.surface_create(2, 16, 16, primary=False))
    assert 2 in ch.dropped and len(client.notices) == 1
    send(ch, h.draw_fill(2, (0, 0, 4, 4), 0xFF))  # skipped, no error
    send(ch, h.draw_copy(0, (0, 0, 4, 4), h.surface_image(2, 16, 16)))
    assert (screen(client)[:4, :4] == 0).all()
    assert len(client.notices) == 2


def test_the_screen_copied_onto_itself_overlapping():
    ch, client = channel()
    img = pattern(W, H)
    send(ch, h.draw_copy(0, (0, 0, W, H), h.bitmap(img)))
    send(ch, h.draw_copy(0, (2, 0, 12, 10), h.surface_image(0, W, H), area=(0, 0, 10, 10)))
    assert (screen(client)[:10, 2:12] == img[:10, :10]).all()


# ---- what is not decoded ----

@pytest.mark.parametrize("kind", [im.QUIC, im.LZ_RGB, im.GLZ_RGB, im.ZLIB_GLZ_RGB])
def test_images_not_decoded_are_skipped_with_one_notice(kind):
    ch, client = channel()
    for _ in range(3):
        send(ch, h.draw_copy(0, (0, 0, 4, 4), h.raw_image(kind, 4, 4)))
    assert len(client.notices) == 1 and im.TYPE_NAMES[kind] in client.notices[0]
    assert client.frames == 0 and (screen(client) == 0).all()


def test_commands_not_drawn_are_named_once():
    ch, client = channel()
    for _ in range(2):
        send(ch, (d.MSG_DRAW_STROKE, h.base(0, (0, 0, 4, 4)) + b"\0" * 40))
    assert len(client.notices) == 1 and "lines" in client.notices[0]
    assert send(ch, (999, b"")) == [] and len(client.notices) == 1


# ---- video streams ----

def _frame_words(w, h_, seed=0):
    img = np.zeros((h_, w), np.uint32)
    img[: h_ // 2] = 0xE02020
    img[h_ // 2:] = 0x2020E0 if seed == 0 else 0x20E020
    return img


def _close(a: np.ndarray, b: np.ndarray, tolerance: int = 16) -> bool:
    av = a.view(np.uint8).reshape(a.shape + (4,))[..., :3].astype(int)
    bv = b.view(np.uint8).reshape(b.shape + (4,))[..., :3].astype(int)
    return int(np.abs(av - bv).max()) < tolerance


@pytest.mark.parametrize("top_down", [True, False])
def test_mjpeg_stream_frames(top_down):
    ch, client = channel()
    send(ch, h.stream_create(3, (8, 8, 40, 40), 32, 32, top_down=top_down))
    frame = _frame_words(32, 32)
    stored = frame if top_down else frame[::-1]
    send(ch, h.stream_data(3, h.jpeg_bytes(stored, 95)))
    out = screen(client)
    assert _close(out[10:22, 8:40], frame[2:14]) and _close(out[26:38, 8:40], frame[18:30])
    assert client.frames == 1
    send(ch, h.stream_destroy(3))
    with pytest.raises(ProtocolError):
        send(ch, h.stream_data(3, h.jpeg_bytes(frame)))


def test_stream_clip_and_sized_frames():
    ch, client = channel()
    send(ch, h.stream_create(1, (0, 0, 32, 32), 32, 32))
    send(ch, h.stream_clip(1, [(0, 0, 16, 32)]))
    send(ch, h.stream_data(1, h.jpeg_bytes(_frame_words(32, 32), 95)))
    out = screen(client)
    assert (out[:, 16:32] == 0).all()
    assert _close(out[2:14, :14], np.full((12, 14), 0xE02020, np.uint32))
    send(ch, h.stream_clip(1, None))
    frame = _frame_words(16, 16, seed=1)
    send(ch, h.stream_data_sized(1, (32, 16, 64, 48), 16, 16, h.jpeg_bytes(frame, 95)))
    assert _close(screen(client)[20:28, 34:62], np.full((8, 28), 0xE02020, np.uint32))


def test_streams_in_other_codecs_are_named_and_their_frames_skipped():
    ch, client = channel()
    send(ch, h.stream_create(2, (0, 0, 16, 16), 16, 16, codec=3))
    send(ch, h.stream_data(2, b"\0\0\0\1h264"))
    assert "H.264" in client.notices[0] and (screen(client) == 0).all()


def test_a_frame_that_is_not_a_jpeg_is_a_protocol_error():
    ch, _ = channel()
    send(ch, h.stream_create(1, (0, 0, 16, 16), 16, 16))
    with pytest.raises(ProtocolError):
        send(ch, h.stream_data(1, b"not a jpeg"))


def test_reset_forgets_streams_and_caches():
    ch, _ = channel()
    send(ch, h.draw_copy(0, (0, 0, 2, 2), h.bitmap(pattern(2, 2), image_id=5,
                                                    flags=im.CACHE_ME)))
    send(ch, h.stream_create(1, (0, 0, 16, 16), 16, 16))
    send(ch, (d.MSG_MARK, b""))
    assert ch.marked
    send(ch, (d.MSG_RESET, b""))
    assert not ch.video.streams and ch.images.cache.pixels == 0 and not ch.marked


def test_a_second_primary_surface_replaces_the_first():
    ch, client = channel()
    send(ch, h.surface_create(1, 32, 16))
    assert client.resizes[-1] == (32, 16) and list(ch.surfaces) == [1]
    with pytest.raises(ProtocolError):
        send(ch, h.draw_fill(0, (0, 0, 40, 20), 0xFF))
    send(ch, h.draw_fill(1, (0, 0, 32, 16), 0xFF))
    assert (screen(client) == 0xFF).all()


def test_an_empty_source_area_stretched_over_a_box_is_refused():
    ch, _ = channel()
    with pytest.raises(ProtocolError, match="empty source"):
        send(ch, h.draw_copy(0, (0, 0, 4, 4), h.bitmap(pattern(4, 4)), area=(2, 0, 2, 4)))


# ---- what QEMU really sends ----

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> list[tuple[int, bytes]]:
    """A display channel's messages as QEMU 7.2's SPICE server sent them to this channel
    (type u16, size u32, payload; gzipped), recorded from the busybox test guest with QXL
    video (and, for the MJPEG one, <streaming mode='all'/> with `yes` flooding its console,
    typed with virsh send-key); the .screenshot.png beside it is `virsh screenshot` right
    after."""
    data = gzip.decompress((DATA / f"{name}.msgs.gz").read_bytes())
    messages, pos = [], 0
    while pos < len(data):
        msg_type, size = struct.unpack_from("<HI", data, pos)
        messages.append((msg_type, data[pos + 6:pos + 6 + size]))
        pos += 6 + size
    return messages


@pytest.mark.parametrize("name, differing", [
    ("spice_display_qxl_vesa_1024x768", 0),   # a 32-bit VESA framebuffer console
    ("spice_display_qxl_text_mjpeg", 18),     # VGA text mode; the text cursor blinked
    # Over virDomainOpenGraphicsFD's Unix socket the server compresses nothing: bitmaps.
    ("spice_display_qxl_unix_bitmaps", 16),
])
def test_a_recorded_qemu_session_draws_what_virsh_screenshot_saw(name, differing):
    from PIL import Image
    client = Recorder()
    ch = d.DisplayChannel(client)
    messages = recorded(name)
    for message in messages:
        send(ch, message)
    assert client.notices == []
    shot = np.asarray(Image.open(DATA / f"{name}.screenshot.png").convert("RGB"))
    assert client.framebuffer.rgb().shape == shot.shape
    changed = np.abs(client.framebuffer.rgb().astype(int) - shot).max(-1) > 0
    assert changed.sum() == differing
    if differing:  # only the text cursor's cell (9x2 pixels) differs
        ys, xs = np.nonzero(changed)
        assert ys.max() - ys.min() < 2 and xs.max() - xs.min() < 9
    kinds = {t for t, _ in messages}
    if "mjpeg" in name:
        assert {d.MSG_STREAM_CREATE, d.MSG_STREAM_DATA, d.MSG_STREAM_CLIP} <= kinds
    image_types = {p[struct.unpack_from("<I", p, 21)[0] + 8] for t, p in messages
                   if t == d.MSG_DRAW_COPY and p[20] == 0}
    assert image_types == ({im.BITMAP, im.LZ4} if "unix" in name else {im.LZ4})


def test_transparent_copy_skips_the_transparent_colour():
    ch, client = channel()
    send(ch, h.draw_fill(0, (0, 0, 4, 1), 0x111111))
    img = np.array([[0x00FF00, 0xABCDEF, 0x00FF00, 0x123456]], np.uint32)
    fixed = [h.base(0, (0, 0, 4, 1)), 0, h.rect(0, 0, 4, 1), struct.pack("<II", 0x00FF00, 0)]
    send(ch, (d.MSG_DRAW_TRANSPARENT, h.with_images(fixed, [h.bitmap(img)])))
    assert screen(client)[0, :4].tolist() == [0x111111, 0xABCDEF, 0x111111, 0x123456]


@pytest.mark.parametrize("flags, src, expect", [
    (0, 0x00FF0000, 0x7F0080),                    # half of red over blue
    (d.ALPHA_SRC_HAS_ALPHA, 0x00000000, 0x0000FF),  # a transparent (premultiplied) pixel
    (d.ALPHA_SRC_HAS_ALPHA, 0xFFFF0000, 0x7F0080),
])
def test_alpha_blend(flags, src, expect):
    ch, client = channel()
    send(ch, h.draw_fill(0, (0, 0, 2, 2), 0x0000FF))
    img = np.full((2, 2), src, np.uint32)
    fixed = [h.base(0, (0, 0, 2, 2)), struct.pack("<BB", flags, 128), 0, h.rect(0, 0, 2, 2)]
    send(ch, (d.MSG_DRAW_ALPHA_BLEND, h.with_images(fixed, [h.bitmap(img, fmt=im.FMT_RGBA)])))
    out = screen(client)[:2, :2]
    got = out.view(np.uint8).reshape(2, 2, 4)[..., :3].astype(int)
    want = np.array([expect & 0xFF, (expect >> 8) & 0xFF, expect >> 16])
    assert np.abs(got - want).max() <= 1


@pytest.mark.parametrize("turbo", [True, False])
def test_jpeg_through_libjpeg_turbo_or_pillow(turbo, monkeypatch):
    if not turbo:
        monkeypatch.setattr(imagecodec, "SIMPLEJPEG", None)
    else:
        assert imagecodec.SIMPLEJPEG is not None, "simplejpeg is a dependency"
    img = np.zeros((16, 32), np.uint32)
    img[:, 16:] = 0x30A0F0
    words = im.decode_jpeg(memoryview(h.jpeg_bytes(img, 95)), 32, 16)
    assert words.shape == (16, 32)
    assert _close(words[:, 2:14], img[:, 2:14]) and _close(words[:, 18:30], img[:, 18:30])
    with pytest.raises(ProtocolError, match="32x16 JPEG image does not fill its 16x16"):
        im.decode_jpeg(memoryview(h.jpeg_bytes(img)), 16, 16)
    with pytest.raises(ProtocolError):
        im.decode_jpeg(memoryview(b"\xff\xd8\xff not really"), 32, 16)
