"""A throwaway certificate authority for the TLS console tests, made with the
cryptography package (already a dependency): a CA, a server certificate for given names
and addresses, and the directories in the layouts QEMU and HVConsole read
(ca-cert.pem, server-cert.pem / server-key.pem, client-cert.pem / client-key.pem)."""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class ThrowawayCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str = "HVConsole test CA") -> "ThrowawayCA":
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(_name(common_name)).issuer_name(_name(common_name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, names: tuple[str, ...] = (),
              addresses: tuple[str, ...] = (), client: bool = False) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for a server (or a client) with these SANs."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        usage = x509.oid.ExtendedKeyUsageOID
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(common_name)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage(
                       [usage.CLIENT_AUTH if client else usage.SERVER_AUTH]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def server_dir(self, directory: Path, names: tuple[str, ...] = ("localhost",),
                   addresses: tuple[str, ...] = ("127.0.0.1",)) -> Path:
        """QEMU's tls-creds-x509 server layout (also what Xvnc's -X509Cert/-X509Key get)."""
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = self.issue(names[0] if names else "server", names, addresses)
        (directory / "ca-cert.pem").write_bytes(self.pem)
        (directory / "server-cert.pem").write_bytes(cert)
        (directory / "server-key.pem").write_bytes(key)
        (directory / "server-key.pem").chmod(0o600)
        return directory

    def client_dir(self, directory: Path, with_client_cert: bool = False) -> Path:
        """What HVConsole reads: ca-cert.pem, and client-cert.pem/-key.pem if asked."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca-cert.pem").write_bytes(self.pem)
        if with_client_cert:
            cert, key = self.issue("hvconsole-client", client=True)
            (directory / "client-cert.pem").write_bytes(cert)
            (directory / "client-key.pem").write_bytes(key)
            (directory / "client-key.pem").chmod(0o600)
        return directory
