"""Hostile and broken SPICE servers: whatever they send, every parser either applies it
or raises a ConsoleError (ProtocolError, AuthenticationError) — no other exception, no
hang (each stream run is bounded by a timeout), no allocation beyond a bound (sizes
are refused before anything is read)."""
from __future__ import annotations

import asyncio
import struct
import tracemalloc

from hypothesis import HealthCheck, example, given, settings, strategies as st

from connectors.console.client import ConsoleClient
from connectors.console.spice import agent, wire
from connectors.console.spice.channel import SpiceChannel
from connectors.console.spice.cursor import CursorChannel
from connectors.console.spice.inputs import InputsChannel
from connectors.console.spice.main import MSG_AGENT_DATA, MainChannel
from connectors.console.state import ConsoleError
from tests.unit.spice_helpers import ScriptedSpice, agent_message, link_reply, mini

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEMORY_BOUND = 32 << 20
HANDLERS = (MainChannel, InputsChannel, CursorChannel)


def bounded(fn) -> None:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, peak


def survive_stream(data: bytes, handler_kind=MainChannel) -> None:
    """Link and run one channel against ``data``; only ConsoleErrors may come out."""
    async def go():
        channel = SpiceChannel(ScriptedSpice(data), handler_kind(ConsoleClient()))
        try:
            await channel.link()
            await channel.run()
        except ConsoleError:
            pass
        finally:
            channel.close()
    bounded(lambda: asyncio.run(asyncio.wait_for(go(), 10)))


def ok_link() -> bytes:
    return link_reply() + struct.pack("<I", 0)


def tolerate(fn, *args) -> None:
    try:
        fn(*args)
    except ConsoleError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_as_a_link_reply(body):
    tolerate(wire.parse_link_reply, body)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_the_whole_stream(data):
    survive_stream(data)


@FUZZ
@given(st.integers(0, 2), st.binary(max_size=600))
def test_any_bytes_after_a_valid_link(kind, data):
    survive_stream(ok_link() + data, HANDLERS[kind])


messages = st.lists(st.tuples(st.integers(0, 320), st.binary(max_size=120)), max_size=8)


@FUZZ
@given(st.integers(0, 2), messages)
def test_well_framed_messages_with_random_types_and_bodies(kind, msgs):
    survive_stream(ok_link() + b"".join(mini(t, p) for t, p in msgs), HANDLERS[kind])


@FUZZ
@given(st.integers(0, 2), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF))
def test_any_header_claims(kind, msg_type, size):
    survive_stream(ok_link() + struct.pack("<HI", msg_type, size) + bytes(64), HANDLERS[kind])


@FUZZ
@given(st.sampled_from(HANDLERS), st.integers(101, 130), st.binary(max_size=200))
def test_each_handler_with_any_payload(kind, msg_type, payload):
    handler = kind(ConsoleClient())
    bounded(lambda: tolerate(handler.handle, msg_type, memoryview(payload)))


agent_messages = st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=80)), max_size=6)


@FUZZ
@given(agent_messages, st.integers(1, 64))
def test_agent_messages_of_any_type_and_body(msgs, cut):
    client = ConsoleClient()
    main = MainChannel(client)
    main.handle(103, memoryview(struct.pack("<8I", 1, 1, 3, 1, 1, 5, 0, 0)))
    data = b"".join(agent_message(t, p) for t, p in msgs)

    def feed():
        for i in range(0, len(data), cut):
            tolerate(main.handle, MSG_AGENT_DATA, memoryview(data[i:i + cut]))
        main.set_monitor_size(1024, 768)
        main.offer_clipboard("text")
    bounded(feed)


@FUZZ
@given(st.binary(max_size=500), st.integers(1, 64))
def test_agent_stream_with_any_bytes(data, cut):
    stream = agent.AgentStream()

    def feed():
        for i in range(0, len(data), cut):
            tolerate(stream.feed, data[i:i + cut])
    bounded(feed)


def test_an_agent_claiming_a_huge_message_is_not_buffered():
    stream = agent.AgentStream()
    header = struct.pack("<IIQI", 1, 4, 0, 0xFFFFFFFF)

    def feed():
        stream.feed(header)
        for _ in range(200):
            assert stream.feed(bytes(2048)) == []
    bounded(feed)


# An RSASSA-PSS key (OID 1.2.840.113549.1.1.10 with its last arc changed to 33): a
# well-formed DER key of a kind cryptography will not load, found by
# benchmarks/fuzz_campaign.py; it raised UnsupportedAlgorithm out of the link.
UNLOADABLE_KEY = bytes.fromhex(
    "30819f300d06092a864886f70d010121050003818d0030818902818100ec9b55becec4c5021f6f67f5ae"
    "b0e70bfa8c5c13a00f0d198cb107e15a1476030c65a9a5d37b60983821c2a9eeb9b403efeb574c4761f6"
    "42091f54fb708011ba3c27d9cac55c97f495d8732687057736bb0ff31db35c8633e7bf76ebb899b10b8f"
    "8c6c49cc2970ea85e823d54d8fdfdad2397471a785f0ac46bba0affda1c0a30203010001")


# A 1024-bit key that loads but cannot encrypt ("Encryption failed"): the campaign again.
BROKEN_RSA_KEY = bytes.fromhex(
    "30819f300d06092a864886f70d010101050003818d0030818902818100ac1d1e0a11161f934bead7ab97"
    "2b3be50aa24ccadce30a9d92a2c93c2ec3e09edceb50cc890f9450bb160fbc6174a100690406a2cde211"
    "1ac9a853e96763be4642d75375c1d35b3e2d62d0e9ed64ba4022b6a31bb254e7eb95d11b771ab47674d1"
    "0c33d3de445a225a0cd3c390e21ae8c9ec788351a3800c3ea8552776492dfe0203010001")


@FUZZ
@example(UNLOADABLE_KEY)
@example(BROKEN_RSA_KEY)
@given(st.one_of(st.binary(max_size=200), st.builds(
    lambda cut, flips: bytes(b ^ flips.get(i, 0) for i, b in enumerate(UNLOADABLE_KEY[:cut])),
    st.integers(0, 162), st.dictionaries(st.integers(0, 161), st.integers(1, 255),
                                         max_size=4))))
def test_any_server_key_encrypts_the_ticket_or_is_refused(key):
    tolerate(wire.encrypt_ticket, key, "ticket")


def test_a_link_offering_an_unloadable_key_ends_in_a_console_error():
    from tests.unit.spice_helpers import MAGIC
    body = struct.pack("<I162sIII", 0, UNLOADABLE_KEY, 1, 0, 4 + 162 + 12) + struct.pack(
        "<I", 11)
    survive_stream(struct.pack("<4sIII", MAGIC, 2, 2, len(body)) + body)
