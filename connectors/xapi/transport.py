"""One pinned HTTPS channel to a XAPI host: JSON-RPC calls, GETs and CONNECT.

A ``Channel`` keeps one keep-alive connection (http.client over a socket from
tls.open_pinned) and is used by one thread at a time: the pool gives each worker and the
event loop their own, so a 30-second ``event.from`` never holds up a command. A connection
the server closed is opened again once, transparently, for the next request.
Blocking: call from worker threads.
"""
from __future__ import annotations

import http.client
import itertools
import socket
from typing import Any

from connectors.xapi import tls, wire

JSONRPC_PATH = "/jsonrpc"
# event.from waits up to its own 30 s timeout server-side: the socket waits longer.
READ_TIMEOUT_S = 60.0


class Channel:
    def __init__(self, host: str, port: int, pin: str,
                 timeout: float = READ_TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self.pin = pin
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._ids = itertools.count(1)
        self._shut = False

    def _connection(self) -> http.client.HTTPConnection:
        if self._shut:
            raise ConnectionError(f"the channel to {self.host}:{self.port} was closed")
        if self._conn is None:
            sock = tls.open_pinned(self.host, self.port, self.pin)
            sock.settimeout(self.timeout)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            conn.sock = sock
            self._conn = conn
        return self._conn

    def shut(self) -> None:
        """Closes the channel for good, also from another thread: a read blocked in it
        (an event.from waiting its 30 s) wakes, and a call that was about to start
        fails instead of opening a new connection. Python joins executor threads at
        exit: without this, quitting with a pool connected took up to 30 s more."""
        self._shut = True
        self.close()

    def close(self) -> None:
        """Drops the connection (the next request opens another); the socket is shut
        down first, which wakes a read blocked in it on another thread."""
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        if conn.sock is not None:
            try:
                # The plain socket's shutdown: SSLSocket.shutdown would drop the TLS
                # object under the reading thread's feet.
                socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)
            except OSError:
                pass
        conn.close()

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call: its value, or XapiFailure / ProtocolError / OSError."""
        body = wire.encode_request(method, params, next(self._ids))
        status, payload = self._exchange("POST", JSONRPC_PATH, body,
                                         {"Content-Type": "application/json"})
        if status != 200:
            raise wire.ProtocolError(f"the server answered HTTP {status} to {method}")
        return wire.parse_json_response(payload)

    def get(self, path: str) -> bytes:
        """A GET (/rrd_updates, /host_rrd …): the body; ProtocolError for a non-200."""
        status, payload = self._exchange("GET", path, None, {})
        if status != 200:
            raise wire.ProtocolError(f"the server answered HTTP {status} to GET "
                                     f"{path.split('?')[0]}")
        return payload

    def _exchange(self, verb: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(verb, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                if response.will_close:
                    self.close()
                return response.status, payload
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.BadStatusLine):
                self.close()
                if not reused or attempt == 2:
                    raise ConnectionError(f"{self.host}:{self.port} closed the "
                                          "connection") from None
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        raise AssertionError("unreachable")

