"""SPICE on the wire: little-endian fields, the link stage's messages, the per-message
header, and the numbers (channel types, capabilities, common messages) every channel
shares. Pure functions and a bounded reader; no I/O here.

Every size a server states is checked before anything is read or allocated: a payload
field that runs past the end of its message is a ProtocolError, never an IndexError.
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any

from connectors.console.state import AuthenticationError, ConsoleError, ProtocolError

# ---- the link stage ----
MAGIC = b"REDQ"
VERSION_MAJOR, VERSION_MINOR = 2, 2
LINK_HEADER = struct.Struct("<4sIII")       # magic, major, minor, size of what follows
LINK_MESS = struct.Struct("<IBBIII")        # connection id, type, id, #common, #channel, offset
LINK_REPLY_FIXED = struct.Struct("<I162sIII")  # error, public key (DER), #common, #channel, offset
PUBKEY_BYTES = 162
TICKET_BYTES = 128                          # RSA-1024 output
MAX_LINK_REPLY = 4096                       # a reply is 178 bytes plus a few caps words
MAX_CAPS_WORDS = 64

# Common capabilities (bit numbers in the first common caps word).
CAP_PROTOCOL_AUTH_SELECTION = 0
CAP_AUTH_SPICE = 1
CAP_AUTH_SASL = 2
CAP_MINI_HEADER = 3

# Link results (SpiceLinkErr).
LINK_OK = 0
LINK_ERROR, LINK_INVALID_MAGIC, LINK_INVALID_DATA, LINK_VERSION_MISMATCH = 1, 2, 3, 4
LINK_NEED_SECURED, LINK_NEED_UNSECURED, LINK_PERMISSION_DENIED = 5, 6, 7
LINK_BAD_CONNECTION_ID, LINK_CHANNEL_NOT_AVAILABLE = 8, 9

# ---- channels ----
CHANNEL_MAIN, CHANNEL_DISPLAY, CHANNEL_INPUTS, CHANNEL_CURSOR = 1, 2, 3, 4
CHANNEL_PLAYBACK, CHANNEL_RECORD, CHANNEL_TUNNEL, CHANNEL_SMARTCARD = 5, 6, 7, 8
CHANNEL_USBREDIR, CHANNEL_PORT, CHANNEL_WEBDAV = 9, 10, 11
CHANNEL_NAMES = {CHANNEL_MAIN: "main", CHANNEL_DISPLAY: "display", CHANNEL_INPUTS: "inputs",
                 CHANNEL_CURSOR: "cursor", CHANNEL_PLAYBACK: "playback",
                 CHANNEL_RECORD: "record", CHANNEL_TUNNEL: "tunnel",
                 CHANNEL_SMARTCARD: "smartcard", CHANNEL_USBREDIR: "usbredir",
                 CHANNEL_PORT: "port", CHANNEL_WEBDAV: "webdav"}

# ---- messages every channel shares (server -> client) ----
MSG_MIGRATE, MSG_MIGRATE_DATA, MSG_SET_ACK, MSG_PING = 1, 2, 3, 4
MSG_WAIT_FOR_CHANNELS, MSG_DISCONNECTING, MSG_NOTIFY, MSG_LIST = 5, 6, 7, 8
FIRST_CHANNEL_MESSAGE = 101  # a channel's own messages start here
# (client -> server)
MSGC_ACK_SYNC, MSGC_ACK, MSGC_PONG, MSGC_MIGRATE_FLUSH_MARK = 1, 2, 3, 4
MSGC_MIGRATE_DATA, MSGC_DISCONNECTING = 5, 6

# ---- message framing ----
MINI_HEADER = struct.Struct("<HI")          # type, size
FULL_HEADER = struct.Struct("<QHII")        # serial, type, size, sub-message list offset
# One message's payload at most, unless the channel says otherwise (the display channel
# carries whole images). Beyond this the server is broken or hostile.
MAX_MESSAGE_SIZE = 4 << 20


@functools.lru_cache(maxsize=None)
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct("<" + fmt)


def pack(fmt: str, *values: object) -> bytes:
    """Little-endian struct.pack (``fmt`` without the byte-order character)."""
    return _struct(fmt).pack(*values)


class Payload:
    """Reads little-endian fields from one message; reading past its end is a
    ProtocolError naming ``what``."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes | bytearray | memoryview, what: str = "message") -> None:
        self.data = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"a {self.what} ends early: {n} more bytes needed at offset "
                                f"{self.pos} of {len(self.data)}")

    def take(self, n: int) -> memoryview:
        self._need(n)
        part = self.data[self.pos:self.pos + n]
        self.pos += n
        return part

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        layout = _struct(fmt)
        self._need(layout.size)
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def u8(self) -> int:
        value: int = self.unpack("B")[0]
        return value

    def u16(self) -> int:
        value: int = self.unpack("H")[0]
        return value

    def u32(self) -> int:
        value: int = self.unpack("I")[0]
        return value

    def i32(self) -> int:
        value: int = self.unpack("i")[0]
        return value

    def u64(self) -> int:
        value: int = self.unpack("Q")[0]
        return value

    def rest(self) -> memoryview:
        return self.take(self.remaining)

    def seek(self, offset: int) -> None:
        """Jump to an absolute offset the message itself states (checked)."""
        if not 0 <= offset <= len(self.data):
            raise ProtocolError(f"a {self.what} points at offset {offset}, outside its "
                                f"{len(self.data)} bytes")
        self.pos = offset


def sub_messages(body: memoryview, list_offset: int) -> tuple[list[tuple[int, memoryview]], int]:
    """The sub-messages a message carries: the whole body of a SPICE_MSG_LIST (offset 0),
    or the list a full header points at. spice-server sends its pixmap-cache evictions
    this way, and they must be applied before the drawing that follows them. Every offset
    and size is checked against the body before anything is dispatched. Also returns
    where the carrying message's own bytes end (the sub-messages follow them)."""
    p = Payload(body, "list of sub-messages")
    p.seek(list_offset)
    count = p.u16()
    offsets = p.unpack(f"{count}I") if count else ()
    parts = []
    for offset in offsets:
        p.seek(offset)
        sub_type, size = p.unpack("HI")
        parts.append((sub_type, p.take(size)))
    return parts, min((list_offset, *offsets))


# ---- capabilities ----

def caps_words(*bits: int) -> list[int]:
    """Capability bit numbers as the list of 32-bit words the link messages carry."""
    words: list[int] = []
    for bit in bits:
        index = bit // 32
        while len(words) <= index:
            words.append(0)
        words[index] |= 1 << (bit % 32)
    return words


def has_cap(words: list[int], bit: int) -> bool:
    index = bit // 32
    return index < len(words) and bool(words[index] >> (bit % 32) & 1)


def merge_caps(a: list[int], b: list[int]) -> list[int]:
    size = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) | (b[i] if i < len(b) else 0) for i in range(size)]


# ---- link messages ----

def link_message(connection_id: int, channel_type: int, channel_id: int,
                 common_caps: list[int], channel_caps: list[int]) -> bytes:
    """SpiceLinkHeader + SpiceLinkMess + caps: the first bytes a channel sends."""
    caps = b"".join(pack("I", w & 0xFFFFFFFF) for w in (*common_caps, *channel_caps))
    body = LINK_MESS.pack(connection_id, channel_type, channel_id, len(common_caps),
                          len(channel_caps), LINK_MESS.size) + caps
    return LINK_HEADER.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, len(body)) + body


def parse_link_header(data: bytes) -> int:
    """The size of the body that follows a server's link header (checked)."""
    size: int
    magic, major, minor, size = LINK_HEADER.unpack(data)
    if magic != MAGIC:
        raise ProtocolError(f"not a SPICE server (it said {bytes(data[:4])!r})")
    if major != VERSION_MAJOR:
        raise ProtocolError(f"SPICE protocol {major}.{minor} is not supported (only 2.x)")
    if size > MAX_LINK_REPLY:
        raise ProtocolError(f"a link reply of {size} bytes")
    return size


@dataclass(frozen=True)
class LinkReply:
    error: int
    public_key: bytes        # SubjectPublicKeyInfo, DER
    common_caps: list[int]
    channel_caps: list[int]


def parse_link_reply(body: bytes | memoryview) -> LinkReply:
    """SpiceLinkReply. A refusal (error != 0) may come with a short body: only the code."""
    payload = Payload(body, "link reply")
    if payload.remaining < LINK_REPLY_FIXED.size:
        error = payload.u32()
        if error == LINK_OK:
            raise ProtocolError(f"a link reply of {len(body)} bytes")
        return LinkReply(error, b"", [], [])
    error, key, n_common, n_channel, offset = payload.unpack("I162sIII")
    if error != LINK_OK:
        return LinkReply(error, key, [], [])
    if n_common > MAX_CAPS_WORDS or n_channel > MAX_CAPS_WORDS:
        raise ProtocolError(f"a link reply with {n_common} + {n_channel} capability words")
    payload.seek(offset)
    words = list(payload.unpack(f"{n_common + n_channel}I"))
    return LinkReply(error, key, words[:n_common], words[n_common:])


def encrypt_ticket(public_key_der: bytes, password: str) -> bytes:
    """The password, NUL-terminated, RSA-OAEP (SHA-1) encrypted with the server's key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_der_public_key(bytes(public_key_der))
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        # UnsupportedAlgorithm: a well-formed key of a kind cryptography does not load
        # (found by benchmarks/fuzz_campaign.py: an RSASSA-PSS OID in the link reply).
        raise ProtocolError(f"the server's public key is unreadable: {err}") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size > 4096:
        raise ProtocolError("the server's public key is not an RSA key of a usable size")
    secret = password.encode("utf-8") + b"\x00"
    limit = key.key_size // 8 - 2 * 20 - 2  # OAEP with SHA-1
    if len(secret) > limit:
        raise AuthenticationError(f"The password is too long for SPICE (at most {limit - 1} "
                                  "bytes).", needs_password=True)
    try:
        return key.encrypt(secret, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                algorithm=hashes.SHA1(), label=None))
    except ValueError as err:
        # A key that loads but is no RSA key at all (an even modulus, ...): OpenSSL says
        # "Encryption failed" (found by benchmarks/fuzz_campaign.py).
        raise ProtocolError(f"the server's public key cannot encrypt the password: {err}"
                            ) from None


def link_result(code: int) -> int:
    """The 4-byte result after the ticket; raises the user's error for anything but OK."""
    if code != LINK_OK:
        raise link_error(code)
    return code


def link_error(code: int, channel: str = "") -> ConsoleError:
    """The sentence for a link error code (in a link reply or the final result)."""
    where = f" for its {channel} channel" if channel else ""
    if code == LINK_PERMISSION_DENIED:
        return AuthenticationError("The SPICE server refused the password: it is wrong, or "
                                   "it has expired.", needs_password=True)
    if code == LINK_NEED_SECURED:
        return ConsoleError(f"The SPICE server wants TLS{where}, which HVConsole does not "
                            "speak to SPICE yet.")
    if code == LINK_VERSION_MISMATCH:
        return ConsoleError("The SPICE server speaks a protocol version HVConsole does not.")
    if code == LINK_BAD_CONNECTION_ID:
        return ConsoleError("The SPICE server no longer knows this session (it restarted "
                            "or another client took over).")
    if code == LINK_CHANNEL_NOT_AVAILABLE:
        return ConsoleError(f"The SPICE server has no channel to offer{where}.")
    if code in (LINK_INVALID_MAGIC, LINK_INVALID_DATA, LINK_NEED_UNSECURED):
        return ProtocolError(f"the SPICE server rejected the link message (code {code})")
    return ConsoleError(f"The SPICE server refused the connection{where} (code {code}).")


# ---- message headers ----

def pack_message(msg_type: int, payload: bytes = b"", serial: int | None = None) -> bytes:
    """One client message: the mini header, or the full one when ``serial`` is given."""
    if serial is None:
        return MINI_HEADER.pack(msg_type, len(payload)) + payload
    return FULL_HEADER.pack(serial, msg_type, len(payload), 0) + payload


def check_size(size: int, limit: int, msg_type: int) -> None:
    if size > limit:
        raise ProtocolError(f"a message (type {msg_type}) of {size} bytes, more than the "
                            f"{limit} this channel accepts")
