"""SpiceClient against a small SPICE server over real sockets: the main channel first,
then the others with the session id; the ticket asked for once; keys, pointer and
mouse mode; how run() ends."""
from __future__ import annotations

import asyncio
import struct

import pytest

from connectors.console import keymap
from connectors.console.spice.client import SpiceClient
from connectors.console.state import AuthenticationError, ConsoleError
from tests.unit.spice_helpers import CURSOR, INPUTS, MAIN, FakeSpiceServer, mini

TYPING = ("inputs", "cursor")


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def source(*answers):
    calls = []

    async def password():
        calls.append(1)
        return answers[len(calls) - 1]
    password.calls = calls
    return password


async def connected(server, **options) -> tuple[SpiceClient, asyncio.Task]:
    client = SpiceClient(server, channels=TYPING, **options)
    await client.connect()
    return client, asyncio.ensure_future(client.run())


def test_main_first_then_the_others_with_the_session_id():
    server = FakeSpiceServer(session_id=4242)
    password = source(None)

    async def go():
        client, task = await connected(server, password=password)
        assert client.session_id == 4242 and client.name == ""
        assert set(client.channels) == {"main", "inputs", "cursor"}
        client.close()
        await task    # quiet after close()
    run(go())
    assert server.links[0] == (0, MAIN, 0)
    assert sorted(server.links[1:]) == [(4242, INPUTS, 0), (4242, CURSOR, 0)]
    assert server.tickets == [b"\0"] * 3
    assert len(password.calls) == 1


def test_the_ticket_goes_to_every_channel():
    server = FakeSpiceServer(password="s3cret")

    async def go():
        client, task = await connected(server, password=source("s3cret"))
        client.close()
        await task
    run(go())
    assert server.tickets == [b"s3cret\0"] * 3


def test_a_refused_ticket_is_an_authentication_error():
    server = FakeSpiceServer(password="s3cret")

    async def go():
        await SpiceClient(server, channels=TYPING, password=source(None)).connect()
    with pytest.raises(AuthenticationError) as err:
        run(go())
    assert err.value.needs_password


def test_keys_go_out_as_scancodes_in_order():
    server = FakeSpiceServer()

    async def go():
        client, task = await connected(server)
        client.type_text("aB\n")
        client.send_key(True, 0xE9, None)   # no scancode: nothing to send
        await server.wait_for(lambda: len(server.received[INPUTS]) >= 8)
        client.close()
        await task
    run(go())
    codes = [(t, struct.unpack("<I", p)[0]) for t, p in server.received[INPUTS]]
    assert codes == [(101, 0x1E), (102, 0x9E),                        # a
                     (101, 0x2A), (101, 0x30), (102, 0xB0), (102, 0xAA),  # shift+b
                     (101, 0x1C), (102, 0x9C)]                         # return


def test_a_key_after_a_pause_leaves_before_send_key_returns():
    """The first key of a burst is written at once (no turn of the event loop before
    it, so its echo is not delayed); the next waits its KEY_GAP_S as before."""
    server = FakeSpiceServer()

    async def go():
        client, task = await connected(server)
        client.send_key(True, ord("a"), 0x1E)
        client.send_key(False, ord("a"), 0x1E)
        client.close()          # before the loop could run anything: only the press left
        await task
        await server.wait_for(lambda: len(server.received[INPUTS]) >= 1)
        await asyncio.sleep(0.05)
    run(go())
    assert server.received[INPUTS] == [(101, struct.pack("<I", 0x1E))]


def test_send_key_combo_with_extended_keys():
    server = FakeSpiceServer()

    async def go():
        client, task = await connected(server)
        client.send_combo(keymap.SEND_KEYS[0][1])   # Ctrl+Alt+Del
        await server.wait_for(lambda: len(server.received[INPUTS]) >= 6)
        client.close()
        await task
    run(go())
    sent = [p for _t, p in server.received[INPUTS]]
    assert sent[2] == bytes([0xE0, 0x53, 0, 0]) and sent[3] == bytes([0xE0, 0xD3, 0, 0])


def test_client_mouse_mode_makes_the_pointer_absolute():
    server = FakeSpiceServer(mouse_modes=3)
    changes = []

    async def go():
        client = SpiceClient(server, channels=TYPING)
        client.on_capabilities = lambda: changes.append(client.absolute_pointer)
        await client.connect()
        task = asyncio.ensure_future(client.run())
        assert not client.absolute_pointer
        assert (105, struct.pack("<H", 2)) in server.received[MAIN]
        server.send(MAIN, mini(105, struct.pack("<HH", 3, 2)))
        while not client.absolute_pointer:
            await asyncio.sleep(0.01)
        client.send_pointer(1, 30, 40)
        await server.wait_for(lambda: len(server.received[INPUTS]) >= 2)
        client.close()
        await task
    run(go())
    assert changes[-1] is True
    assert server.received[INPUTS][:2] == [(112, struct.pack("<IIHB", 30, 40, 0, 0)),
                                           (113, struct.pack("<BH", 1, 1))]


def test_server_going_away_ends_run_with_a_console_error():
    server = FakeSpiceServer()

    async def go():
        client, task = await connected(server)
        server.kill()
        await task
    with pytest.raises(ConsoleError, match="closed the connection"):
        run(go())


def test_a_server_without_display_says_so():
    server = FakeSpiceServer()

    async def go():
        await SpiceClient(server).connect()
    with pytest.raises(ConsoleError, match="offers no display"):
        run(go())


def test_unknown_channel_names_are_refused():
    with pytest.raises(ValueError):
        SpiceClient(FakeSpiceServer(), channels=("display", "usb"))


def test_a_channel_refused_at_link_fails_the_connection_and_closes_the_rest():
    server = FakeSpiceServer(refuse={CURSOR})
    client = SpiceClient(server, channels=TYPING)

    async def go():
        await client.connect()
    with pytest.raises(ConsoleError, match="no channel to offer for its cursor channel"):
        run(go())
    assert all(channel.closed for channel in client.channels.values())
