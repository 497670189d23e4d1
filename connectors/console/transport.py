"""Ways to reach a console's byte stream: all end in one asyncio (reader, writer) pair,
so a protocol client (RFB now, SPICE later) never knows which one it got.

- ``TcpTransport``: host and port from the domain XML or a vnc:// / .vv address.
- ``SocketTransport``: an already-connected socket, e.g. the fd libvirt's
  virDomainOpenGraphicsFD hands over for a local VM (no TCP port needed).
- ``CommandTransport``: a helper process whose stdin/stdout is the stream, which is how a
  console of a qemu+ssh:// host travels: ``ssh -W host:port`` or ``ssh ... nc -U socket``.
"""
from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol, Sequence

from connectors.console.state import ConsoleError

CONNECT_TIMEOUT_S = 10.0
# asyncio's default reader limit only bounds readline(); big reads go through readexactly.
READ_LIMIT = 1 << 20


@dataclass
class Channel:
    """An open byte stream; ``close()`` ends it and whatever carries it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    description: str
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - closing twice or on a dead loop is harmless
            pass
        for closer in self._closers:
            closer()
        self._closers.clear()


class Transport(Protocol):
    description: str

    async def open(self) -> Channel: ...


class TcpTransport:
    def __init__(self, host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.description = f"{host}:{port}"

    async def open(self) -> Channel:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=READ_LIMIT), self.timeout)
        except asyncio.TimeoutError:
            raise ConsoleError(f"{self.description} did not answer within "
                               f"{self.timeout:g} s.") from None
        except OSError as err:
            raise ConsoleError(f"Cannot reach {self.description}: "
                               f"{err.strerror or err}.") from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Channel(reader, writer, self.description)


class SocketTransport:
    """Wraps a connected socket obtained elsewhere. ``get_fd`` is awaited on every open, so
    a reconnect asks libvirt for a fresh fd; the Channel owns (and closes) the socket."""

    def __init__(self, get_fd: Callable[[], Awaitable[int]], description: str) -> None:
        self.get_fd = get_fd
        self.description = description

    async def open(self) -> Channel:
        fd = await self.get_fd()
        try:
            sock = socket.socket(fileno=fd)
            sock.setblocking(False)
        except OSError as err:
            raise ConsoleError(f"The console socket from {self.description} is unusable: "
                               f"{err.strerror or err}.") from None
        reader, writer = await asyncio.open_connection(sock=sock, limit=READ_LIMIT)
        return Channel(reader, writer, self.description)


class CommandTransport:
    """A process whose stdin/stdout carries the stream (``ssh -W`` for remote hosts)."""

    def __init__(self, argv: Sequence[str], description: str) -> None:
        self.argv = list(argv)
        self.description = description

    async def open(self) -> Channel:
        # One end of a socket pair is the process's stdin and stdout: a socket (unlike
        # two pipes) can be upgraded to TLS in place, which VeNCrypt needs.
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=theirs.fileno(), stdout=theirs.fileno(),
                stderr=asyncio.subprocess.DEVNULL)
        except OSError as err:
            ours.close()
            raise ConsoleError(f"Cannot start {self.argv[0]}: {err.strerror or err}.") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=ours, limit=READ_LIMIT)

        def stop() -> None:
            if proc.returncode is None:
                proc.kill()

        return Channel(reader, writer, self.description, [stop])


def ssh_tunnel(ssh_target: str, host: str, port: int | None = None,
               socket_path: str | None = None, ssh_port: int | None = None) -> CommandTransport:
    """The console of a VM on a qemu+ssh:// host, reached through SSH alone: to a TCP
    port the host listens on (``-W``), or to a UNIX socket with ``nc -U`` on the host."""
    argv = ["ssh", "-o", "BatchMode=yes", "-T"]
    if ssh_port:
        argv += ["-p", str(ssh_port)]
    if socket_path:
        argv += [ssh_target, "nc", "-U", socket_path]
        where = socket_path
    elif port:
        argv += ["-W", f"{host}:{port}", ssh_target]
        where = f"{host}:{port}"
    else:
        raise ValueError("an SSH tunnel needs a port or a socket path")
    return CommandTransport(argv, f"{where} through {ssh_target}")
