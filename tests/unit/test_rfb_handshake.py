"""The RFB handshake against scripted servers of each version, written from the RFB
document: what the client must send back, and how refusals read."""
from __future__ import annotations

import asyncio
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from connectors.console.rfb import messages as m
from connectors.console.rfb.client import RfbClient
from connectors.console.state import AuthenticationError, ConsoleError
from tests.unit.rfb_helpers import ScriptedServer, handshake_38, server_init

CHALLENGE = bytes(range(16))


def connect(data: bytes, **kwargs) -> tuple[RfbClient, bytes]:
    server = ScriptedServer(data)

    async def go():
        client = RfbClient(server, **kwargs)
        await asyncio.wait_for(client.connect(), 10)
        await asyncio.sleep(0.05)
        sent = server.received()
        client.close()
        return client, sent
    return asyncio.run(go())


def after_init(sent: bytes, version: bytes) -> bytes:
    assert sent.startswith(version)
    return sent[len(version):]


def test_rfb_33_security_none_has_no_result_word():
    data = b"RFB 003.003\n" + struct.pack(">I", m.SEC_NONE) + server_init(32, 16, b"old")
    client, sent = connect(data)
    rest = after_init(sent, b"RFB 003.003\n")
    assert rest[0] == 1  # ClientInit: shared
    assert rest[1:21] == m.set_pixel_format()
    assert client.name == "old" and client.framebuffer.width == 32


def test_rfb_37_picks_none_and_reads_no_result():
    data = b"RFB 003.007\n" + bytes([2, m.SEC_VNC_AUTH, m.SEC_NONE]) + server_init(8, 8)
    client, sent = connect(data)
    assert after_init(sent, b"RFB 003.007\n")[:2] == bytes([m.SEC_NONE, 1])


def test_newer_versions_are_answered_as_38():
    data = b"RFB 003.889\n" + bytes([1, 1]) + struct.pack(">I", 0) + server_init(8, 8)
    client, sent = connect(data)
    assert client.version == (3, 8) and sent.startswith(b"RFB 003.008\n")


def des_reference(key: bytes, block: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def test_vnc_auth_answers_with_des_of_the_bit_reversed_password():
    data = (b"RFB 003.008\n" + bytes([1, m.SEC_VNC_AUTH]) + CHALLENGE + struct.pack(">I", 0)
            + server_init(8, 8))

    async def password():
        return "pass"
    client, sent = connect(data, password=password)
    rest = after_init(sent, b"RFB 003.008\n")
    assert rest[0] == m.SEC_VNC_AUTH
    # "pass" = 70 61 73 73; each byte's bits mirrored: 0e 86 ce ce, padded with zeros.
    key = bytes([0x0E, 0x86, 0xCE, 0xCE, 0, 0, 0, 0])
    assert rest[1:17] == des_reference(key, CHALLENGE)


def test_wrong_password_reads_the_servers_reason():
    data = (b"RFB 003.008\n" + bytes([1, m.SEC_VNC_AUTH]) + CHALLENGE + struct.pack(">I", 1)
            + struct.pack(">I", 14) + b"Authentication")

    async def password():
        return "nope"
    with pytest.raises(AuthenticationError, match="refused the password: Authentication") as err:
        connect(data, password=password)
    assert err.value.needs_password


def test_no_password_available_says_so():
    data = b"RFB 003.008\n" + bytes([1, m.SEC_VNC_AUTH]) + CHALLENGE
    with pytest.raises(AuthenticationError, match="needs a password") as err:
        connect(data)
    assert err.value.needs_password


def test_unsupported_security_types_are_named():
    data = b"RFB 003.008\n" + bytes([2, 30, 5])  # Apple's Diffie-Hellman, RA2
    with pytest.raises(AuthenticationError, match="offered: 30, 5"):
        connect(data)


def test_refusal_before_security_carries_the_reason():
    data = b"RFB 003.003\n" + struct.pack(">I", 0) + struct.pack(">I", 9) + b"too many!"
    with pytest.raises(ConsoleError, match="refused the connection: too many!"):
        connect(data)


def test_not_a_vnc_server():
    with pytest.raises(ConsoleError, match="not a VNC server"):
        connect(b"SSH-2.0-OpenSSH_9.2\r\n")


def test_keys_use_scancodes_once_the_server_offers_them():
    server = ScriptedServer(handshake_38(), eof=False)

    async def go():
        client = RfbClient(server)
        await client.connect()
        await asyncio.sleep(0.05)
        server.received()
        client.send_key(True, 0x61, 0x1E)
        client.has_scancodes = True
        client.send_key(True, 0x61, 0x1E)
        client.send_combo([(0x1D, 0xFFE3), (0x38, 0xFFE9), (0xD3, 0xFFFF)])
        await asyncio.sleep(0.05)
        sent = server.received()
        client.close()
        return sent
    sent = asyncio.run(go())
    assert sent[:8] == struct.pack(">BBxxI", 4, 1, 0x61)
    assert sent[8:20] == struct.pack(">BBHII", 255, 0, 1, 0x61, 0x1E)
    presses = [struct.unpack(">BBHII", sent[i:i + 12]) for i in range(20, 20 + 6 * 12, 12)]
    assert [(p[2], p[4]) for p in presses] == [(1, 0x1D), (1, 0x38), (1, 0xD3),
                                               (0, 0xD3), (0, 0x38), (0, 0x1D)]
