"""A VM's console through XAPI: HTTP CONNECT to its console location, then RFB.

XAPI serves each running VM's console at ``https://<host>/console?ref=OpaqueRef:…``
(the console object's ``location``). The client opens TLS to that host (the certificate
pinned as for every XAPI socket), sends ``CONNECT /console?ref=…&session_id=… HTTP/1.0``
and, after ``HTTP/1.1 200 OK`` and the header's blank line, the same stream carries the
guest's RFB session: the console widget's RFB client (connectors/console) takes it
as any other transport. All on the asyncio loop: nothing blocks.
"""
from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from connectors.console.state import ConsoleError
from connectors.console.transport import READ_LIMIT, Channel
from connectors.xapi.tls import CONNECT_TIMEOUT_S, CertificateChanged, fingerprint_of

MAX_HEADER_BYTES = 16384


@dataclass(frozen=True)
class ConsoleTarget:
    """Where a console is: host and port, the CONNECT path (session included), the pin."""

    host: str
    port: int
    path: str
    pin: str
    description: str


def console_target(location: str, session_ref: str, default_port: int, pin_for:
                   Callable[[str, int], str], name: str) -> ConsoleTarget:
    """The target of a console ``location`` (an https URL from XAPI)."""
    parts = urllib.parse.urlsplit(location)
    if not parts.hostname:
        raise ConsoleError(f"The console of {name} has no usable location: {location!r}")
    port = parts.port or default_port
    query = f"{parts.query}&" if parts.query else ""
    path = f"{parts.path or '/console'}?{query}session_id={session_ref}"
    return ConsoleTarget(parts.hostname, port, path, pin_for(parts.hostname, port),
                         f"{name} (XAPI console on {parts.hostname})")


class XapiConsoleTransport:
    """``open()`` asks ``locate`` for a fresh target each time (a new session after a
    reconnect, the host the VM now runs on) and returns the RFB byte stream."""

    def __init__(self, locate: Callable[[], Awaitable[ConsoleTarget]], description: str,
                 timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.locate = locate
        self.description = description
        self.timeout = timeout

    async def open(self) -> Channel:
        target = await self.locate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE     # pinned below, as every XAPI socket
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(target.host, target.port, ssl=context,
                                        server_hostname=target.host, limit=READ_LIMIT),
                self.timeout)
        except asyncio.TimeoutError:
            raise ConsoleError(f"{target.host}:{target.port} did not answer within "
                               f"{self.timeout:g} s.") from None
        except (OSError, ssl.SSLError) as err:
            raise ConsoleError(f"Cannot reach the console at {target.host}:{target.port}: "
                               f"{err}.") from None
        channel = Channel(reader, writer, target.description)
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            offered = fingerprint_of(der) if der else ""
            if offered != target.pin:
                raise ConsoleError(str(CertificateChanged(f"{target.host}:{target.port}",
                                                          offered or "no certificate",
                                                          target.pin)))
            writer.write(f"CONNECT {target.path} HTTP/1.0\r\nHost: {target.host}\r\n\r\n"
                         .encode())
            await writer.drain()
            header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError,
                asyncio.TimeoutError) as err:
            channel.close()
            raise ConsoleError(f"The console at {target.host} did not answer the CONNECT "
                               f"({type(err).__name__}).") from None
        except ConsoleError:
            channel.close()
            raise
        status = header.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        parts = status.split()
        if len(parts) < 2 or parts[1] != "200":
            channel.close()
            raise ConsoleError(f"The server refused the console: {status}")
        return channel
