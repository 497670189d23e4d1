"""SSH host keys of remote libvirt hosts: what the host offers against what the user trusts.

libvirt's ``ssh`` transport runs the ssh binary, and a GUI process has no terminal for ssh
to ask "are you sure you want to continue connecting?". Run as it is, ssh either hangs on
a terminal the user cannot see or fails with "Host key verification failed". So before
opening a ``+ssh`` URI, HVConsole fetches the host's public keys itself (``ssh-keyscan``)
and compares them with the known_hosts file (``ssh-keygen -F``, which also understands
hashed entries): a known key connects, an unknown one is shown to the user with its
fingerprint to accept, a changed one is refused.

The file is the user's own ``~/.ssh/known_hosts``: it is the one the ssh binary started by
libvirt checks (libvirt's ``known_hosts`` URI parameter exists only for its libssh and
libssh2 transports), and it keeps HVConsole, virsh and a plain ``ssh`` agreeing on whom
they trust. Everything here blocks: call it from a worker thread.
"""
from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.atomic_file import PRIVATE, replace_file

DEFAULT_SSH_PORT = 22
SCAN_TIMEOUT_S = 5
# The order OpenSSH's client prefers host key types in: the key it will meet first.
_PREFERENCE = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
               "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


def default_known_hosts() -> Path:
    """The file ssh reads for this user (its home from the password database, as ssh)."""
    try:
        import pwd
        home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError):
        home = Path.home()
    return home / ".ssh" / "known_hosts"


def known_hosts_name(host: str, port: int | None) -> str:
    """How known_hosts names a host: ``host`` on port 22, ``[host]:port`` otherwise."""
    if port in (None, DEFAULT_SSH_PORT):
        return host
    return f"[{host}]:{port}"


@dataclass(frozen=True)
class HostKey:
    key_type: str      # "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
    blob: str          # the base64 public key as known_hosts stores it

    @property
    def fingerprint(self) -> str:
        """SHA256:<base64>, the form ssh prints and administrators compare."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def label(self) -> str:
        return {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA"}.get(
            self.key_type, self.key_type.split("-")[0].upper())


class KeyStatus(enum.Enum):
    KNOWN = "known"          # a key the host offers is trusted: connect
    UNKNOWN = "unknown"      # first contact: the user decides
    CHANGED = "changed"      # the host offers another key than the trusted one: refuse


@dataclass(frozen=True)
class HostKeyCheck:
    host: str
    port: int | None
    status: KeyStatus
    offered: tuple[HostKey, ...]
    trusted: tuple[HostKey, ...] = ()

    @property
    def name(self) -> str:
        return known_hosts_name(self.host, self.port)

    def describe(self) -> str:
        """The sentence a user reads about this check."""
        shown = ", ".join(f"{k.label} {k.fingerprint}" for k in self.offered)
        if self.status is KeyStatus.CHANGED:
            return (f"The SSH host key of {self.name} has CHANGED: it now offers {shown}, "
                    "which is not the key you trusted before. Someone may be intercepting "
                    "the connection, or the host was reinstalled. HVConsole refuses to "
                    "connect; if the change is expected, remove the old key with "
                    f"`ssh-keygen -R '{self.name}'` and connect again.")
        if self.status is KeyStatus.UNKNOWN:
            return (f"HVConsole has never connected to {self.name} before. Its SSH host key "
                    f"fingerprint is {shown}. Compare it with the host's own "
                    "(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host) "
                    "before you trust it.")
        return f"{self.name} is a known host ({shown})."


class HostKeyError(Exception):
    """The host's key could not be fetched or checked; worded for the user."""


def preferred_first(keys: Iterable[HostKey]) -> tuple[HostKey, ...]:
    def rank(key: HostKey) -> int:
        return _PREFERENCE.index(key.key_type) if key.key_type in _PREFERENCE else 99
    return tuple(sorted(keys, key=rank))


def scan(host: str, port: int | None, timeout: int = SCAN_TIMEOUT_S,
         types: tuple[str, ...] = ()) -> tuple[HostKey, ...]:
    """The public keys the SSH server at host:port offers, preferred first; ``types``
    (known_hosts key types) limits the scan to those."""
    command = ["ssh-keyscan", "-T", str(timeout), "-p", str(port or DEFAULT_SSH_PORT)]
    scan_types = sorted({_scan_type(t) for t in types})
    if scan_types:
        command += ["-t", ",".join(scan_types)]
    command.append(host)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 5,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise HostKeyError("ssh-keyscan is not installed (Debian: openssh-client), so the "
                           "host key cannot be checked.") from None
    except subprocess.TimeoutExpired:
        raise HostKeyError(f"{known_hosts_name(host, port)} did not show its SSH host key "
                           f"within {timeout} s. Check that the host is up and that SSH "
                           "runs on that port.") from None
    keys = _parse_lines(done.stdout)
    if not keys:
        raise HostKeyError(f"No SSH server answered at {known_hosts_name(host, port)}. "
                           "Check the host name and port.")
    return preferred_first(keys)


class KnownHosts:
    """A known_hosts file: look a host up (hashed entries too) and add keys to it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_known_hosts()

    def lookup(self, host: str, port: int | None) -> tuple[HostKey, ...]:
        if not self.path.is_file():
            return ()
        command = ["ssh-keygen", "-F", known_hosts_name(host, port), "-f", str(self.path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise HostKeyError("ssh-keygen is not installed (Debian: openssh-client), so "
                               "the host key cannot be checked.") from None
        return _parse_lines(done.stdout)

    def add(self, host: str, port: int | None, keys: Iterable[HostKey]) -> None:
        """Adds the keys for host:port (what ssh does when you answer "yes"). The file
        is rewritten whole (replace_file), not appended to: an append cut short by a crash
        or a full disk leaves half a line that ssh then rejects for every host."""
        name = known_hosts_name(host, port)
        lines = "".join(f"{name} {k.key_type} {k.blob}\n" for k in keys)
        try:
            before = self.path.read_bytes()
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            before, mode = b"", PRIVATE
        if before and not before.endswith(b"\n"):
            before += b"\n"
        # A symlinked known_hosts (dotfiles kept in a repository) stays a symlink.
        replace_file(os.path.realpath(self.path), before + lines.encode("utf-8"), mode)

    def remove(self, host: str, port: int | None) -> None:
        """Drops every key of host:port (``ssh-keygen -R``)."""
        if self.path.is_file():
            subprocess.run(["ssh-keygen", "-R", known_hosts_name(host, port), "-f",
                            str(self.path)], capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
            Path(f"{self.path}.old").unlink(missing_ok=True)


def check(host: str, port: int | None, known: KnownHosts,
          timeout: int = SCAN_TIMEOUT_S) -> HostKeyCheck:
    """Compares the keys the host offers with the trusted ones (blocking)."""
    offered = scan(host, port, timeout)
    trusted = known.lookup(host, port)
    trusted_types = tuple({k.key_type for k in trusted})
    if trusted and not any(k.key_type in trusted_types for k in offered):
        # A slow server can answer ssh-keyscan with only some of its keys; before calling
        # the key changed, ask it once more for exactly the types the user trusts.
        try:
            offered = preferred_first(offered + scan(host, port, timeout, trusted_types))
        except HostKeyError:
            pass
    status = classify(offered, trusted)
    return HostKeyCheck(host, port, status, offered, trusted)


def classify(offered: Sequence[HostKey], trusted: Sequence[HostKey]) -> KeyStatus:
    """KNOWN when a trusted key is offered and no trusted type comes with another key;
    CHANGED when a type the user trusts now comes with a different key; else UNKNOWN."""
    if not trusted:
        return KeyStatus.UNKNOWN
    trusted_by_type: dict[str, set[str]] = {}
    for key in trusted:
        trusted_by_type.setdefault(key.key_type, set()).add(key.blob)
    matched = False
    for key in offered:
        blobs = trusted_by_type.get(key.key_type)
        if blobs is None:
            continue
        if key.blob in blobs:
            matched = True
        else:
            return KeyStatus.CHANGED
    return KeyStatus.KNOWN if matched else KeyStatus.CHANGED


def _scan_type(key_type: str) -> str:
    """ssh-keyscan's -t name for a known_hosts key type."""
    if key_type.startswith("ecdsa-"):
        return "ecdsa"
    if key_type in ("ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"):
        return "rsa"
    return key_type.removeprefix("ssh-")


def _parse_lines(text: str) -> tuple[HostKey, ...]:
    keys = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if parts[0].startswith("@"):      # @cert-authority / @revoked markers
            continue
        if len(parts) >= 3 and _is_base64(parts[2]):
            keys.append(HostKey(parts[1], parts[2]))
    return tuple(dict.fromkeys(keys))


def _is_base64(blob: str) -> bool:
    """A key line whose key is not base64 (a damaged known_hosts line) is not a key: its
    fingerprint could not even be shown (found by benchmarks/fuzz_campaign.py)."""
    try:
        base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


__all__ = ["HostKey", "HostKeyCheck", "HostKeyError", "KeyStatus", "KnownHosts", "check",
           "classify", "default_known_hosts", "known_hosts_name", "scan"]
