"""One SPICE channel over a real socket: the link with and without a ticket, refusals as
sentences, and the message loop's common messages (acks, pings, disconnect reasons),
with mini headers and with the full header of servers without them."""
from __future__ import annotations

import asyncio
import struct

import pytest

from connectors.console.spice import wire
from connectors.console.spice.channel import SpiceChannel
from connectors.console.state import AuthenticationError, ConsoleError, ProtocolError
from tests.unit.spice_helpers import (
    CURSOR, FakeSpiceServer, ScriptedSpice, link_reply, mini, read_messages)


class Recorder:
    """A handler that keeps what it got and answers nothing (or echoes, when asked)."""

    channel_type = CURSOR

    def __init__(self, first=()) -> None:
        self.got: list[tuple[int, bytes]] = []
        self.first = list(first)
        self.server_caps = None

    def capabilities(self):
        return [], [0b101]

    def initial_messages(self):
        return self.first

    def linked(self, common, channel):
        self.server_caps = (common, channel)

    def handle(self, msg_type, payload):
        self.got.append((msg_type, bytes(payload)))
        return [(msg_type + 1000, bytes(payload))] if msg_type == 150 else []


def ok_link(*messages: bytes) -> bytes:
    return link_reply() + struct.pack("<I", 0) + b"".join(messages)

def link_and_run(server, handler) -> None:
    """Link one channel to ``server`` and handle its messages until the channel ends."""
    async def go():
        channel = SpiceChannel(server, handler)
        await channel.link()
        await channel.run()
    run(go())



def run(coro, timeout=10):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def sent_after_link(server: ScriptedSpice) -> list[tuple[int, bytes]]:
    """The client's messages after its link message, auth mechanism and ticket."""
    data = server.sent[0]
    size = struct.unpack_from("<I", data, 12)[0]
    return read_messages(data[16 + size + 4 + 128:])


def test_link_sends_the_ticket_and_our_caps():
    server = FakeSpiceServer(password="pw")
    handler = Recorder()

    async def go():
        channel = SpiceChannel(server, handler, connection_id=7, channel_id=0, ticket="pw")
        await channel.link()
        channel.close()
        return channel
    channel = run(go())
    assert server.links == [(7, CURSOR, 0)]
    assert server.tickets == [b"pw\0"]
    assert channel.mini_header
    assert handler.server_caps[0] == [0b1011]


def test_wrong_ticket_is_an_authentication_error():
    server = FakeSpiceServer(password="right")

    async def go():
        await SpiceChannel(server, Recorder(), ticket="wrong").link()
    with pytest.raises(AuthenticationError, match="wrong, or it has expired") as err:
        run(go())
    assert err.value.needs_password


def test_link_error_in_the_reply_names_the_channel():
    server = ScriptedSpice(link_reply(error=wire.LINK_NEED_SECURED))
    with pytest.raises(ConsoleError, match="TLS for its cursor channel"):
        run(SpiceChannel(server, Recorder()).link())


def test_not_a_spice_server():
    server = ScriptedSpice(b"RFB 003.008\n" + bytes(20))
    with pytest.raises(ProtocolError, match="not a SPICE server"):
        run(SpiceChannel(server, Recorder()).link())


def test_server_closing_during_the_link():
    server = ScriptedSpice(link_reply()[:40])
    with pytest.raises(ConsoleError, match="closed the connection while linking"):
        run(SpiceChannel(server, Recorder()).link())


def test_sasl_only_server_is_refused_clearly():
    server = ScriptedSpice(link_reply(common=0b101))   # auth selection + SASL
    with pytest.raises(ConsoleError, match="SASL"):
        run(SpiceChannel(server, Recorder()).link())


def test_messages_reach_the_handler_and_replies_go_back():
    server = ScriptedSpice(ok_link(mini(150, b"abc"), mini(151)))
    handler = Recorder(first=[(101, b"hello")])

    with pytest.raises(ConsoleError, match="closed the connection"):
        link_and_run(server, handler)
    assert handler.got == [(150, b"abc"), (151, b"")]
    assert sent_after_link(server) == [(101, b"hello"), (1150, b"abc")]


def test_set_ack_ping_and_acks_every_window_messages():
    server = ScriptedSpice(ok_link(mini(wire.MSG_SET_ACK, struct.pack("<II", 77, 3)),
                                   mini(wire.MSG_PING, struct.pack("<IQ", 5, 123) + b"pad"),
                                   *[mini(160)] * 5))

    with pytest.raises(ConsoleError):
        link_and_run(server, Recorder())
    sent = sent_after_link(server)
    assert sent[0] == (wire.MSGC_ACK_SYNC, struct.pack("<I", 77))
    assert (wire.MSGC_PONG, struct.pack("<IQ", 5, 123)) in sent
    # 6 messages after SET_ACK with a window of 3: two ACKs.
    assert [t for t, _ in sent].count(wire.MSGC_ACK) == 2


def test_disconnecting_reason_is_in_the_error():
    server = ScriptedSpice(ok_link(mini(wire.MSG_DISCONNECTING,
                                        struct.pack("<QI", 0, wire.LINK_BAD_CONNECTION_ID))))

    with pytest.raises(ConsoleError, match="no longer knows this session"):
        link_and_run(server, Recorder())


def test_notify_is_logged_not_fatal(caplog):
    text = b"keyboard channel is insecure"
    notify = struct.pack("<QIIII", 0, 1, 0, 0, len(text) + 1) + text + b"\0"
    server = ScriptedSpice(ok_link(mini(wire.MSG_NOTIFY, notify), mini(150, b"x")))
    handler = Recorder()

    async def go():
        channel = SpiceChannel(server, handler)
        await channel.link()
        with pytest.raises(ConsoleError):
            await channel.run()
    with caplog.at_level("INFO"):
        run(go())
    assert "keyboard channel is insecure" in caplog.text
    assert handler.got == [(150, b"x")]


def test_migration_ends_the_channel_with_a_sentence():
    server = ScriptedSpice(ok_link(mini(wire.MSG_MIGRATE, struct.pack("<I", 1))))

    with pytest.raises(ConsoleError, match="moving to another host"):
        link_and_run(server, Recorder())


def test_an_absurd_message_size_is_refused_before_reading_it():
    server = ScriptedSpice(ok_link(struct.pack("<HI", 150, 0xFFFFFFFF)), eof=False)

    with pytest.raises(ProtocolError, match="4294967295 bytes"):
        link_and_run(server, Recorder())


def test_a_handler_may_raise_the_bound():
    handler = Recorder()
    handler.max_message_size = 10 << 20
    big = bytes(5 << 20)
    server = ScriptedSpice(ok_link(mini(151, big)))

    async def go():
        channel = SpiceChannel(server, handler)
        await channel.link()
        with pytest.raises(ConsoleError, match="closed"):
            await channel.run()
    run(go(), timeout=30)
    assert len(handler.got[0][1]) == len(big)


def test_close_ends_run_quietly():
    server = FakeSpiceServer()

    async def go():
        channel = SpiceChannel(server, Recorder())
        await channel.link()
        task = asyncio.ensure_future(channel.run())
        await asyncio.sleep(0)
        channel.close()
        await task
        channel.send(101, b"after close is a no-op")
    run(go())


def test_full_headers_when_the_server_has_no_mini_header():
    server = FakeSpiceServer(mini_header=False)
    handler = Recorder()

    async def go():
        channel = SpiceChannel(server, handler)
        await channel.link()
        assert not channel.mini_header
        task = asyncio.ensure_future(channel.run())
        channel.send(150, b"one")
        channel.send(151, b"two")
        await server.wait_for(lambda: len(server.received[CURSOR]) == 2)
        server.send(CURSOR, struct.pack("<QHII", 1, 150, 2, 0) + b"hi")
        while not handler.got:
            await asyncio.sleep(0.01)
        channel.close()
        await task
    run(go())
    assert server.received[CURSOR][:2] == [(150, b"one"), (151, b"two")]
    assert handler.got == [(150, b"hi")]


def test_a_server_stalling_mid_message_ends_the_channel(monkeypatch):
    from connectors.console.spice import channel as channel_module
    monkeypatch.setattr(channel_module, "BODY_TIMEOUT_S", 0.2)
    server = ScriptedSpice(ok_link(struct.pack("<HI", 150, 10) + b"abc"), eof=False)

    with pytest.raises(ProtocolError, match="stopped in the middle of a cursor message"):
        link_and_run(server, Recorder())


def test_first_messages_travel_with_the_ticket_before_the_result():
    """A display server compresses its first screen as soon as the link succeeded: the
    preferred compression must already be on its way, before the result comes back."""
    server = ScriptedSpice(link_reply() + struct.pack("<I", 7))   # refused, as it happens
    handler = Recorder(first=[(103, b"\x07")])

    async def go():
        await SpiceChannel(server, handler).link()
    with pytest.raises(AuthenticationError):
        run(go())
    assert sent_after_link(server) == [(103, b"\x07")]


def sub_list(parts, start: int = 0) -> bytes:
    """A list of sub-messages laid out as spice-server does: the sub-messages first, then
    the count and the table of their offsets (from the start of the body, ``start`` bytes
    of which come before the first sub-message)."""
    body, offsets = b"", []
    for msg_type, payload in parts:
        offsets.append(start + len(body))
        body += struct.pack("<HI", msg_type, len(payload)) + payload
    table = struct.pack(f"<H{len(offsets)}I", len(offsets), *offsets)
    return body, table


def test_a_list_of_sub_messages_is_handled_in_order_and_acked_once():
    # spice-server sends its pixmap-cache evictions as SPICE_MSG_LIST with mini headers:
    # the eviction must be handled before the drawing that follows it.
    parts, table = sub_list([(150, b"evict"), (151, b"draw")], start=2 + 2 * 4)
    listed = table + parts
    server = ScriptedSpice(ok_link(mini(wire.MSG_SET_ACK, struct.pack("<II", 1, 2)),
                                   mini(wire.MSG_LIST, listed), mini(152, b"after")))
    handler = Recorder()

    with pytest.raises(ConsoleError, match="closed the connection"):
        link_and_run(server, handler)
    assert handler.got == [(150, b"evict"), (151, b"draw"), (152, b"after")]
    sent = sent_after_link(server)
    assert (1150, b"evict") in sent
    # SET_ACK, the list and one more: the window of 2 is reached once.
    assert [t for t, _ in sent].count(wire.MSGC_ACK) == 1


def test_a_full_header_list_comes_before_its_message():
    server = FakeSpiceServer(mini_header=False)
    handler = Recorder()
    main = b"drawing"
    parts, table = sub_list([(150, b"evict")], start=len(main))
    body = main + parts + table

    async def go():
        channel = SpiceChannel(server, handler)
        await channel.link()
        task = asyncio.ensure_future(channel.run())
        server.send(CURSOR, struct.pack("<QHII", 1, 151, len(body), len(main) + len(parts))
                    + body)
        while len(handler.got) < 2:
            await asyncio.sleep(0.01)
        channel.close()
        await task
    run(go())
    assert handler.got == [(150, b"evict"), (151, main)]


@pytest.mark.parametrize("listed", [
    b"\x01",                                          # count cut short
    struct.pack("<HI", 3, 6),                         # table longer than the body
    struct.pack("<HI", 1, 400),                       # offset outside the body
    struct.pack("<HIHI", 1, 6, 150, 99) + b"x",       # sub-message longer than the body
    struct.pack("<HIHI", 1, 6, wire.MSG_LIST, 0),     # a list inside a list
])
def test_a_broken_list_is_a_protocol_error(listed):
    server = ScriptedSpice(ok_link(mini(wire.MSG_LIST, listed)))
    handler = Recorder()

    with pytest.raises(ProtocolError):
        link_and_run(server, handler)
    assert handler.got == []
