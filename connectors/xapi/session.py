"""A logged-in XenAPI session on a pool: calls, renewal and the way to the master.

- ``login`` tries ``session.login_with_password``; a pool member answers HOST_IS_SLAVE
  with the master's address, and the session follows it (a few hops at most: a pool
  whose master is changing may point on once more).
- ``call`` puts the session reference first, as XenAPI wants. SESSION_INVALID (the
  server restarted, or the session timed out) logs in again with the kept password and
  repeats the call once; HOST_IS_SLAVE on a call (the master was demoted) follows to the
  new master and repeats it.
- Certificates are pinned per address (``PinBook``): an address without a pin raises
  ``UntrustedCertificate`` carrying what the server showed, for the caller to ask the
  user and come back with the pin.

Each thread gets its own Channel (transport.py), so the event loop's long wait and the
commands never share a socket. Blocking: call from worker threads.
"""
from __future__ import annotations

import threading
from typing import Any

from connectors.xapi import tls, wire
from connectors.xapi.transport import Channel

API_VERSION = "2.21"
ORIGINATOR = "HVConsole"
MAX_MASTER_HOPS = 3


class UntrustedCertificate(Exception):
    """No certificate is trusted yet for this address: ask the user about ``shown``."""

    def __init__(self, shown: tls.ServerCertificate) -> None:
        self.shown = shown
        super().__init__(f"The certificate of {shown.address} ({shown.fingerprint}) is "
                         "not trusted yet")


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """HOST_IS_SLAVE names the master as "host" or "host:port" (IPv6 in brackets)."""
    text = address.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() \
            else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, default_port


class PinBook:
    """Trusted certificate fingerprints by "host:port" (thread-safe)."""

    def __init__(self, pins: dict[str, str] | None = None) -> None:
        self._pins = dict(pins or {})
        self._lock = threading.Lock()

    @staticmethod
    def key(host: str, port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def get(self, host: str, port: int) -> str | None:
        with self._lock:
            return self._pins.get(self.key(host, port))

    def set(self, host: str, port: int, fingerprint: str) -> None:
        with self._lock:
            self._pins[self.key(host, port)] = fingerprint

    def require(self, host: str, port: int) -> str:
        """The pin for host:port. An address met for the first time (the master a
        member pointed to) that shows a certificate already trusted at another address
        of this pool is the same server identity, and pinned without asking; any other
        raises UntrustedCertificate with what it shows."""
        pin = self.get(host, port)
        if pin is not None:
            return pin
        shown = tls.fetch(host, port)
        with self._lock:
            known = shown.fingerprint in self._pins.values()
        if not known:
            raise UntrustedCertificate(shown)
        self.set(host, port, shown.fingerprint)
        return shown.fingerprint


class Session:
    def __init__(self, host: str, port: int, user: str, password: str,
                 pins: PinBook) -> None:
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self.pins = pins
        self.ref = ""
        self.logins = 0          # how many times a session was opened (renewals included)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._channels: list[Channel] = []
        self._closed = False

    # ---- channels ----

    def channel(self) -> Channel:
        """This thread's channel to the current master (a new one after a move)."""
        if self._closed:
            raise ConnectionError(f"the session with {self.host}:{self.port} was closed")
        channel: Channel | None = getattr(self._local, "channel", None)
        if channel is None or (channel.host, channel.port) != (self.host, self.port):
            if channel is not None:
                channel.close()
            channel = Channel(self.host, self.port, self.pins.require(self.host, self.port))
            self._local.channel = channel
            with self._lock:
                self._channels.append(channel)
        return channel

    def close_channels(self) -> None:
        """Ends the session's traffic for good (logout, disconnect, a new connection):
        every thread's channel is shut, a blocked read included, and no call opens
        another; the pool makes a new Session for its next connection."""
        with self._lock:
            self._closed = True
            channels, self._channels = self._channels, []
        for channel in channels:
            channel.shut()

    # ---- logging in ----

    def login(self) -> str:
        """Opens a session at the master (following HOST_IS_SLAVE); its reference."""
        for _hop in range(MAX_MASTER_HOPS + 1):
            try:
                ref = self.channel().call("session.login_with_password",
                                          [self.user, self._password, API_VERSION,
                                           ORIGINATOR])
            except wire.XapiFailure as failure:
                if failure.code == "HOST_IS_SLAVE" and failure.params:
                    self.move_to(failure.params[0])
                    continue
                raise
            if not isinstance(ref, str) or not ref:
                raise wire.ProtocolError("the server's login answer is not a session")
            with self._lock:
                self.ref = ref
                self.logins += 1
            return ref
        raise wire.ProtocolError(f"the pool's master kept moving ({MAX_MASTER_HOPS} hops)")

    def move_to(self, master: str) -> None:
        """Points the session at the pool master ``master`` (an address from XAPI)."""
        host, port = split_address(master, self.port)
        self.host, self.port = host, port

    def logout(self) -> None:
        ref = self.ref
        self.ref = ""
        if ref:
            try:
                self.channel().call("session.logout", [ref])
            except (wire.XapiFailure, wire.ProtocolError, OSError, UntrustedCertificate):
                pass
        self.close_channels()

    # ---- calls ----

    def call(self, method: str, *args: Any) -> Any:
        """``method(session, *args)``: renews an expired session and follows a moved
        master, each once, then repeats the call."""
        renewed = moved = False
        while True:
            ref = self.ref or self.login()
            try:
                return self.channel().call(method, [ref, *args])
            except wire.XapiFailure as failure:
                if failure.code == "SESSION_INVALID" and not renewed:
                    renewed = True
                    self._expire(ref)
                    continue
                if failure.code == "HOST_IS_SLAVE" and failure.params and not moved:
                    moved = True
                    self.move_to(failure.params[0])
                    self._expire(ref)
                    continue
                raise

    def _expire(self, ref: str) -> None:
        with self._lock:
            if self.ref == ref:
                self.ref = ""
