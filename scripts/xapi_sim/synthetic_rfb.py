"""A minimal RFB (VNC) server for simulated VMs that have no real guest: protocol 3.3,
3.7 or 3.8, security "None", raw encoding, any 32-bit true-colour pixel format the client
asks for. The screen shows the VM's name and power state and echoes the keys typed
(Backspace erases, Return starts over), so a client can check keyboard input and
repaints. One thread per connection; it ends when the client goes or the VM stops."""
from __future__ import annotations

import select
import socket
import ssl
import struct
import time
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 400
BACKGROUND = (16, 32, 56)
FOREGROUND = (230, 230, 230)


class SyntheticScreen:
    def __init__(self, name: str, state: Callable[[], str]) -> None:
        self.name = name
        self.state = state
        self.typed = ""
        self._shown: tuple[str, str] | None = None
        self.pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)

    def key(self, keysym: int) -> None:
        if keysym == 0xFF08:
            self.typed = self.typed[:-1]
        elif keysym == 0xFF0D:
            self.typed = ""
        elif 32 <= keysym < 127:
            self.typed = (self.typed + chr(keysym))[-60:]

    def render(self) -> bool:
        """Redraw if what is shown changed; True when it did."""
        now = (self.state(), self.typed)
        if now == self._shown:
            return False
        self._shown = now
        image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
        draw = ImageDraw.Draw(image)
        draw.text((20, 20), f"XAPI simulator console: {self.name}", fill=FOREGROUND)
        draw.text((20, 44), f"power state: {now[0]}", fill=FOREGROUND)
        draw.text((20, 80), f"> {now[1]}_", fill=(140, 230, 140))
        self.pixels = np.asarray(image, dtype=np.uint8).copy()
        return True


class _Stream:
    """Exact reads over a (TLS) socket without a second thread, with a timeout per wait."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def wait(self, timeout: float) -> None:
        if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buffer += data

    def take(self, n: int) -> bytes | None:
        if len(self.buffer) < n:
            return None
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def read(self, n: int, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EOFError
            self.wait(left)
        data = self.take(n)
        assert data is not None
        return data


# bits per pixel, depth, big endian, true colour, r/g/b max, r/g/b shift
_DEFAULT_FORMAT = (32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
_FORMAT = struct.Struct(">BBBBHHHBBB3x")


def _handshake(stream: _Stream, sock: socket.socket) -> None:
    sock.sendall(b"RFB 003.008\n")
    version = stream.read(12)
    minor = int(version[8:11]) if version[:8] == b"RFB 003." and version[8:11].isdigit() else 8
    if minor < 7:
        sock.sendall(struct.pack(">I", 1))
    else:
        sock.sendall(b"\x01\x01")
        if stream.read(1) != b"\x01":
            raise EOFError
        if minor >= 8:
            sock.sendall(struct.pack(">I", 0))
    stream.read(1)  # ClientInit: shared flag


def serve_rfb(sock: socket.socket, screen: SyntheticScreen) -> None:
    stream = _Stream(sock)
    try:
        _handshake(stream, sock)
        screen.render()
        name = screen.name.encode()
        sock.sendall(struct.pack(">HH", WIDTH, HEIGHT) + _FORMAT.pack(*_DEFAULT_FORMAT)
                     + struct.pack(">I", len(name)) + name)
        _session(stream, sock, screen)
    except (EOFError, OSError, ValueError, struct.error):
        return


def _session(stream: _Stream, sock: socket.socket, screen: SyntheticScreen) -> None:
    pixel_format = _DEFAULT_FORMAT
    pending: tuple[int, int, int, int] | None = None
    while screen.state() in ("Running", "Paused"):
        message = _next_message(stream)
        if message is None:
            stream.wait(0.5)
        else:
            kind, body = message
            if kind == 0:
                pixel_format = _FORMAT.unpack(body[3:])
                if pixel_format[0] != 32 or not pixel_format[3]:
                    raise ValueError("only 32-bit true colour is served")
            elif kind == 3:
                incremental, x, y, w, h = struct.unpack(">BHHHH", body)
                changed = screen.render()
                if incremental and not changed:
                    pending = (x, y, w, h)
                    continue
                _send_update(sock, screen, pixel_format, (x, y, w, h))
                pending = None
            elif kind == 4:
                down, keysym = struct.unpack(">B2xI", body)
                if down:
                    screen.key(keysym)
        if pending is not None and screen.render():
            _send_update(sock, screen, pixel_format, pending)
            pending = None


def _next_message(stream: _Stream) -> tuple[int, bytes] | None:
    """One whole client message (type, body after the type byte) if it has arrived."""
    if not stream.buffer:
        return None
    kind = stream.buffer[0]
    sizes = {0: 19, 3: 9, 4: 7, 5: 5}
    if kind in sizes:
        size = sizes[kind]
    elif kind == 2:
        if len(stream.buffer) < 4:
            return None
        size = 3 + 4 * struct.unpack(">H", stream.buffer[2:4])[0]
    elif kind == 6:
        if len(stream.buffer) < 8:
            return None
        size = 7 + struct.unpack(">I", stream.buffer[4:8])[0]
    else:
        raise ValueError(f"unknown client message {kind}")
    data = stream.take(1 + size)
    return None if data is None else (kind, data[1:])


def _send_update(sock: socket.socket, screen: SyntheticScreen, pixel_format: tuple[int, ...],
                 area: tuple[int, int, int, int]) -> None:
    x, y, w, h = area
    x, y = min(x, WIDTH - 1), min(y, HEIGHT - 1)
    w, h = max(1, min(w, WIDTH - x)), max(1, min(h, HEIGHT - y))
    rgb = screen.pixels[y:y + h, x:x + w].astype(np.uint32)
    _, _, big_endian, _, r_max, g_max, b_max, r_shift, g_shift, b_shift = pixel_format
    value = (((rgb[..., 0] * r_max // 255) << r_shift) | ((rgb[..., 1] * g_max // 255) << g_shift)
             | ((rgb[..., 2] * b_max // 255) << b_shift)).astype(">u4" if big_endian else "<u4")
    sock.sendall(struct.pack(">BxHHHHHi", 0, 1, x, y, w, h, 0) + value.tobytes())
