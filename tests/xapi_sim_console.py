"""A console client as small as the test needs: CONNECT through the simulator's HTTPS
port, then RFB 3.8 with no security and raw pixels (32-bit, the server's format)."""
from __future__ import annotations

import socket
import struct

import numpy as np

from tests.xapi_sim_helpers import insecure_context


def _read(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def connect_console(address: str, location_path: str, session: str):
    """(TLS socket, the status line); the socket speaks RFB when the status is 200."""
    host, port = address.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=30)
    tls = insecure_context().wrap_socket(raw, server_hostname=host)
    tls.sendall(f"CONNECT {location_path}&session_id={session} HTTP/1.0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = tls.recv(1)
        if not chunk:
            break
        head += chunk
    return tls, head.split(b"\r\n", 1)[0].decode()


class RfbPeek:
    """The RFB handshake and raw framebuffer updates, nothing more."""

    def __init__(self, sock) -> None:
        self.sock = sock
        version = _read(sock, 12)
        assert version.startswith(b"RFB 003.")
        sock.sendall(b"RFB 003.008\n")
        count = _read(sock, 1)[0]
        types = _read(sock, count)
        assert 1 in types, f"no 'None' security offered: {list(types)}"
        sock.sendall(b"\x01")
        assert struct.unpack(">I", _read(sock, 4))[0] == 0
        sock.sendall(b"\x01")
        self.width, self.height = struct.unpack(">HH", _read(sock, 4))
        self.pixel_format = _read(sock, 16)
        self.name = _read(sock, struct.unpack(">I", _read(sock, 4))[0]).decode()
        # ask for 32-bit little-endian BGRX with raw encoding only
        sock.sendall(b"\x00\x00\x00\x00" + struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255,
                                                        255, 255, 16, 8, 0))
        sock.sendall(struct.pack(">BxHi", 2, 1, 0))
        self.frame = np.zeros((self.height, self.width, 3), np.uint8)

    def update(self, incremental: bool = False) -> int:
        """Ask for the screen and apply one FramebufferUpdate; returns its rectangle count."""
        self.sock.sendall(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width,
                                      self.height))
        while True:
            kind = _read(self.sock, 1)[0]
            if kind == 0:
                break
            if kind == 2:  # bell
                continue
            if kind == 3:
                _read(self.sock, 3)
                _read(self.sock, struct.unpack(">I", _read(self.sock, 4))[0])
                continue
            raise AssertionError(f"unexpected server message {kind}")
        _read(self.sock, 1)
        (count,) = struct.unpack(">H", _read(self.sock, 2))
        for _ in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", _read(self.sock, 12))
            assert encoding == 0, f"asked for raw, got encoding {encoding}"
            pixels = np.frombuffer(_read(self.sock, w * h * 4), "<u4").reshape(h, w)
            self.frame[y:y + h, x:x + w, 0] = (pixels >> 16) & 255
            self.frame[y:y + h, x:x + w, 1] = (pixels >> 8) & 255
            self.frame[y:y + h, x:x + w, 2] = pixels & 255
        return count

    def key(self, keysym: int) -> None:
        for down in (1, 0):
            self.sock.sendall(struct.pack(">BBxxI", 4, down, keysym))
