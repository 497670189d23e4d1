"""The main channel: the session (its id links the other channels), the list of
channels, the mouse mode, and the guest agent (spice-vdagent) that follows the window
size and shares the clipboard.

Agent messages cost one server token per AGENT_DATA message; what cannot go yet waits
in ``_agent_queue`` until AGENT_TOKEN grants more.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque

from connectors.console.client import ConsoleClient
from connectors.console.spice import agent
from connectors.console.spice.channel import Outgoing
from connectors.console.spice.wire import CHANNEL_MAIN, Payload, caps_words, has_cap, pack
from connectors.console.state import ProtocolError

log = logging.getLogger(__name__)

# Server -> client.
MSG_MIGRATE_BEGIN, MSG_MIGRATE_CANCEL, MSG_INIT, MSG_CHANNELS_LIST = 101, 102, 103, 104
MSG_MOUSE_MODE, MSG_MULTI_MEDIA_TIME, MSG_AGENT_CONNECTED = 105, 106, 107
MSG_AGENT_DISCONNECTED, MSG_AGENT_DATA, MSG_AGENT_TOKEN = 108, 109, 110
MSG_MIGRATE_SWITCH_HOST, MSG_MIGRATE_END, MSG_NAME, MSG_UUID = 111, 112, 113, 114
MSG_AGENT_CONNECTED_TOKENS = 115
# Client -> server.
MSGC_CLIENT_INFO, MSGC_ATTACH_CHANNELS, MSGC_MOUSE_MODE_REQUEST = 101, 104, 105
MSGC_AGENT_START, MSGC_AGENT_DATA, MSGC_AGENT_TOKEN = 106, 107, 108

# Main channel capabilities.
CAP_SEMI_SEAMLESS_MIGRATE, CAP_NAME_AND_UUID, CAP_AGENT_CONNECTED_TOKENS = 0, 1, 2

MOUSE_MODE_SERVER, MOUSE_MODE_CLIENT = 1, 2
ALL_TOKENS = 0xFFFFFFFF  # the agent may send us as much as it likes
MAX_QUEUED_AGENT_CHUNKS = 4096  # 8 MB: a paste beyond this waits for the next grab
MAX_NAME = 4096


class MainChannel:
    """The main channel's handler. ``channels_known`` is set once the server listed its
    channels (``channels``: (type, id) pairs); ``session_id`` links the others."""

    channel_type = CHANNEL_MAIN

    def __init__(self, client: ConsoleClient) -> None:
        self.client = client
        self.session_id: int | None = None
        self.channels: list[tuple[int, int]] = []
        self.channels_known = asyncio.Event()
        self.mouse_modes = 0
        self.mouse_mode = MOUSE_MODE_SERVER
        self.agent_connected = False
        self.agent_caps: list[int] | None = None   # None until the agent announced them
        self._tokens = 0
        self._agent_queue: deque[bytes] = deque()
        self._agent_in = agent.AgentStream()
        self._wanted_size: tuple[int, int] | None = None
        self._queued_monitors: bytes | None = None
        self._clipboard_text: str | None = None   # ours, offered to the guest
        self._max_clipboard = -1

    # ---- ChannelHandler ----

    def capabilities(self) -> tuple[list[int], list[int]]:
        return [], caps_words(CAP_NAME_AND_UUID, CAP_AGENT_CONNECTED_TOKENS)

    def initial_messages(self) -> list[Outgoing]:
        return []

    def handle(self, msg_type: int, payload: memoryview) -> list[Outgoing]:
        p = Payload(payload, f"main channel message {msg_type}")
        if msg_type == MSG_INIT:
            return self._init(p)
        if msg_type == MSG_CHANNELS_LIST:
            count = p.u32()
            if count > p.remaining // 2:
                raise ProtocolError(f"a channel list of {count} channels in "
                                    f"{p.remaining} bytes")
            self.channels = [p.unpack("BB") for _ in range(count)]
            self.channels_known.set()
            return []
        if msg_type == MSG_MOUSE_MODE:
            supported, current = p.unpack("HH")
            return self._mouse_mode(supported, current)
        if msg_type == MSG_MULTI_MEDIA_TIME:
            return []    # the clock that keeps audio with video: HVConsole plays neither
        if msg_type == MSG_AGENT_CONNECTED:
            return self._agent_started(None)
        if msg_type == MSG_AGENT_CONNECTED_TOKENS:
            return self._agent_started(p.u32())
        if msg_type == MSG_AGENT_DISCONNECTED:
            error = p.u32()
            log.info("the SPICE guest agent went away (code %d)", error)
            self._agent_stopped()
            return []
        if msg_type == MSG_AGENT_TOKEN:
            self._tokens = min(self._tokens + p.u32(), ALL_TOKENS)
            return self._flush_agent()
        if msg_type == MSG_AGENT_DATA:
            out: list[Outgoing] = []
            for kind, data in self._agent_in.feed(p.rest()):
                out += self._agent_message(kind, data)
            return out
        if msg_type == MSG_NAME:
            length = p.u32()
            if length > min(p.remaining, MAX_NAME):
                raise ProtocolError(f"a VM name of {length} bytes")
            self.client.name = bytes(p.take(length)).split(b"\0")[0].decode("utf-8", "replace")
            return []
        if msg_type in (MSG_MIGRATE_BEGIN, MSG_MIGRATE_CANCEL, MSG_MIGRATE_SWITCH_HOST,
                        MSG_MIGRATE_END):
            log.info("SPICE migration message %d: the console reconnects if the VM moves",
                     msg_type)
            return []
        log.debug("SPICE main channel: message %d ignored", msg_type)
        return []

    # ---- session ----

    def _init(self, p: Payload) -> list[Outgoing]:
        (self.session_id, _display_hint, supported, current, agent_on, tokens,
         _multi_media_time, _ram_hint) = p.unpack("IIIIIIII")
        self._tokens = tokens
        out = self._mouse_mode(supported, current)
        if agent_on:
            out += self._agent_started(None)
        out.append((MSGC_ATTACH_CHANNELS, b""))
        return out

    def _mouse_mode(self, supported: int, current: int) -> list[Outgoing]:
        """Follow the server's mode; ask for client mode (absolute, no grab) whenever it
        becomes available."""
        newly_offered = supported & MOUSE_MODE_CLIENT and not self.mouse_modes & MOUSE_MODE_CLIENT
        self.mouse_modes, self.mouse_mode = supported, current
        absolute = current == MOUSE_MODE_CLIENT
        if absolute != self.client.absolute_pointer:
            self.client.absolute_pointer = absolute
            self.client.on_capabilities()
        if newly_offered and current != MOUSE_MODE_CLIENT:
            return [(MSGC_MOUSE_MODE_REQUEST, pack("H", MOUSE_MODE_CLIENT))]
        return []

    # ---- the agent ----

    def _agent_started(self, tokens: int | None) -> list[Outgoing]:
        if tokens is not None:
            self._tokens = tokens
        was = self.agent_connected
        self.agent_connected = True
        self._agent_in.reset()
        self.agent_caps = None
        out = [(MSGC_AGENT_START, pack("I", ALL_TOKENS))]
        self._agent_queue.clear()
        self._queue_agent(agent.announce_capabilities(request=True))
        out += self._flush_agent()
        if not was:
            self.client.on_capabilities()
        return out

    def _agent_stopped(self) -> None:
        self.agent_connected = False
        self.agent_caps = None
        self._agent_queue.clear()
        self._agent_in.reset()
        self.client.on_capabilities()

    def agent_has(self, cap: int) -> bool:
        return self.agent_caps is not None and has_cap(self.agent_caps, cap)

    def _queue_agent(self, msg: bytes) -> None:
        parts = agent.chunks(msg)
        if len(self._agent_queue) + len(parts) > MAX_QUEUED_AGENT_CHUNKS:
            log.warning("the guest agent is not taking messages; one is dropped")
            return
        self._agent_queue.extend(parts)

    def _flush_agent(self) -> list[Outgoing]:
        out: list[Outgoing] = []
        while self._agent_queue and self._tokens > 0:
            out.append((MSGC_AGENT_DATA, self._agent_queue.popleft()))
            self._tokens -= 1
        return out

    def _agent_message(self, kind: int, data: bytes) -> list[Outgoing]:
        if kind == agent.ANNOUNCE_CAPABILITIES:
            request, self.agent_caps = agent.parse_capabilities(data)
            if request:
                self._queue_agent(agent.announce_capabilities(request=False))
            if self._wanted_size is not None:
                self._queue_monitors(*self._wanted_size)
            self.client.on_capabilities()
        elif kind == agent.CLIPBOARD_GRAB:
            if agent.CLIPBOARD_UTF8_TEXT in agent.parse_clipboard_grab(data):
                self._queue_agent(agent.clipboard_request(agent.CLIPBOARD_UTF8_TEXT))
        elif kind == agent.CLIPBOARD:
            data_type, content = agent.parse_clipboard(data)
            if data_type == agent.CLIPBOARD_UTF8_TEXT:
                text = content.split(b"\0")[0].decode("utf-8", "replace")
                if self.agent_has(agent.CAP_GUEST_LINEEND_CRLF):
                    text = text.replace("\r\n", "\n")
                self.client.on_clipboard(text)
        elif kind == agent.CLIPBOARD_REQUEST:
            data_type = agent.parse_clipboard_request(data)
            self._queue_agent(self._clipboard_answer(data_type))
        elif kind == agent.CLIPBOARD_RELEASE:
            pass  # the guest's clipboard is empty: ours stays as it is
        elif kind == agent.REPLY:
            replied, error = agent.parse_reply(data)
            if error != 1:
                log.info("the guest agent refused message type %d (code %d)", replied, error)
        elif kind == agent.MAX_CLIPBOARD:
            self._max_clipboard = agent.parse_max_clipboard(data)
        else:
            log.debug("guest agent message %d ignored", kind)
        return self._flush_agent()

    def _clipboard_answer(self, data_type: int) -> bytes:
        text = self._clipboard_text
        if data_type != agent.CLIPBOARD_UTF8_TEXT or text is None:
            return agent.clipboard_data(agent.CLIPBOARD_NONE, b"")
        if self.agent_has(agent.CAP_GUEST_LINEEND_CRLF):
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        data = text.encode("utf-8")
        if 0 <= self._max_clipboard < len(data):
            log.info("clipboard of %d bytes is above the guest's limit of %d", len(data),
                     self._max_clipboard)
            return agent.clipboard_data(agent.CLIPBOARD_NONE, b"")
        return agent.clipboard_data(agent.CLIPBOARD_UTF8_TEXT, data)

    # ---- asked by the client (each returns what to send now) ----

    def set_monitor_size(self, width: int, height: int) -> list[Outgoing]:
        """Ask the guest to take this resolution; kept until the agent can hear it."""
        self._wanted_size = (width, height)
        if self.agent_connected and self.agent_caps is not None:
            self._queue_monitors(width, height)
        return self._flush_agent()

    def _queue_monitors(self, width: int, height: int) -> None:
        if not self.agent_has(agent.CAP_MONITORS_CONFIG):
            return
        # Only the latest size matters: replace one still waiting for a token.
        msg = agent.monitors_config(width, height)   # one chunk: 48 bytes
        for i, queued in enumerate(self._agent_queue):
            if queued is self._queued_monitors:
                self._agent_queue[i] = self._queued_monitors = msg
                return
        self._queued_monitors = msg
        self._agent_queue.append(msg)

    def offer_clipboard(self, text: str) -> list[Outgoing]:
        """Our clipboard has text: tell the guest, which asks for it when it pastes."""
        self._clipboard_text = text
        if not self.agent_connected or not self.agent_has(agent.CAP_CLIPBOARD_BY_DEMAND):
            return []
        self._queue_agent(agent.clipboard_grab([agent.CLIPBOARD_UTF8_TEXT]))
        return self._flush_agent()
