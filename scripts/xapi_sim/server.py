"""The HTTPS front: one listener per simulated host, each a ThreadingHTTPServer whose
connections get their TLS handshake in their own thread (a slow or broken client never
holds up the others). POST / (XML-RPC, or JSON when the body is JSON) and POST /jsonrpc
go to the API; GET /rrd_updates, /host_rrd and /vm_rrd to the RRDs; CONNECT /console to
the console relay. Every failure a request can cause is answered, never raised."""
from __future__ import annotations

import socket
import ssl
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, urlsplit

from . import wire
from .api import Api, Context
from .errors import Failure

MAX_BODY = 64 << 20


class HttpHandlers(Protocol):
    """GET and CONNECT handlers (rrd.py, console.py): write a whole reply on ``request``."""

    def get(self, request: "RequestHandler", path: str, query: dict[str, str]) -> bool: ...

    def connect(self, request: "RequestHandler", path: str, query: dict[str, str]) -> bool: ...


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api, host: str,
                 context: ssl.SSLContext, handlers: list[HttpHandlers]) -> None:
        super().__init__(address, RequestHandler)
        self.api = api
        self.host = host
        self.tls = context
        self.handlers = handlers
        # False while the simulated host is down (rebooting, shut down): no answers then.
        self.is_up: Callable[[], bool] = lambda: True
        self.thread = threading.Thread(target=self.serve_forever, name=f"xapi-sim {address!r}",
                                       kwargs={"poll_interval": 0.2}, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return ":".join((str(host), str(port)))

    def finish_request(self, request: Any, client_address: Any) -> None:
        if not self.is_up():
            return
        try:
            request.settimeout(30)
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            wrapped.settimeout(None)
            super().finish_request(wrapped, client_address)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                wrapped.close()
            except OSError:
                pass

    def shutdown_request(self, request: Any) -> None:
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        request.close()


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Listener
    server_version = "xapi/24.19"
    timeout = 900  # an idle kept-alive connection is closed after 15 minutes
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle_one_request(self) -> None:
        if not self.server.is_up():  # the host went down under a kept-alive connection
            self.close_connection = True
            return
        super().handle_one_request()

    def _split(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return parts.path, query

    def reply(self, status: int, body: bytes, content_type: str = "text/plain",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        path, _ = self._split()
        if path not in ("/", "/RPC2", "/xmlrpc", "/jsonrpc"):
            self.reply(404, b"not found")
            return
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.reply(411 if length < 0 else 413, b"a Content-Length is needed")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            call = wire.decode(body, json_path=path == "/jsonrpc")
        except wire.BadRequest as bad:
            self.reply(200, bad.reply, bad.content_type)
            return
        try:
            value = self.server.api.call(call.method, call.params, Context(self.server.host))
            data, content_type = wire.encode(call, value)
        except Failure as failure:
            data, content_type = wire.encode(call, failure=failure)
        except Exception as err:  # noqa: BLE001 - a bug is an INTERNAL_ERROR reply, not a crash
            traceback.print_exc()
            data, content_type = wire.encode(call, failure=Failure(
                "INTERNAL_ERROR", f"{type(err).__name__}: {err}"))
        self.reply(200, data, content_type)

    def do_GET(self) -> None:  # noqa: N802
        path, query = self._split()
        try:
            for handler in self.server.handlers:
                if handler.get(self, path, query):
                    return
            self.reply(404, b"not found")
        except (OSError, ssl.SSLError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - answer, never crash
            traceback.print_exc()
            self.reply(500, b"internal error")

    def do_CONNECT(self) -> None:  # noqa: N802
        path, query = self._split()
        try:
            for handler in self.server.handlers:
                if handler.connect(self, path, query):
                    self.close_connection = True
                    return
            self.reply(404, b"not found")
        except (OSError, ssl.SSLError):
            pass
        self.close_connection = True

    def session_ok(self, query: dict[str, str]) -> bool:
        """The session_id of an HTTP request is valid (else a 401 reply was sent)."""
        try:
            self.server.api.check_session(query.get("session_id", ""))
            return True
        except Failure:
            self.reply(401, b"Unauthorised: session_id is not a valid session\n")
            return False
