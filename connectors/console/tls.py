"""TLS for a console stream that began in the clear (VNC's VeNCrypt; SPICE's TLS port can
use the same contexts): where the certificates are, the ssl contexts, the upgrade of an
open asyncio stream, and sentences for what went wrong.

Certificates follow QEMU's convention for a TLS client: a directory holding
``ca-cert.pem`` (the CA that signed the server's certificate) and optionally
``client-cert.pem`` + ``client-key.pem`` (for servers that verify clients). The
directory is the one configured for the console, else ``~/.pki/libvirt-vnc``, else
``/etc/pki/libvirt-vnc`` (libvirt's VNC directory: on a libvirt host it already holds the
CA). A ``<dir>/<server name>/`` subdirectory, when present, wins over ``<dir>`` itself,
so servers signed by different CAs can live side by side. With no ``ca-cert.pem`` at all
the system's trusted CAs are used.

Anonymous TLS (VeNCrypt's TLSNone/TLSVnc) needs anonymous Diffie-Hellman cipher suites.
OpenSSL 3 still has them but only at security level 0 and only up to TLS 1.2 (TLS 1.3
has none); they encrypt without proving who the server is, so they only protect against
eavesdroppers, never against someone in the middle.
"""
from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

from connectors.console.state import AuthenticationError, ConsoleError

TLS_HANDSHAKE_TIMEOUT_S = 15.0
CA_FILE, CLIENT_CERT, CLIENT_KEY = "ca-cert.pem", "client-cert.pem", "client-key.pem"
ANONYMOUS_CIPHERS = "aNULL:!eNULL:@SECLEVEL=0"


def default_cert_dirs() -> list[Path]:
    return [Path.home() / ".pki" / "libvirt-vnc", Path("/etc/pki/libvirt-vnc")]


class TlsError(AuthenticationError):
    """The server's certificate (or our TLS setup) was refused: trying again changes
    nothing until the user acts, so a console waits for Reconnect as after a refused
    password. The message says why and what the user can do. A connection that merely
    broke during the handshake is a plain ConsoleError (worth retrying)."""


@dataclass(frozen=True)
class TlsOptions:
    """How a console verifies TLS servers. ``cert_dir``: the certificate directory
    (None: the default ones); ``server_name``: the name the server's certificate must
    carry (None: the host the transport connects to)."""

    cert_dir: Path | None = None
    server_name: str | None = None

    def candidate_dirs(self, server_name: str | None) -> list[Path]:
        bases = [Path(self.cert_dir).expanduser()] if self.cert_dir else default_cert_dirs()
        dirs: list[Path] = []
        for base in bases:
            if server_name:
                dirs.append(base / server_name)
            dirs.append(base)
        return dirs

    def cert_dir_for(self, server_name: str | None) -> Path | None:
        """The first candidate directory with a CA certificate in it."""
        for directory in self.candidate_dirs(server_name):
            if (directory / CA_FILE).is_file():
                return directory
        return None

    def where_to_put_ca(self) -> Path:
        return (Path(self.cert_dir).expanduser() if self.cert_dir
                else default_cert_dirs()[0]) / CA_FILE


def verified_context(options: TlsOptions, server_name: str | None) -> tuple[ssl.SSLContext, str]:
    """A context that checks the server's certificate chain and name; and the clause that
    explains a refused chain (which CA was expected, where to put one)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    directory = options.cert_dir_for(server_name)
    try:
        if directory is None:
            context.load_default_certs()
            looked = " or ".join(str(d) for d in options.candidate_dirs(server_name))
            trust = (f"no ca-cert.pem was found in {looked} and no CA this computer trusts "
                     f"signed it; put the certificate of the CA that signed it in "
                     f"{options.where_to_put_ca()}")
        else:
            context.load_verify_locations(cafile=str(directory / CA_FILE))
            trust = f"it was not signed by the CA in {directory / CA_FILE}"
            cert, key = directory / CLIENT_CERT, directory / CLIENT_KEY
            if cert.is_file() and key.is_file():
                context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as err:
        raise TlsError(f"The certificates in {directory} cannot be used: "
                       f"{getattr(err, 'reason', None) or err}.") from None
    context.check_hostname = bool(server_name)
    return context, trust


def anonymous_context() -> ssl.SSLContext:
    """Anonymous Diffie-Hellman: encryption with no certificate at all."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers(ANONYMOUS_CIPHERS)
    except ssl.SSLError:
        raise TlsError("The server wants anonymous TLS (no certificate), which the OpenSSL "
                       f"library on this computer ({ssl.OPENSSL_VERSION}) no longer "
                       "allows. Ask for X.509 TLS on the server, or use its plain "
                       "VNC port.") from None
    return context


async def upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  context: ssl.SSLContext, server_name: str | None, where: str,
                  trust: str = "") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Runs the TLS handshake on an open stream; the same reader and writer now carry
    the decrypted bytes. Raises TlsError with a sentence for the user."""
    transport = writer.transport
    if not getattr(transport, "_start_tls_compatible", False):
        raise ConsoleError(f"TLS cannot run over the connection to {where} (it is not a "
                           "socket).")
    try:
        await writer.start_tls(context, server_hostname=server_name or None,
                               ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
    except ssl.SSLCertVerificationError as err:
        raise TlsError(certificate_problem(err, where, server_name, trust)) from None
    except ssl.SSLError as err:
        raise TlsError(handshake_problem(err, where)) from None
    except (ConnectionError, asyncio.IncompleteReadError):
        raise ConsoleError(f"{where} closed the connection during the TLS handshake (it "
                           "may not accept this computer's certificate, or none).") from None
    except asyncio.TimeoutError:
        raise ConsoleError(f"{where} did not finish the TLS handshake within "
                           f"{TLS_HANDSHAKE_TIMEOUT_S:g} s.") from None
    return reader, writer


# OpenSSL's X509_V_ERR_* codes that have a plainer sentence.
_UNTRUSTED = {2, 18, 19, 20, 21, 27}
_EXPIRED, _NOT_YET_VALID, _HOSTNAME_MISMATCH, _IP_MISMATCH = 10, 9, 62, 64


def certificate_problem(err: ssl.SSLCertVerificationError, where: str,
                        server_name: str | None, trust: str) -> str:
    code = getattr(err, "verify_code", None)
    detail = getattr(err, "verify_message", None) or str(err)
    if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
        return (f"The certificate of {where} is not made out to {server_name!r} "
                f"({detail}). Connect with the name the certificate carries.")
    if code == _EXPIRED:
        return f"The certificate of {where} has expired."
    if code == _NOT_YET_VALID:
        return f"The certificate of {where} is not valid yet (check the clocks)."
    if code in _UNTRUSTED:
        return (f"The certificate of {where} is not trusted ({detail}): "
                f"{trust or 'no CA this computer trusts signed it'}.")
    return f"The certificate of {where} was refused: {detail}."


def handshake_problem(err: ssl.SSLError, where: str) -> str:
    reason = (getattr(err, "reason", None) or "").upper()
    if "NO_SHARED_CIPHER" in reason or "HANDSHAKE_FAILURE" in reason:
        return (f"TLS with {where} failed: the server and this computer share no cipher "
                f"({err.reason}).")
    if "CERTIFICATE_REQUIRED" in reason or "BAD_CERTIFICATE" in reason or "UNKNOWN_CA" in reason:
        return (f"{where} refused this computer's client certificate ({err.reason}): put "
                f"a client-cert.pem and client-key.pem signed by the server's CA beside "
                f"the ca-cert.pem.")
    return f"TLS with {where} failed: {getattr(err, 'reason', None) or err}."
