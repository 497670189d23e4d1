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

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            sock = tls.open_pinned(self.host, self.port, self.pin)
            sock.settimeout(self.timeout)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            conn.sock = sock
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

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

