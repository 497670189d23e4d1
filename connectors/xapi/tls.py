"""The server certificate of a XAPI host: its fingerprint, and the pin every socket checks.

XenServer and XCP-ng hosts ship a self-signed certificate, so a CA check says nothing
about them; what a user can check is the certificate's SHA-256 fingerprint (``xe
host-get-server-certificate`` or the host's console shows it). HVConsole therefore skips
the CA chain and pins the fingerprint instead, as XenCenter does: the first contact shows
it for the user to trust; afterwards every TLS socket — API calls, the event loop, RRD
downloads, consoles — compares the certificate it is offered with the trusted one before
sending a byte, and a different one is refused with ``CertificateChanged``.
Blocking: call from a worker thread.
"""
from __future__ import annotations

import base64
import hashlib
import socket
import ssl
from dataclasses import dataclass

CONNECT_TIMEOUT_S = 10.0


class CertificateError(Exception):
    """The server's certificate could not be fetched or is not the trusted one."""


class CertificateChanged(CertificateError):
    """The server offers another certificate than the one trusted: refuse, loudly."""

    def __init__(self, address: str, offered: str, trusted: str) -> None:
        self.address = address
        self.offered = offered
        self.trusted = trusted
        super().__init__(
            f"The TLS certificate of {address} has CHANGED: it now shows {offered}, not "
            f"the {trusted} you trusted. Someone may be intercepting the connection, or "
            "the host's certificate was replaced. HVConsole refuses to connect; if the "
            f"change is expected, delete the line of {address} from HVConsole's "
            "trusted-certificates.json (in ~/.config/hvconsole) and connect again.")


def fingerprint_of(der: bytes) -> str:
    """SHA256:<base64 without padding>, the form shown and pinned."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def hex_fingerprint(fingerprint: str) -> str:
    """The same digest as ``openssl x509 -fingerprint -sha256`` prints it (AA:BB:…)."""
    body = fingerprint.removeprefix("SHA256:")
    raw = base64.b64decode(body + "=" * (-len(body) % 4))
    return ":".join(f"{b:02X}" for b in raw)


@dataclass(frozen=True)
class ServerCertificate:
    address: str            # "host:port" as shown
    fingerprint: str        # SHA256:…


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The chain is not checked (self-signed by design); the pin below replaces it.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def open_tls(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S
             ) -> tuple[ssl.SSLSocket, str]:
    """A TLS socket to host:port and the fingerprint of the certificate it showed."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ConnectionError(f"{_address(host, port)} cannot be reached: "
                              f"{exc.strerror or exc}") from None
    try:
        sock = _context().wrap_socket(raw, server_hostname=host)
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        raise ConnectionError(f"No TLS session with {_address(host, port)}: {exc}") from None
    der = sock.getpeercert(binary_form=True)
    if not der:
        sock.close()
        raise CertificateError(f"{_address(host, port)} showed no certificate")
    return sock, fingerprint_of(der)


def open_pinned(host: str, port: int, pin: str, timeout: float = CONNECT_TIMEOUT_S
                ) -> ssl.SSLSocket:
    """A TLS socket whose certificate is the pinned one; CertificateChanged otherwise."""
    sock, offered = open_tls(host, port, timeout)
    if offered != pin:
        sock.close()
        raise CertificateChanged(_address(host, port), offered, pin)
    return sock


def fetch(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> ServerCertificate:
    """What the server shows on first contact (the socket is closed at once)."""
    sock, fingerprint = open_tls(host, port, timeout)
    sock.close()
    return ServerCertificate(_address(host, port), fingerprint)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
