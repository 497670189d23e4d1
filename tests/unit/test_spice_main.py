"""The main channel's handler and the guest agent's messages, fed the bytes a server
and a spice-vdagent send (layouts from the SPICE protocol headers)."""
from __future__ import annotations

import struct

from connectors.console.client import ConsoleClient
from connectors.console.spice import agent
from connectors.console.spice.main import (
    MSG_AGENT_CONNECTED_TOKENS, MSG_AGENT_DATA, MSG_AGENT_DISCONNECTED, MSG_AGENT_TOKEN,
    MSG_CHANNELS_LIST, MSG_INIT, MSG_MOUSE_MODE, MSG_NAME, MSGC_AGENT_DATA, MSGC_AGENT_START,
    MSGC_ATTACH_CHANNELS, MSGC_MOUSE_MODE_REQUEST, MainChannel)
from tests.unit.spice_helpers import agent_message


class Seen(ConsoleClient):
    def __init__(self):
        super().__init__()
        self.clipboard: list[str] = []
        self.capability_calls = 0
        self.on_clipboard = self.clipboard.append
        self.on_capabilities = self._caps

    def _caps(self):
        self.capability_calls += 1


def init(session=9, modes=1, mode=1, agent_on=0, tokens=10) -> bytes:
    return struct.pack("<8I", session, 1, modes, mode, agent_on, tokens, 0, 0)


def agent_sent(out) -> list[tuple[int, bytes]]:
    """The agent messages in a list of outgoing main-channel messages."""
    stream = agent.AgentStream()
    messages = []
    for msg_type, payload in out:
        if msg_type == MSGC_AGENT_DATA:
            assert len(payload) <= 2048
            messages += stream.feed(payload)
    return messages


def feed(main: MainChannel, *agent_messages: bytes) -> list:
    data = b"".join(agent_messages)
    out = []
    for i in range(0, len(data), 7):   # cut anywhere, as the server may
        out += main.handle(MSG_AGENT_DATA, memoryview(data[i:i + 7]))
    return out


def caps_payload(*bits: int, request: int = 0) -> bytes:
    return struct.pack("<II", request, sum(1 << b for b in bits))


def connected_main(*agent_caps: int, tokens: int = 100) -> tuple[MainChannel, Seen]:
    client = Seen()
    main = MainChannel(client)
    main.handle(MSG_INIT, memoryview(init(agent_on=1, tokens=tokens)))
    feed(main, agent_message(agent.ANNOUNCE_CAPABILITIES, caps_payload(*agent_caps)))
    return main, client


def test_init_learns_the_session_and_attaches_channels():
    client = Seen()
    main = MainChannel(client)
    out = main.handle(MSG_INIT, memoryview(init(session=1234)))
    assert main.session_id == 1234
    assert out == [(MSGC_ATTACH_CHANNELS, b"")]
    assert not client.absolute_pointer   # server mouse mode
    main.handle(MSG_CHANNELS_LIST, memoryview(struct.pack("<I4B", 2, 2, 0, 3, 0)))
    assert main.channels == [(2, 0), (3, 0)] and main.channels_known.is_set()


def test_client_mouse_mode_is_asked_for_when_offered_and_followed():
    client = Seen()
    main = MainChannel(client)
    out = main.handle(MSG_INIT, memoryview(init(modes=3, mode=1)))
    assert (MSGC_MOUSE_MODE_REQUEST, struct.pack("<H", 2)) in out
    assert main.handle(MSG_MOUSE_MODE, memoryview(struct.pack("<HH", 3, 2))) == []
    assert client.absolute_pointer and client.capability_calls >= 1
    # The tablet goes away: server mode, relative motion.
    main.handle(MSG_MOUSE_MODE, memoryview(struct.pack("<HH", 1, 1)))
    assert not client.absolute_pointer


def test_name_of_the_vm():
    client = Seen()
    MainChannel(client).handle(MSG_NAME, memoryview(struct.pack("<I", 6) + b"guest\0"))
    assert client.name == "guest"


def test_agent_start_and_capabilities_announced():
    client = Seen()
    main = MainChannel(client)
    out = main.handle(MSG_INIT, memoryview(init(agent_on=1, tokens=5)))
    assert main.agent_connected and client.capability_calls >= 1
    assert out[0] == (MSGC_AGENT_START, struct.pack("<I", 0xFFFFFFFF))
    kind, data = agent_sent(out)[0]
    request, words = agent.parse_capabilities(data)
    assert kind == agent.ANNOUNCE_CAPABILITIES and request
    assert words[0] & (1 << agent.CAP_MONITORS_CONFIG)
    assert words[0] & (1 << agent.CAP_CLIPBOARD_BY_DEMAND)
    assert not words[0] & (1 << agent.CAP_CLIPBOARD_SELECTION)


def test_agent_connecting_later_with_tokens_and_going_away():
    client = Seen()
    main = MainChannel(client)
    main.handle(MSG_INIT, memoryview(init(agent_on=0, tokens=0)))
    assert not main.agent_connected
    out = main.handle(MSG_AGENT_CONNECTED_TOKENS, memoryview(struct.pack("<I", 3)))
    assert main.agent_connected and agent_sent(out)
    main.handle(MSG_AGENT_DISCONNECTED, memoryview(struct.pack("<I", 0)))
    assert not main.agent_connected and main.agent_caps is None


def test_window_size_goes_to_the_agent_once_it_said_it_can():
    client = Seen()
    main = MainChannel(client)
    main.handle(MSG_INIT, memoryview(init(agent_on=1)))
    assert main.set_monitor_size(1280, 800) == []   # its capabilities are not known yet
    out = feed(main, agent_message(agent.ANNOUNCE_CAPABILITIES,
                                   caps_payload(agent.CAP_MONITORS_CONFIG, request=1)))
    kinds = [kind for kind, _ in agent_sent(out)]
    assert kinds == [agent.ANNOUNCE_CAPABILITIES, agent.MONITORS_CONFIG]
    config = agent_sent(out)[1][1]
    # num_of_monitors, flags, then height, width, depth, x, y.
    assert struct.unpack("<IIIIIii", config) == (1, 0, 800, 1280, 32, 0, 0)


def test_no_monitors_config_for_an_agent_without_it():
    main, _client = connected_main(agent.CAP_CLIPBOARD_BY_DEMAND)
    assert agent_sent(main.set_monitor_size(1024, 768)) == []


def test_agent_messages_wait_for_tokens_and_only_the_latest_size_is_kept():
    main, _client = connected_main(agent.CAP_MONITORS_CONFIG, tokens=0)
    assert main.set_monitor_size(800, 600) == []
    assert main.set_monitor_size(1024, 768) == []
    out = main.handle(MSG_AGENT_TOKEN, memoryview(struct.pack("<I", 10)))
    sizes = [struct.unpack_from("<IIII", data)[2:] for kind, data in agent_sent(out)
             if kind == agent.MONITORS_CONFIG]
    assert sizes == [(768, 1024)]


def test_guest_clipboard_text_reaches_the_client():
    main, client = connected_main(agent.CAP_CLIPBOARD_BY_DEMAND, agent.CAP_GUEST_LINEEND_CRLF)
    out = feed(main, agent_message(agent.CLIPBOARD_GRAB, struct.pack("<2I", 2, 1)))
    assert agent_sent(out) == [(agent.CLIPBOARD_REQUEST, struct.pack("<I", 1))]
    text = "héllo\r\nwörld".encode()
    feed(main, agent_message(agent.CLIPBOARD, struct.pack("<I", 1) + text))
    assert client.clipboard == ["héllo\nwörld"]


def test_an_image_only_grab_asks_for_nothing():
    main, client = connected_main(agent.CAP_CLIPBOARD_BY_DEMAND)
    assert agent_sent(feed(main, agent_message(agent.CLIPBOARD_GRAB,
                                               struct.pack("<I", 2)))) == []


def test_client_clipboard_is_offered_then_given_on_request():
    main, _client = connected_main(agent.CAP_CLIPBOARD_BY_DEMAND, agent.CAP_GUEST_LINEEND_CRLF)
    out = main.offer_clipboard("a\nb")
    assert agent_sent(out) == [(agent.CLIPBOARD_GRAB, struct.pack("<I", 1))]
    out = feed(main, agent_message(agent.CLIPBOARD_REQUEST, struct.pack("<I", 1)))
    assert agent_sent(out) == [(agent.CLIPBOARD, struct.pack("<I", 1) + b"a\r\nb")]
    # Asked for a type we do not have: an empty answer of type NONE.
    out = feed(main, agent_message(agent.CLIPBOARD_REQUEST, struct.pack("<I", 2)))
    assert agent_sent(out) == [(agent.CLIPBOARD, struct.pack("<I", 0))]


def test_a_long_clipboard_goes_in_chunks_of_2048_bytes():
    main, _client = connected_main(agent.CAP_CLIPBOARD_BY_DEMAND)
    text = "x" * 5000
    main.offer_clipboard(text)
    out = feed(main, agent_message(agent.CLIPBOARD_REQUEST, struct.pack("<I", 1)))
    assert [len(p) for t, p in out if t == MSGC_AGENT_DATA] == [2048, 2048, 5000 + 24 - 4096]
    assert agent_sent(out) == [(agent.CLIPBOARD, struct.pack("<I", 1) + text.encode())]


def test_no_clipboard_offer_without_an_agent():
    client = Seen()
    main = MainChannel(client)
    main.handle(MSG_INIT, memoryview(init(agent_on=0)))
    assert main.offer_clipboard("text") == []


def test_agent_stream_reassembles_and_skips_oversized_messages():
    stream = agent.AgentStream(max_message=100)
    data = (agent_message(4, b"a" * 50) + agent_message(5, b"b" * 500)
            + agent_message(6, b"") + agent_message(7, b"c" * 10))
    got = []
    for i in range(0, len(data), 13):
        got += stream.feed(data[i:i + 13])
    assert got == [(4, b"a" * 50), (6, b""), (7, b"c" * 10)]
