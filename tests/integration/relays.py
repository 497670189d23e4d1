"""A UNIX-socket relay in front of libvirtd's socket, for tests that play a bad host.

The host connects to ``qemu+unix:///system?socket=<relay>``: for the client, cutting the
relay's connections is exactly what libvirtd going away looks like (EOF on its socket),
refusing new connections makes retries fail, ``frozen`` swallows every byte (a host that
hangs without closing) and ``delay_s`` holds each new connection that long before it
reaches libvirtd (a daemon slow to answer its first call).
"""
from __future__ import annotations

import os
import socket
import threading
import time

LIBVIRT_SOCKET = "/var/run/libvirt/libvirt-sock"


class SocketRelay:
    """Forwards a private UNIX socket to libvirtd's; can drop everything on demand."""

    def __init__(self, path: str, delay_s: float = 0.0):
        self.path = path
        self.delay_s = delay_s
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.frozen = False   # swallow every byte: a host that hangs without closing

    def listen(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop_listening(self) -> None:
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        if os.path.exists(self.path):
            os.unlink(self.path)

    def cut(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        time.sleep(self.delay_s)
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(LIBVIRT_SOCKET)
        with self.lock:
            self.sockets += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if not self.frozen:
                    dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
