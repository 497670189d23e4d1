"""The guest agent's messages (spice-vdagent): what travels inside the main channel's
AGENT_DATA messages. Encoding, parsing, and putting a message stream back together
from the server's chunks. No I/O.

An agent message is a 20-byte header (protocol, type, opaque, size) and ``size`` bytes;
the stream is cut into AGENT_DATA messages of at most 2048 bytes each way, regardless
of message boundaries.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from connectors.console.spice.wire import Payload, caps_words, pack
from connectors.console.state import ProtocolError

log = logging.getLogger(__name__)

PROTOCOL = 1
HEADER_SIZE = 20
MAX_CHUNK = 2048
# A message larger than this (a huge clipboard image) is skipped, never buffered.
MAX_MESSAGE = 8 << 20

# Message types.
MOUSE_STATE, MONITORS_CONFIG, REPLY, CLIPBOARD, DISPLAY_CONFIG = 1, 2, 3, 4, 5
ANNOUNCE_CAPABILITIES, CLIPBOARD_GRAB, CLIPBOARD_REQUEST, CLIPBOARD_RELEASE = 6, 7, 8, 9
FILE_XFER_START, FILE_XFER_STATUS, FILE_XFER_DATA, CLIENT_DISCONNECTED = 10, 11, 12, 13
MAX_CLIPBOARD, AUDIO_VOLUME_SYNC, GRAPHICS_DEVICE_INFO = 14, 15, 16

# Capability bits.
CAP_MOUSE_STATE, CAP_MONITORS_CONFIG, CAP_REPLY, CAP_CLIPBOARD = 0, 1, 2, 3
CAP_DISPLAY_CONFIG, CAP_CLIPBOARD_BY_DEMAND, CAP_CLIPBOARD_SELECTION = 4, 5, 6
CAP_SPARSE_MONITORS_CONFIG, CAP_GUEST_LINEEND_LF, CAP_GUEST_LINEEND_CRLF = 7, 8, 9
CAP_MAX_CLIPBOARD = 10

# Clipboard data types.
CLIPBOARD_NONE, CLIPBOARD_UTF8_TEXT = 0, 1

# What this client does with an agent: follow the window size, share text both ways.
# (No CLIPBOARD_SELECTION: then no message carries a selection byte.)
OUR_CAPS = caps_words(CAP_MOUSE_STATE, CAP_MONITORS_CONFIG, CAP_REPLY,
                      CAP_CLIPBOARD_BY_DEMAND)

MIN_WIDTH, MIN_HEIGHT, MAX_SIDE = 320, 200, 8192
MAX_CAPS_WORDS = 64
MAX_TYPES = 64


def message(msg_type: int, data: bytes = b"") -> bytes:
    """One agent message, header included."""
    return pack("IIQI", PROTOCOL, msg_type, 0, len(data)) + data


def chunks(msg: bytes) -> list[bytes]:
    """An agent message cut into AGENT_DATA payloads."""
    return [msg[i:i + MAX_CHUNK] for i in range(0, len(msg), MAX_CHUNK)] or [b""]


def announce_capabilities(request: bool) -> bytes:
    return message(ANNOUNCE_CAPABILITIES,
                   pack("I", int(request)) + b"".join(pack("I", w) for w in OUR_CAPS))


def monitors_config(width: int, height: int) -> bytes:
    """One monitor of width x height at (0, 0), 32 bits deep (height comes first)."""
    width = max(MIN_WIDTH, min(MAX_SIDE, int(width)))
    height = max(MIN_HEIGHT, min(MAX_SIDE, int(height)))
    return message(MONITORS_CONFIG, pack("IIIIIii", 1, 0, height, width, 32, 0, 0))


def clipboard_grab(types: list[int]) -> bytes:
    return message(CLIPBOARD_GRAB, b"".join(pack("I", t) for t in types))


def clipboard_request(data_type: int) -> bytes:
    return message(CLIPBOARD_REQUEST, pack("I", data_type))


def clipboard_data(data_type: int, data: bytes) -> bytes:
    return message(CLIPBOARD, pack("I", data_type) + data)


# ---- parsing what the agent sends ----

def parse_capabilities(data: bytes | memoryview) -> tuple[bool, list[int]]:
    """(the agent asks for ours, its capability words)."""
    p = Payload(data, "agent capabilities message")
    request = p.u32()
    count = min(p.remaining // 4, MAX_CAPS_WORDS)
    return bool(request), list(p.unpack(f"{count}I"))


def parse_clipboard_grab(data: bytes | memoryview) -> list[int]:
    p = Payload(data, "agent clipboard grab")
    count = min(p.remaining // 4, MAX_TYPES)
    return list(p.unpack(f"{count}I"))


def parse_clipboard_request(data: bytes | memoryview) -> int:
    return Payload(data, "agent clipboard request").u32()


def parse_clipboard(data: bytes | memoryview) -> tuple[int, bytes]:
    p = Payload(data, "agent clipboard message")
    data_type = p.u32()
    return data_type, bytes(p.rest())


def parse_reply(data: bytes | memoryview) -> tuple[int, int]:
    """(the message type replied to, 1 success / 2 error)."""
    return Payload(data, "agent reply").unpack("II")


def parse_max_clipboard(data: bytes | memoryview) -> int:
    """The agent's clipboard size limit in bytes (-1: none)."""
    return Payload(data, "agent max-clipboard message").i32()


@dataclass
class _Partial:
    msg_type: int
    size: int
    data: bytearray


class AgentStream:
    """Puts agent messages back together from AGENT_DATA payloads. ``feed`` returns the
    messages completed so far as (type, data); a message above MAX_MESSAGE is skipped
    (its bytes counted, not kept)."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._head = bytearray()
        self._partial: _Partial | None = None
        self._skip = 0

    def reset(self) -> None:
        self._head.clear()
        self._partial = None
        self._skip = 0

    def feed(self, chunk: bytes | memoryview) -> list[tuple[int, bytes]]:
        done: list[tuple[int, bytes]] = []
        view = memoryview(chunk)
        while len(view):
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            if self._partial is not None:
                part = self._partial
                step = min(part.size - len(part.data), len(view))
                part.data += view[:step]
                view = view[step:]
                if len(part.data) == part.size:
                    done.append((part.msg_type, bytes(part.data)))
                    self._partial = None
                continue
            step = min(HEADER_SIZE - len(self._head), len(view))
            self._head += view[:step]
            view = view[step:]
            if len(self._head) < HEADER_SIZE:
                break
            protocol, msg_type, _opaque, size = Payload(self._head).unpack("IIQI")
            self._head.clear()
            if protocol != PROTOCOL:
                raise ProtocolError(f"the guest agent speaks protocol {protocol}, not "
                                    f"{PROTOCOL}")
            if size > self.max_message:
                log.warning("agent message type %d of %d bytes skipped", msg_type, size)
                self._skip = size
            elif size == 0:
                done.append((msg_type, b""))
            else:
                self._partial = _Partial(msg_type, size, bytearray())
        return done
