"""The cursor channel: alpha and mono shapes, the cache, hiding, and sizes refused."""
from __future__ import annotations

import struct

import pytest

from connectors.console.client import ConsoleClient
from connectors.console.spice.cursor import (
    FLAG_CACHE_ME, FLAG_FROM_CACHE, FLAG_NONE, MSG_HIDE, MSG_INIT, MSG_INVAL_ALL, MSG_MOVE,
    MSG_SET, CursorChannel)
from connectors.console.state import ProtocolError

def cursor(flags, unique=1, kind=0, w=2, h=2, hot=(1, 0), data=b"") -> bytes:
    if flags & FLAG_NONE:
        return struct.pack("<H", flags)
    return struct.pack("<HQBHHHH", flags, unique, kind, w, h, *hot) + data

def set_msg(visible, shape) -> memoryview:
    return memoryview(struct.pack("<hhB", 3, 4, visible) + shape)

def channel():
    client = ConsoleClient()
    shown = []
    client.on_cursor = shown.append
    return CursorChannel(client), shown

def test_alpha_cursor_is_bgra_as_sent():
    ch, shown = channel()
    argb = struct.pack("<4I", 0xFF112233, 0x00000000, 0x80FFFFFF, 0xFF000000)
    ch.handle(MSG_SET, set_msg(1, cursor(0, data=argb)))
    image = shown[-1]
    assert image.pixels.shape == (2, 2, 4)
    assert list(image.pixels[0, 0]) == [0x33, 0x22, 0x11, 0xFF]
    assert image.pixels[0, 1, 3] == 0 and image.pixels[1, 0, 3] == 0x80
    assert (image.hot_x, image.hot_y) == (1, 0) and ch.position == (3, 4)

def test_mono_cursor_and_then_xor_masks():
    ch, shown = channel()
    # 4x1: AND 1010, XOR 0110 -> transparent, white, invert (black), black.
    data = bytes([0b10100000, 0b01100000])
    ch.handle(MSG_SET, set_msg(1, cursor(0, kind=1, w=4, h=1, hot=(0, 0), data=data)))
    px = shown[-1].pixels
    assert px[0, 0, 3] == 0
    assert list(px[0, 1]) == [255, 255, 255, 255]
    assert list(px[0, 2]) == [0, 0, 0, 255] and list(px[0, 3]) == [0, 0, 0, 255]

def test_cache_me_then_from_cache_and_invalidation():
    ch, shown = channel()
    argb = bytes(16)
    ch.handle(MSG_SET, set_msg(1, cursor(FLAG_CACHE_ME, unique=42, data=argb)))
    first = shown[-1]
    ch.handle(MSG_SET, set_msg(1, cursor(FLAG_FROM_CACHE, unique=42)))
    assert shown[-1] is first
    ch.handle(MSG_INVAL_ALL, memoryview(b""))
    ch.handle(MSG_SET, set_msg(1, cursor(FLAG_FROM_CACHE, unique=42)))
    assert len(shown) == 2   # nothing to show for a shape no longer cached

def test_hidden_and_no_shape():
    ch, shown = channel()
    init = struct.pack("<hhHHB", 0, 0, 0, 0, 1) + cursor(FLAG_NONE)
    ch.handle(MSG_INIT, memoryview(init))
    assert shown == []   # visible but no shape: the local pointer stays
    ch.handle(MSG_HIDE, memoryview(b""))
    assert shown == [None]
    ch.handle(MSG_MOVE, memoryview(struct.pack("<hh", -1, 7)))
    assert ch.position == (-1, 7)

def test_sizes_refused():
    ch, _ = channel()
    with pytest.raises(ProtocolError):
        ch.handle(MSG_SET, set_msg(1, cursor(0, w=4096, h=4096)))
    with pytest.raises(ProtocolError):
        ch.handle(MSG_SET, set_msg(1, cursor(0, w=2, h=2, data=bytes(3))))

def test_other_cursor_types_leave_the_pointer_alone():
    ch, shown = channel()
    ch.handle(MSG_SET, set_msg(1, cursor(0, kind=6, data=bytes(64))))
    assert shown == []
