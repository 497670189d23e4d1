"""A SPICE server small enough to read, for the client's unit tests: real sockets
(socketpairs), a real RSA key and ticket check, messages built from the SPICE protocol
document's layouts (not from the client's own encoders).

``ScriptedSpice`` plays fixed bytes per channel (for fuzzing); ``FakeSpiceServer``
answers: it links each channel, checks the ticket, sends MAIN_INIT and the channel list,
and records every message the client sends.
"""
from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections import defaultdict

from connectors.console.transport import Channel

MAGIC = b"REDQ"
MINI_HEADER_CAP, AUTH_SELECTION_CAP, AUTH_SPICE_CAP = 1 << 3, 1 << 0, 1 << 1
SERVER_COMMON = AUTH_SELECTION_CAP | AUTH_SPICE_CAP | MINI_HEADER_CAP
MAIN, DISPLAY, INPUTS, CURSOR = 1, 2, 3, 4


@functools.lru_cache(maxsize=None)
def private_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def public_der() -> bytes:
    from cryptography.hazmat.primitives import serialization
    return private_key().public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def decrypt_ticket(data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    return private_key().decrypt(data, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                    algorithm=hashes.SHA1(), label=None))


def link_reply(error: int = 0, common: int | None = SERVER_COMMON,
               channel_caps: tuple[int, ...] = ()) -> bytes:
    """SpiceLinkHeader + SpiceLinkReply (error, 162-byte key, caps counts, offset, caps)."""
    commons = () if common is None else (common,)
    caps = b"".join(struct.pack("<I", c) for c in (*commons, *channel_caps))
    body = struct.pack("<I162sIII", error, public_der(), len(commons), len(channel_caps),
                       4 + 162 + 12) + caps
    return struct.pack("<4sIII", MAGIC, 2, 2, len(body)) + body


def mini(msg_type: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HI", msg_type, len(payload)) + payload


def main_init(session_id: int = 7, mouse_modes: int = 1, mouse_mode: int = 1,
              agent: int = 0, tokens: int = 10) -> bytes:
    return mini(103, struct.pack("<8I", session_id, 1, mouse_modes, mouse_mode, agent,
                                 tokens, 0, 0))


def channels_list(channels) -> bytes:
    return mini(104, struct.pack("<I", len(channels))
                + b"".join(struct.pack("<BB", t, i) for t, i in channels))


def agent_message(msg_type: int, data: bytes) -> bytes:
    """VDAgentMessage: protocol 1, type, opaque 0, size, data."""
    return struct.pack("<IIQI", 1, msg_type, 0, len(data)) + data


def read_messages(data: bytes) -> list[tuple[int, bytes]]:
    """Split a client's stream (after its link) into mini-header messages."""
    out, pos = [], 0
    while pos + 6 <= len(data):
        msg_type, size = struct.unpack_from("<HI", data, pos)
        out.append((msg_type, data[pos + 6:pos + 6 + size]))
        pos += 6 + size
    return out


class ScriptedSpice:
    """Each open() is a socketpair whose far end writes the next script, then ends."""

    def __init__(self, *scripts: bytes, eof: bool = True) -> None:
        self.scripts = list(scripts)
        self.eof = eof
        self.sent: list[bytes] = []   # what the client wrote on each stream, once closed
        self.description = "scripted SPICE server"

    async def open(self) -> Channel:
        ours, theirs = socket.socketpair()
        index = len(self.sent)
        self.sent.append(b"")
        data = self.scripts.pop(0) if self.scripts else b""
        ours.setblocking(False)
        asyncio.get_running_loop().create_task(self._play(ours, data))
        reader, writer = await asyncio.open_connection(sock=theirs)

        def keep_and_close() -> None:
            received = b""
            try:
                while chunk := ours.recv(65536):
                    received += chunk
            except OSError:
                pass
            self.sent[index] += received
            ours.close()
        return Channel(reader, writer, self.description, [keep_and_close])

    async def _play(self, sock: socket.socket, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(sock, data)
            if self.eof:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class FakeSpiceServer:
    """A SPICE server answering the client: link with ticket check, MAIN_INIT, the
    channel list after ATTACH_CHANNELS, INPUTS_INIT; records what each channel sent."""

    def __init__(self, password: str = "", channels=((MAIN, 0), (INPUTS, 0), (CURSOR, 0)),
                 session_id: int = 7, mouse_modes: int = 1, agent: bool = False,
                 tokens: int = 10, mini_header: bool = True, refuse=()) -> None:
        self.password = password
        self.refuse = set(refuse)   # channel types whose link is refused (not available)
        self.channels = list(channels)
        self.session_id = session_id
        self.mouse_modes = mouse_modes
        self.agent = agent
        self.tokens = tokens
        self.mini_header = mini_header
        self.description = "fake SPICE server"
        self.received: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.links: list[tuple[int, int, int]] = []   # (connection id, type, id)
        self.tickets: list[bytes] = []
        self.tasks: list[asyncio.Task] = []
        self.changed = asyncio.Event()

    async def open(self) -> Channel:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        theirs.setblocking(False)
        server_reader, server_writer = await asyncio.open_connection(sock=ours)
        self.tasks.append(asyncio.ensure_future(self._serve(server_reader, server_writer)))
        reader, writer = await asyncio.open_connection(sock=theirs)
        return Channel(reader, writer, self.description)

    def send(self, channel_type: int, data: bytes) -> None:
        self.writers[channel_type].write(data)

    def kill(self) -> None:
        """The server goes away: every connection closes."""
        for writer in self.writers.values():
            writer.close()

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        async def loop():
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            magic, major, _minor, size = struct.unpack("<4sIII", await reader.readexactly(16))
            assert magic == MAGIC and major == 2
            body = await reader.readexactly(size)
            conn_id, ctype, cid, n_common, n_chan, offset = struct.unpack_from("<IBBIII", body)
            client_common = struct.unpack_from(f"<{n_common}I", body, offset)
            self.links.append((conn_id, ctype, cid))
            if ctype in self.refuse:
                writer.write(link_reply(error=9))
                await writer.drain()
                return
            common = SERVER_COMMON if self.mini_header else AUTH_SELECTION_CAP | AUTH_SPICE_CAP
            writer.write(link_reply(common=common))
            if client_common and client_common[0] & AUTH_SELECTION_CAP:
                mechanism = struct.unpack("<I", await reader.readexactly(4))[0]
                assert mechanism == 1, mechanism
            ticket = decrypt_ticket(await reader.readexactly(128))
            self.tickets.append(ticket)
            ok = ticket.split(b"\0")[0] == self.password.encode()
            writer.write(struct.pack("<I", 0 if ok else 7))
            await writer.drain()
            if not ok:
                writer.close()
                return
            self.writers[ctype] = writer
            if ctype == MAIN:
                writer.write(self._frame(main_init(self.session_id, self.mouse_modes, 1,
                                                   int(self.agent), self.tokens)))
            elif ctype == INPUTS:
                writer.write(self._frame(mini(101, struct.pack("<H", 0))))
            self.changed.set()
            use_mini = self.mini_header
            head = 6 if use_mini else 18
            while True:
                raw = await reader.readexactly(head)
                if use_mini:
                    msg_type, size = struct.unpack("<HI", raw)
                else:
                    _serial, msg_type, size, _sub = struct.unpack("<QHII", raw)
                payload = await reader.readexactly(size)
                self.received[ctype].append((msg_type, payload))
                if ctype == MAIN and msg_type == 104:   # ATTACH_CHANNELS
                    writer.write(self._frame(channels_list(self.channels)))
                self.changed.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.changed.set()

    def _frame(self, mini_message: bytes) -> bytes:
        if self.mini_header:
            return mini_message
        msg_type, size = struct.unpack_from("<HI", mini_message)
        return struct.pack("<QHII", 1, msg_type, size, 0) + mini_message[6:]
