"""Each RFB encoding decoded from byte strings written out by hand from the protocol
document, checked pixel by pixel. (zlib and JPEG/PNG payloads come from zlib and Pillow:
real encoders; the structure around them is built here byte by byte.)"""
from __future__ import annotations

import asyncio
import io
import struct
import zlib

import numpy as np
import pytest

from connectors.console.rfb import messages as m
from connectors.console.state import ProtocolError
from tests.unit.rfb_helpers import bgrx, compact, handshake_38, rect, run_client, update

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def decode(*messages: bytes, width: int = 64, height: int = 48, **kwargs):
    client = asyncio.run(run_client(handshake_38(width, height) + b"".join(messages), **kwargs))
    return client


def px(client, x, y):
    return tuple(int(v) for v in client.framebuffer.rgb()[y, x])


def test_raw_places_each_pixel_and_marks_damage():
    body = bgrx(*RED) + bgrx(*GREEN) + bgrx(*BLUE) + bgrx(*WHITE)
    client = decode(update(rect(10, 5, 2, 2, m.ENC_RAW, body)))
    assert [px(client, 10, 5), px(client, 11, 5), px(client, 10, 6), px(client, 11, 6)] == \
        [RED, GREEN, BLUE, WHITE]
    assert px(client, 9, 5) == BLACK
    assert client.frames == 1
    assert (client.framebuffer.pixels[:, :, 3] == 255).all()  # stays opaque for Qt


def test_copyrect_copies_from_the_source_position():
    body = bgrx(*RED) * 4
    client = decode(update(rect(0, 0, 2, 2, m.ENC_RAW, body)),
                    update(rect(20, 10, 2, 2, m.ENC_COPYRECT, struct.pack(">HH", 0, 0))))
    assert px(client, 21, 11) == RED and px(client, 22, 12) == BLACK


def test_hextile_background_foreground_subrects_and_carry_over():
    # A 32x16 rectangle: two tiles. Tile 1: background blue, foreground red, two
    # subrects (one at 1,2 size 3x4; one at 15,15 size 1x1). Tile 2: no colours given:
    # background blue carries over; one coloured subrect (green at 0,0 size 16x1).
    tile1 = (bytes([m_bits := 2 | 4 | 8]) + bgrx(*BLUE) + bgrx(*RED) + bytes([2])
             + bytes([(1 << 4) | 2, ((3 - 1) << 4) | (4 - 1)]) + bytes([0xFF, 0x00]))
    tile2 = (bytes([8 | 16, 1]) + bgrx(*GREEN) + bytes([0x00, (15 << 4) | 0]))
    client = decode(update(rect(0, 0, 32, 16, m.ENC_HEXTILE, tile1 + tile2)))
    assert m_bits == 14
    assert px(client, 0, 0) == BLUE
    assert px(client, 1, 2) == RED and px(client, 3, 5) == RED and px(client, 4, 5) == BLUE
    assert px(client, 15, 15) == RED
    assert px(client, 16, 0) == GREEN and px(client, 31, 0) == GREEN
    assert px(client, 16, 1) == BLUE


def test_hextile_raw_tile_and_partial_edge_tiles():
    # 18x1: a raw 16x1 tile, then a 2x1 edge tile filled with a background.
    raw_tile = bytes([1]) + bgrx(*WHITE) * 16
    edge = bytes([2]) + bgrx(*GREEN)
    client = decode(update(rect(0, 0, 18, 1, m.ENC_HEXTILE, raw_tile + edge)))
    assert px(client, 15, 0) == WHITE and px(client, 16, 0) == GREEN and px(client, 17, 0) == GREEN


def test_hextile_subrect_outside_its_tile_is_an_error():
    tile = bytes([2 | 8, ]) + bgrx(*BLUE) + bytes([1, 0xF0, 0x00])  # x=15, w=1 in a 4-wide tile
    with pytest.raises(ProtocolError):
        decode(update(rect(0, 0, 4, 4, m.ENC_HEXTILE, tile)))


def cpixel(r, g, b):
    return bytes([b, g, r])  # the three low bytes of the little-endian pixel


def zrle(*tiles: bytes, stream=None) -> bytes:
    stream = stream or zlib.compressobj()
    data = stream.compress(b"".join(tiles)) + stream.flush(zlib.Z_SYNC_FLUSH)
    return struct.pack(">I", len(data)) + data


def test_zrle_solid_raw_and_packed_palette_tiles():
    # 70x2 -> two tiles (64x2 and 6x2). Tile 1 solid red; tile 2 a two-colour palette
    # with 1 bit per pixel, each row padded to a byte: row 0 = 101010, row 1 = 010101.
    tile1 = bytes([1]) + cpixel(*RED)
    tile2 = bytes([2]) + cpixel(*WHITE) + cpixel(*BLUE) + bytes([0b10101000, 0b01010100])
    client = decode(update(rect(0, 0, 70, 2, m.ENC_ZRLE, zrle(tile1, tile2))), width=80)
    assert px(client, 0, 0) == RED and px(client, 63, 1) == RED
    assert [px(client, 64 + i, 0) for i in range(6)] == [BLUE, WHITE] * 3
    assert [px(client, 64 + i, 1) for i in range(6)] == [WHITE, BLUE] * 3


def test_zrle_raw_and_four_colour_palette():
    raw = bytes([0]) + cpixel(*RED) + cpixel(*GREEN) + cpixel(*BLUE) + cpixel(*WHITE)
    client = decode(update(rect(0, 0, 2, 2, m.ENC_ZRLE, zrle(raw))))
    assert [px(client, 0, 0), px(client, 1, 0), px(client, 0, 1), px(client, 1, 1)] == \
        [RED, GREEN, BLUE, WHITE]
    # 3 colours -> 2 bits per index; a 3x1 row: indexes 2, 1, 0 -> 10 01 00 00
    pal = bytes([3]) + cpixel(*RED) + cpixel(*GREEN) + cpixel(*BLUE) + bytes([0b10010000])
    client = decode(update(rect(0, 0, 3, 1, m.ENC_ZRLE, zrle(pal))))
    assert [px(client, i, 0) for i in range(3)] == [BLUE, GREEN, RED]


def test_zrle_plain_rle_and_palette_rle_with_long_runs():
    # Plain RLE over a 20x20 tile (400 pixels): red for 300 (run length 300 = 1 + 255 +
    # 44: bytes 255, 44), then green for 100 (bytes 99).
    plain = bytes([128]) + cpixel(*RED) + bytes([255, 44]) + cpixel(*GREEN) + bytes([99])
    client = decode(update(rect(0, 0, 20, 20, m.ENC_ZRLE, zrle(plain))))
    assert px(client, 19, 14) == RED and px(client, 0, 15) == GREEN and px(client, 19, 19) == GREEN
    # Palette RLE, 2 colours (130): one blue pixel (index 1, no run), then white
    # (index 0 | 0x80) for the remaining 8 of a 3x3 tile (length byte 7).
    pal_rle = bytes([130]) + cpixel(*WHITE) + cpixel(*BLUE) + bytes([1, 0x80, 7])
    client = decode(update(rect(0, 0, 3, 3, m.ENC_ZRLE, zrle(pal_rle))))
    assert px(client, 0, 0) == BLUE and px(client, 1, 0) == WHITE and px(client, 2, 2) == WHITE


def test_zrle_stream_continues_across_rectangles():
    stream = zlib.compressobj()
    first = zrle(bytes([1]) + cpixel(*RED), stream=stream)
    second = zrle(bytes([1]) + cpixel(*GREEN), stream=stream)
    client = decode(update(rect(0, 0, 4, 4, m.ENC_ZRLE, first)),
                    update(rect(4, 0, 4, 4, m.ENC_ZRLE, second)))
    assert px(client, 0, 0) == RED and px(client, 4, 0) == GREEN


def test_zrle_run_past_the_tile_is_an_error():
    plain = bytes([128]) + cpixel(*RED) + bytes([20])  # 21 pixels in a 4x4 tile
    with pytest.raises(ProtocolError):
        decode(update(rect(0, 0, 4, 4, m.ENC_ZRLE, zrle(plain))))


def test_tight_fill_and_short_uncompressed_copy():
    fill = bytes([0x80]) + bytes(RED)                       # TPIXEL is R, G, B
    copy = bytes([0x00]) + bytes(GREEN) + bytes(BLUE)      # 6 bytes < 12: no zlib
    client = decode(update(rect(0, 0, 8, 8, m.ENC_TIGHT, fill),
                           rect(10, 0, 2, 1, m.ENC_TIGHT, copy)), encodings=("tight",))
    assert px(client, 7, 7) == RED
    assert px(client, 10, 0) == GREEN and px(client, 11, 0) == BLUE


def test_tight_compressed_copy_on_stream_two_with_long_compact_length():
    width, height = 110, 60
    pixels = np.random.default_rng(1).integers(0, 256, (height, width, 3), np.uint8)
    stream = zlib.compressobj()
    data = stream.compress(pixels.tobytes()) + stream.flush(zlib.Z_SYNC_FLUSH)
    assert len(data) > 0x3FFF  # exercises the three-byte compact length
    body = bytes([0x20]) + compact(len(data)) + data  # stream 2, no filter
    client = decode(update(rect(0, 0, width, height, m.ENC_TIGHT, body)),
                    width=128, height=64, encodings=("tight",))
    assert (client.framebuffer.rgb()[:height, :width] == pixels).all()


def test_tight_two_colour_palette_with_stream_reset():
    # 10x2, palette white/red, 1 bit per pixel, rows padded: 2 bytes per row, 4 in all
    # (< 12: raw). Control 0x41: filter follows, stream 0, and reset stream 0 first.
    body = bytes([0x41, 1, 1]) + bytes(WHITE) + bytes(RED) + bytes([0b11000000, 0b01000000,
                                                                    0, 0])
    client = decode(update(rect(0, 0, 10, 2, m.ENC_TIGHT, body)), encodings=("tight",))
    assert [px(client, i, 0) for i in range(3)] == [RED, RED, WHITE]
    assert px(client, 9, 0) == RED and px(client, 8, 0) == WHITE and px(client, 0, 1) == WHITE


def test_tight_many_colour_palette_is_one_byte_per_pixel():
    indexes = bytes([0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0])  # 12 bytes: compressed
    stream = zlib.compressobj()
    data = stream.compress(indexes) + stream.flush(zlib.Z_SYNC_FLUSH)
    body = bytes([0x40, 1, 2]) + bytes(RED) + bytes(GREEN) + bytes(BLUE) + compact(len(data)) + data
    client = decode(update(rect(0, 0, 6, 2, m.ENC_TIGHT, body)), encodings=("tight",))
    assert [px(client, i, 0) for i in range(6)] == [RED, GREEN, BLUE, BLUE, GREEN, RED]


def test_tight_gradient_filter():
    # A 2x2 image; the filter sends each value minus clamp(left + above - upper_left).
    image = np.array([[[10, 20, 30], [40, 50, 60]], [[70, 80, 90], [200, 250, 5]]], np.int32)
    diff = np.zeros_like(image)
    for yy in range(2):
        for xx in range(2):
            left = image[yy, xx - 1] if xx else 0
            above = image[yy - 1, xx] if yy else 0
            ul = image[yy - 1, xx - 1] if xx and yy else 0
            diff[yy, xx] = (image[yy, xx] - np.clip(left + above - ul, 0, 255)) & 0xFF
    payload = diff.astype(np.uint8).tobytes()  # 12 bytes: compressed
    stream = zlib.compressobj()
    data = stream.compress(payload) + stream.flush(zlib.Z_SYNC_FLUSH)
    body = bytes([0x40, 2]) + compact(len(data)) + data
    client = decode(update(rect(0, 0, 2, 2, m.ENC_TIGHT, body)), encodings=("tight",))
    assert (client.framebuffer.rgb()[:2, :2] == image).all()


def _encoded(fmt: str, rgb: np.ndarray, **save) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **save)
    return buf.getvalue()


def test_tight_jpeg_is_decoded_near_the_original():
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:, :16] = RED
    rgb[:, 16:] = BLUE
    data = _encoded("JPEG", rgb, quality=95, subsampling=0)
    body = bytes([0x90]) + compact(len(data)) + data
    client = decode(update(rect(4, 4, 32, 16, m.ENC_TIGHT, body)), encodings=("tight",),
                    jpeg_quality=9)
    got = client.framebuffer.rgb()[4:20, 4:36].astype(int)
    assert np.abs(got - rgb.astype(int)).max() < 40


def test_tight_png_only_when_tightpng_was_asked_for():
    rgb = np.random.default_rng(2).integers(0, 256, (5, 7, 3), np.uint8)
    data = _encoded("PNG", rgb)
    body = bytes([0xA0]) + compact(len(data)) + data
    client = decode(update(rect(1, 1, 7, 5, m.ENC_TIGHT_PNG, body)), encodings=("tightpng",))
    assert (client.framebuffer.rgb()[1:6, 1:8] == rgb).all()
    with pytest.raises(ProtocolError):
        decode(update(rect(1, 1, 7, 5, m.ENC_TIGHT, body)), encodings=("tight",))


def test_tight_image_of_the_wrong_size_is_refused():
    data = _encoded("PNG", np.zeros((3, 3, 3), np.uint8))
    body = bytes([0xA0]) + compact(len(data)) + data
    with pytest.raises(ProtocolError, match="does not fill"):
        decode(update(rect(0, 0, 7, 5, m.ENC_TIGHT_PNG, body)), encodings=("tightpng",))


def test_pseudo_encodings_resize_cursor_keys_pointer_leds_and_last_rect():
    cursor_pixels = bgrx(*RED) * 4
    cursor_mask = bytes([0b10000000, 0b01000000])  # 2x2: top-left and bottom-right shown
    ext_desktop = bytes([1, 0, 0, 0]) + struct.pack(">IHHHHI", 0, 0, 0, 200, 100, 0)
    client = decode(update(
        rect(0, 0, 0, 0, m.ENC_QEMU_EXTENDED_KEY_EVENT),
        rect(0, 0, 0, 0, m.ENC_QEMU_POINTER_MOTION_CHANGE),  # x = 0: relative
        rect(0, 0, 0, 0, m.ENC_QEMU_LED_STATE, bytes([0b100])),
        rect(1, 1, 2, 2, m.ENC_CURSOR, cursor_pixels + cursor_mask),
        rect(0, 0, 80, 60, m.ENC_DESKTOP_SIZE),
        rect(0, 0, 200, 100, m.ENC_EXTENDED_DESKTOP_SIZE, ext_desktop),
        rect(0, 0, 0, 0, m.ENC_LAST_RECT),
    ) + b"")
    assert client.has_scancodes and not client.absolute_pointer and client.leds == 4
    assert (client.framebuffer.width, client.framebuffer.height) == (200, 100)


def test_cursor_callback_gets_mask_as_alpha():
    seen = []
    from tests.unit.rfb_helpers import ScriptedServer
    from connectors.console.rfb.client import RfbClient

    async def go():
        data = handshake_38() + update(rect(1, 0, 2, 1, m.ENC_CURSOR, bgrx(*RED) * 2
                                            + bytes([0b01000000])))
        client = RfbClient(ScriptedServer(data))
        client.on_cursor = seen.append
        await client.connect()
        with pytest.raises(Exception, match="closed"):
            await client.run()

    asyncio.run(go())
    (cursor,) = seen
    assert cursor.hot_x == 1 and list(cursor.pixels[0, :, 3]) == [0, 255]
