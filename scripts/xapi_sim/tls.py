"""The simulator's TLS identity: a self-signed certificate for 127.0.0.1 and localhost,
made with the cryptography package, optionally kept in a PEM file (key and certificate)
so a restarted simulator shows the same fingerprint, or a new one on request, which is
how a test makes "the server's certificate changed"."""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _make_pem(common_name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + cert.public_bytes(serialization.Encoding.PEM))


def fingerprint(cert_pem: bytes) -> str:
    """SHA256:AB:CD:... of the certificate's DER bytes (what a browser or XenCenter shows)."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return "SHA256:" + ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


class Identity:
    def __init__(self, path: str | None = None, renew: bool = False,
                 common_name: str = "xapi-sim") -> None:
        if path and Path(path).exists() and not renew:
            pem = Path(path).read_bytes()
        else:
            pem = _make_pem(common_name)
            if path:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(pem)
        self.pem = pem
        start = pem.index(b"-----BEGIN CERTIFICATE-----")
        self.cert_pem = pem[start:]
        self.fingerprint = fingerprint(self.cert_pem)
        self._path = path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self._path:
            context.load_cert_chain(self._path)
        else:
            with tempfile.NamedTemporaryFile(suffix=".pem") as tmp:
                tmp.write(self.pem)
                tmp.flush()
                context.load_cert_chain(tmp.name)
        return context
