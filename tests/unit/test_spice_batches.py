"""A SPICE channel reading many messages at once: messages split anywhere across reads
arrive whole and in order, a batch is answered and repainted once, an idle channel is
never taken for a stalled one, and the display's short path for plain copies draws
exactly what the general path draws."""
from __future__ import annotations

import asyncio
import socket
import struct

import numpy as np
import pytest

from connectors.console.client import ConsoleClient
from connectors.console.spice import channel as channel_module
from connectors.console.spice import display as d
from connectors.console.spice import images as im
from connectors.console.spice.channel import SpiceChannel
from connectors.console.state import ConsoleError, ProtocolError
from connectors.console.transport import Channel
from tests.unit import spice_display_helpers as h
from tests.unit.spice_helpers import ScriptedSpice, mini
from tests.unit.test_spice_channel import Recorder, ok_link, run, sent_after_link


class Client(ConsoleClient):
    def __init__(self) -> None:
        super().__init__()
        self.updates = 0
        self.on_update = self._updated

    def _updated(self) -> None:
        self.updates += 1


class TricklingSpice(ScriptedSpice):
    """Sends its script in the given chunk sizes (cycled), pausing between them so the
    client sees each chunk on its own."""

    def __init__(self, script: bytes, chunks: list[int]) -> None:
        super().__init__(script, eof=True)
        self.chunks = chunks

    async def _play(self, sock: socket.socket, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        pos = i = 0
        try:
            while pos < len(data):
                size = self.chunks[i % len(self.chunks)]
                await loop.sock_sendall(sock, data[pos:pos + size])
                pos += size
                i += 1
                await asyncio.sleep(0.001)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve_to_end(server, handler) -> None:
    """Link, then handle messages until the server ends the stream."""
    async def session():
        channel = SpiceChannel(server, handler)
        await channel.link()
        await channel.run()
    with pytest.raises(ConsoleError, match="closed the connection"):
        run(session(), timeout=30)


MESSAGES = [(150, b"first"), (151, b""), (152, bytes(range(256)) * 800),
            (150, b"x" * 7), (153, b"last")]


def whole_messages(script: bytes) -> list[tuple[int, bytes]]:
    """The messages that lie entirely within ``script``."""
    out, pos = [], 0
    while pos + 6 <= len(script):
        msg_type, size = struct.unpack_from("<HI", script, pos)
        if pos + 6 + size > len(script):
            break
        out.append((msg_type, script[pos + 6:pos + 6 + size]))
        pos += 6 + size
    return out


@pytest.mark.parametrize("chunks, length", [([1], 40), ([5, 1, 9], 60), ([4096], None),
                                            ([7, 200_000], None)])
def test_messages_split_anywhere_arrive_whole_and_in_order(chunks, length):
    script = b"".join(mini(t, p) for t, p in MESSAGES)[:length]
    link = ok_link()
    server = TricklingSpice(link + script, [len(link)] + chunks * (len(script) + 1))
    handler = Recorder()
    serve_to_end(server, handler)
    expected = whole_messages(script)
    assert len(expected) >= 2
    assert handler.got == expected
    echoes = [m for m in sent_after_link(server) if m[0] == 1150]
    assert echoes == [(1150, p) for t, p in expected if t == 150]


def test_an_idle_channel_is_not_a_stalled_one(monkeypatch):
    """Only a message that has begun is timed; silence between messages is fine."""
    monkeypatch.setattr(channel_module, "BODY_TIMEOUT_S", 0.1)
    ours, theirs = socket.socketpair()
    handler = Recorder()

    async def go():
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection(sock=theirs)
        channel = SpiceChannel(ScriptedSpice(), handler)
        channel._stream = Channel(reader, writer, "socketpair")
        channel.mini_header = True
        ours.setblocking(False)
        task = asyncio.ensure_future(channel.run())
        await loop.sock_sendall(ours, mini(160, b"a") + mini(161, b"b")[:3])
        await loop.sock_sendall(ours, mini(161, b"b")[3:])
        while len(handler.got) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)             # five timeouts of silence
        assert not task.done()
        await loop.sock_sendall(ours, mini(162, b"c"))
        while len(handler.got) < 3:
            await asyncio.sleep(0.01)
        channel.close()
        await task
    try:
        run(go())
    finally:
        ours.close()
    assert handler.got == [(160, b"a"), (161, b"b"), (162, b"c")]


def test_a_stall_after_many_messages_is_still_caught(monkeypatch):
    monkeypatch.setattr(channel_module, "BODY_TIMEOUT_S", 0.2)
    script = b"".join(mini(150, b"%d" % i) for i in range(500)) + mini(151, b"abc")[:8]
    server = ScriptedSpice(ok_link(script), eof=False)
    handler = Recorder()

    async def go():
        channel = SpiceChannel(server, handler)
        await channel.link()
        await channel.run()
    with pytest.raises(ProtocolError, match="stopped in the middle of a cursor message"):
        run(go())
    assert len(handler.got) == 500


# ---- the display channel fed in batches ----

W, H = 96, 40


def pattern(w: int, hgt: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1 << 24, (hgt, w), dtype=np.uint32)


def pieces() -> list[tuple[int, bytes]]:
    """A screen drawn as QEMU draws text: rows of 32x10 LZ4 pieces, left to right."""
    out = []
    for row in range(H // 10):
        for col in range(W // 32):
            box = (col * 32, row * 10, col * 32 + 32, row * 10 + 10)
            out.append(h.draw_copy(0, box, h.lz4_image(pattern(32, 10, row * 10 + col)),
                                   scale_mode=d.SCALE_INTERPOLATE))
    return out


def test_a_batch_of_pieces_is_one_update_with_one_damage_rectangle_per_row():
    script = mini(*h.surface_create(0, W, H)) + b"".join(mini(t, p) for t, p in pieces())
    server = ScriptedSpice(ok_link(script))
    client = Client()
    display = d.DisplayChannel(client)
    serve_to_end(server, display)
    assert client.frames == 1 + len(pieces())
    # Everything arrived before the channel read it: one batch, one update.
    assert client.updates == 1
    pieces_damage = [(r.x, r.y, r.w, r.h) for r in client.framebuffer.take_damage()
                     if (r.w, r.h) != (W, H)]         # not the new screen's own
    assert pieces_damage == [(0, y, W, 10) for y in range(0, H, 10)]
    for row in range(H // 10):
        for col in range(W // 32):
            got = client.framebuffer.words[row * 10:row * 10 + 10, col * 32:col * 32 + 32]
            assert (got == (pattern(32, 10, row * 10 + col) | 0xFF000000)).all()


def handled(messages) -> Client:
    client = Client()
    display = d.DisplayChannel(client)
    for msg_type, payload in [h.surface_create(0, W, H), *messages]:
        display.handle(msg_type, memoryview(payload))
    return client


@pytest.mark.parametrize("image", [
    lambda img: h.lz4_image(img),
    lambda img: h.lz4_image(img, rows_per_block=3),
    lambda img: h.lz4_image(img, top_down=False),
    lambda img: h.bitmap(img),
    lambda img: h.bitmap(img, top_down=False),
])
def test_a_plain_copy_draws_what_the_general_path_draws(image):
    img = pattern(40, 20, 7)
    box, area = (10, 5, 30, 17), (12, 3, 32, 15)
    plain = handled([h.draw_copy(0, box, image(img), area=area)])
    # One clip rectangle covering the box sends the same copy down the general path.
    general = handled([h.draw_copy(0, box, image(img), area=area, clip_rects=[box])])
    assert (plain.framebuffer.words == general.framebuffer.words).all()
    assert (plain.framebuffer.words[5:17, 10:30] == (img[3:15, 12:32] | 0xFF000000)).all()


def test_a_plain_copy_from_the_screen_itself_overlapping_is_read_before_written():
    first = h.draw_copy(0, (0, 0, W, H), h.bitmap(pattern(W, H, 3)))
    shifted = h.draw_copy(0, (8, 4, 48, 24), h.surface_image(0, W, H), area=(0, 0, 40, 20))
    client = handled([first, shifted])
    assert (client.framebuffer.words[4:24, 8:48]
            == (pattern(W, H, 3)[0:20, 0:40] | 0xFF000000)).all()


@pytest.mark.parametrize("box, area, match", [
    ((90, 0, 100, 10), (0, 0, 10, 10), "outside"),
    ((0, 0, 10, 10), (35, 0, 45, 10), "outside"),
])
def test_a_plain_copy_outside_its_surface_or_image_is_refused(box, area, match):
    with pytest.raises(ProtocolError, match=match):
        handled([h.draw_copy(0, box, h.lz4_image(pattern(40, 20, 1)), area=area)])


def test_a_one_block_lz4_image_that_decodes_short_is_refused():
    import lz4.block
    block = lz4.block.compress(bytes(32 * 10 * 4 - 4), store_size=False)
    body = bytes([1, im.FMT_32BIT]) + struct.pack(">I", len(block)) + block

    def image(offset):
        return h.descriptor(im.LZ4, 32, 10) + struct.pack("<I", len(body)) + body
    with pytest.raises(ProtocolError, match="LZ4"):
        handled([h.draw_copy(0, (0, 0, 32, 10), image)])
