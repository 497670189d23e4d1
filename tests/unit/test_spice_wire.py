"""SPICE's link messages and headers, byte for byte as the protocol document lays them
out, and the bounded reader every parser uses."""
from __future__ import annotations

import struct

import pytest

from connectors.console.spice import wire
from connectors.console.state import AuthenticationError, ConsoleError, ProtocolError
from tests.unit.spice_helpers import decrypt_ticket, link_reply, public_der


def test_link_message_layout():
    data = wire.link_message(0x01020304, 3, 1, [0b1011], [1, 2])
    magic, major, minor, size = struct.unpack_from("<4sIII", data)
    assert (magic, major, minor, size) == (b"REDQ", 2, 2, len(data) - 16)
    conn, ctype, cid, n_common, n_chan, offset = struct.unpack_from("<IBBIII", data, 16)
    assert (conn, ctype, cid, n_common, n_chan, offset) == (0x01020304, 3, 1, 1, 2, 18)
    assert struct.unpack_from("<3I", data, 16 + offset) == (0b1011, 1, 2)


def test_caps_words_and_lookup():
    assert wire.caps_words(0, 3) == [0b1001]
    assert wire.caps_words(33) == [0, 2]
    assert wire.has_cap([0, 2], 33) and not wire.has_cap([0, 2], 32)
    assert not wire.has_cap([], 0)
    assert wire.merge_caps([1], [0, 4]) == [1, 4]


def test_link_reply_is_parsed_with_its_caps():
    data = link_reply(common=0b1011, channel_caps=(5, 6))
    size = wire.parse_link_header(data[:16])
    reply = wire.parse_link_reply(data[16:16 + size])
    assert reply.error == 0 and reply.public_key == public_der()
    assert reply.common_caps == [0b1011] and reply.channel_caps == [5, 6]


def test_a_refusal_may_be_only_its_code():
    assert wire.parse_link_reply(struct.pack("<I", 7)).error == 7


@pytest.mark.parametrize("header, error", [
    (struct.pack("<4sIII", b"RFB ", 2, 2, 10), "not a SPICE server"),
    (struct.pack("<4sIII", b"REDQ", 1, 0, 10), "protocol 1.0"),
    (struct.pack("<4sIII", b"REDQ", 2, 2, 1 << 30), "link reply of"),
])
def test_bad_link_headers(header, error):
    with pytest.raises(ProtocolError, match=error):
        wire.parse_link_header(header)


def test_caps_offset_outside_the_reply_is_a_protocol_error():
    body = struct.pack("<I162sIII", 0, public_der(), 1, 0, 5000)
    with pytest.raises(ProtocolError):
        wire.parse_link_reply(body)


def test_ticket_is_the_nul_terminated_password_under_rsa_oaep_sha1():
    encrypted = wire.encrypt_ticket(public_der(), "s3cret")
    assert len(encrypted) == wire.TICKET_BYTES
    assert decrypt_ticket(encrypted) == b"s3cret\0"
    assert decrypt_ticket(wire.encrypt_ticket(public_der(), "")) == b"\0"


def test_a_password_too_long_for_the_key_is_refused_clearly():
    with pytest.raises(AuthenticationError, match="too long"):
        wire.encrypt_ticket(public_der(), "x" * 100)


def test_a_garbage_public_key_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="public key"):
        wire.encrypt_ticket(b"\x30" + bytes(161), "")


def test_link_errors_are_sentences():
    denied = wire.link_error(wire.LINK_PERMISSION_DENIED)
    assert isinstance(denied, AuthenticationError) and denied.needs_password
    assert "expired" in str(denied)
    assert "TLS" in str(wire.link_error(wire.LINK_NEED_SECURED, "display"))
    assert type(wire.link_error(42)) is ConsoleError
    assert wire.link_result(0) == 0
    with pytest.raises(AuthenticationError):
        wire.link_result(7)


def test_message_headers():
    assert wire.pack_message(101, b"ab") == struct.pack("<HI", 101, 2) + b"ab"
    assert wire.pack_message(2, b"", serial=9) == struct.pack("<QHII", 9, 2, 0, 0)
    wire.check_size(10, 10, 1)
    with pytest.raises(ProtocolError, match="type 5"):
        wire.check_size(11, 10, 5)


def test_payload_reader_is_bounded():
    p = wire.Payload(struct.pack("<BHIQi", 1, 2, 3, 4, -5) + b"xyz", "test message")
    assert (p.u8(), p.u16(), p.u32(), p.u64(), p.i32()) == (1, 2, 3, 4, -5)
    assert bytes(p.rest()) == b"xyz" and p.remaining == 0
    with pytest.raises(ProtocolError, match="test message ends early"):
        p.u8()
    with pytest.raises(ProtocolError):
        wire.Payload(b"ab").take(-1)
    with pytest.raises(ProtocolError):
        wire.Payload(b"ab").seek(3)
