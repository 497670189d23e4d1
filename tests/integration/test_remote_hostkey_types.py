"""Host keys of several types on a real sshd (127.0.0.1): trusting one type is enough.

ssh-keyscan against a slow host can return only some of its keys. The check asks again for
exactly the trusted types before it calls a key changed, so a partial answer never turns a
known host into a refused one, while a host that no longer offers any trusted key still is.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from connectors.libvirt.hostkeys import HostKey, KeyStatus, KnownHosts, check, scan
from tests.conftest import unavailable
from tests.integration.remote_services import Sshd, missing_tools

pytestmark = [pytest.mark.integration]


@pytest.fixture
def two_key_sshd():
    missing = missing_tools("sshd", "ssh-keyscan", "ssh-keygen")
    if missing:
        unavailable(f"missing: {', '.join(missing)} (scripts/setup.sh installs them)")
    server = Sshd.create()
    ecdsa = server.root / "host_ecdsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(ecdsa)],
                   check=True)
    server.extra_config = f"HostKey {ecdsa}\n"
    server.start()
    yield server, ecdsa
    server.close()


def _key(pub: Path) -> HostKey:
    key_type, blob = pub.read_text().split()[:2]
    return HostKey(key_type, blob)


def test_scan_can_ask_for_one_key_type(two_key_sshd):
    server, ecdsa = two_key_sshd
    every = scan("127.0.0.1", server.port)
    assert {k.key_type for k in every} == {"ssh-ed25519", "ecdsa-sha2-nistp256"}
    only = scan("127.0.0.1", server.port, types=("ecdsa-sha2-nistp256",))
    assert only == (_key(Path(f"{ecdsa}.pub")),)


def test_trusting_either_type_is_known(two_key_sshd, tmp_path):
    server, ecdsa = two_key_sshd
    known = KnownHosts(tmp_path / "known_hosts")
    known.add("127.0.0.1", server.port, [_key(Path(f"{ecdsa}.pub"))])
    assert check("127.0.0.1", server.port, known).status is KeyStatus.KNOWN


def test_a_host_without_the_trusted_type_is_refused(two_key_sshd, tmp_path):
    server, _ecdsa = two_key_sshd
    other = tmp_path / "other_rsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(other)],
                   check=True)
    known = KnownHosts(tmp_path / "known_hosts")
    known.add("127.0.0.1", server.port, [_key(Path(f"{other}.pub"))])
    result = check("127.0.0.1", server.port, known)
    assert result.status is KeyStatus.CHANGED
    assert "CHANGED" in result.describe()
