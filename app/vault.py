"""Where remembered passwords live: the desktop's keyring, or a file the user unlocks.

Service name ``HVConsole``; one entry per credential, keyed
``<credential-type>:<user>@<host>:<port>/<scheme>``, for example
``passphrase:alice@kvm1.example.org:16509/qemu+tcp`` (the SASL password of alice) or
``authname:@kvm1.example.org:16509/qemu+tcp`` (the user name typed for a URI that names
none). The port is the transport's default when the URI gives none.

The backend is chosen here, never by ``keyring.get_keyring()``: with keyrings.cryptfile
installed, keyring's own automatic choice may fall back to an encrypted file that asks for
its password on a terminal the user cannot see, or to a plaintext file. HVConsole uses a
system keyring (the Secret Service of GNOME Keyring or KWallet, ...) when one answers, and
otherwise says so and offers ``EncryptedFileVault``: keyrings.cryptfile's Argon2id +
AES-GCM file in $XDG_DATA_HOME/hvconsole/secrets.cfg, unlocked with a password the user
types once per session. There is no plaintext fallback.

Every call may block (D-Bus, Argon2): call from a worker thread.
"""
from __future__ import annotations

import functools
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from connectors.atomic_file import replace_text
from connectors.libvirt.uri import ParsedURI

log = logging.getLogger(__name__)

SERVICE = "HVConsole"
DEFAULT_PORTS = {"ssh": 22, "libssh": 22, "libssh2": 22, "tcp": 16509, "tls": 16514, "": 16514}
_NOT_A_SYSTEM_KEYRING = ("keyring.backends.fail", "keyring.backends.chainer",
                         "keyring.backends.null", "keyrings.cryptfile", "keyrings.alt",
                         __name__)   # our own encrypted file (_atomic_crypt_file_keyring)


def secret_key(kind: str, user: str, parsed: ParsedURI) -> str:
    """The keyring entry name for one credential of one server."""
    port = parsed.port or DEFAULT_PORTS.get(parsed.transport, 0)
    scheme = f"{parsed.driver}+{parsed.transport}" if parsed.transport else parsed.driver
    return f"{kind}:{user}@{parsed.host}:{port}/{scheme}"


@dataclass(frozen=True)
class VaultStatus:
    usable: bool
    name: str          # "Secret Service (GNOME Keyring)", "encrypted file", "none"
    message: str       # a sentence for the user when it is not usable


class VaultError(Exception):
    """The keyring refused (locked, gone); worded for the user."""


class Vault:
    """The common face of the places a password can be kept."""

    @property
    def name(self) -> str:
        return "none"

    def status(self) -> VaultStatus:
        raise NotImplementedError

    def get(self, key: str) -> str | None:
        raise NotImplementedError

    def set(self, key: str, secret: str) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def exists(self) -> bool:
        """A store that is locked but holds saved passwords (an encrypted file): worth
        offering to unlock. Stores that are never locked: False."""
        return False


class KeyringVault(Vault):
    """A system keyring through the keyring package; ``backend`` is picked by
    ``system_backend()`` unless a test hands one in."""

    def __init__(self, backend=None) -> None:
        self._backend = backend
        self._chosen = backend is not None

    def _pick(self):
        if not self._chosen:
            self._backend = system_backend()
            self._chosen = True
        return self._backend

    @property
    def name(self) -> str:
        backend = self._pick()
        return str(backend.name) if backend else "none"

    def status(self) -> VaultStatus:
        if self._pick() is None:
            return VaultStatus(False, "none",
                               "No system keyring (Secret Service) is running, so HVConsole "
                               "cannot remember passwords there. You can keep them in an "
                               "encrypted file instead, unlocked with a password of your "
                               "own once per session, or type them each time.")
        return VaultStatus(True, self.name, "")

    def get(self, key: str) -> str | None:
        backend = self._require()
        try:
            return backend.get_password(SERVICE, key)
        except Exception as exc:  # noqa: BLE001 - keyring raises many kinds
            raise VaultError(f"The keyring could not be read: {exc}") from None

    def set(self, key: str, secret: str) -> None:
        backend = self._require()
        try:
            backend.set_password(SERVICE, key, secret)
        except Exception as exc:  # noqa: BLE001
            raise VaultError(f"The keyring refused to store the password: {exc}") from None

    def delete(self, key: str) -> None:
        backend = self._require()
        try:
            backend.delete_password(SERVICE, key)
        except Exception as exc:  # noqa: BLE001 - "not found" is fine
            log.debug("nothing to delete for %s: %s", key.split(":", 1)[0], type(exc).__name__)

    def _require(self):
        backend = self._pick()
        if backend is None:
            raise VaultError(self.status().message)
        return backend


def system_backend():
    """The best keyring backend that is a real system keyring, or None.

    Only backends that keep secrets in a desktop service count; keyring's fail and
    chainer backends and any file-based backend are skipped."""
    try:
        from keyring.backend import KeyringBackend, get_all_keyring
    except ImportError:
        return None
    get_all_keyring()   # loads the backend plugins; its answer is cached for the process,
    candidates = []     # so viability is asked afresh: a keyring started later counts
    for cls in KeyringBackend._classes:
        if cls.__module__.startswith(_NOT_A_SYSTEM_KEYRING):
            continue
        try:
            priority = cls.priority
        except Exception:  # noqa: BLE001 - a backend that cannot run says so by raising
            continue
        if priority > 0:
            candidates.append((priority, cls))
    if not candidates:
        return None
    candidates.sort(key=lambda pair: pair[0], reverse=True)
    try:
        return candidates[0][1]()
    except Exception:  # noqa: BLE001
        return None


def encrypted_file_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "hvconsole" / "secrets.cfg"


@functools.cache
def _atomic_crypt_file_keyring_class():
    """keyrings.cryptfile's keyring, saving through ``replace_file``: the library itself
    rewrites the file in place (open "w", then write), so a crash or a full disk while one
    password was being saved would lose every password in it."""
    import configparser

    from keyring.errors import PasswordDeleteError
    from keyrings.cryptfile.cryptfile import CryptFileKeyring
    from keyrings.cryptfile.escape import escape

    class AtomicCryptFileKeyring(CryptFileKeyring):
        def _read(self) -> configparser.RawConfigParser:
            config = configparser.RawConfigParser()
            config.read(self.file_path)
            return config

        def _save(self, config: configparser.RawConfigParser) -> None:
            text = io.StringIO()
            config.write(text)
            replace_text(self.file_path, text.getvalue())

        def _write_config_value(self, service, key, value):
            config = self._read()
            section = escape(service)
            if not config.has_section(section):
                config.add_section(section)
            config.set(section, escape(key), value)
            self._save(config)

        def delete_password(self, service, username):
            config = self._read()
            try:
                found = config.remove_option(escape(service), escape(username))
            except configparser.NoSectionError:
                found = False
            if not found:
                raise PasswordDeleteError("Password not found")
            self._save(config)

    return AtomicCryptFileKeyring


def _atomic_crypt_file_keyring():
    # One class for the process: keyring registers every backend class ever defined.
    return _atomic_crypt_file_keyring_class()()


class EncryptedFileVault(KeyringVault):
    """keyrings.cryptfile's encrypted file; locked until ``unlock(password)``."""

    def __init__(self, path: str | os.PathLike | None = None, *, time_cost: int | None = None
                 ) -> None:
        backend = _atomic_crypt_file_keyring()
        backend.file_path = str(path or encrypted_file_path())
        if time_cost is not None:   # tests only: Argon2's default cost takes a second
            backend.time_cost = time_cost
        super().__init__(backend)
        self.path = Path(backend.file_path)
        self.unlocked = False

    @property
    def name(self) -> str:
        return "encrypted file"

    def exists(self) -> bool:
        return self.path.is_file()

    def unlock(self, password: str) -> None:
        """Opens the file (creating it on first use); VaultError for a wrong password."""
        if not password.strip():
            raise VaultError("The password of the encrypted file cannot be empty.")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._backend.keyring_key = password
        except ValueError:
            raise VaultError("That is not the password of the encrypted password file."
                             ) from None
        self.unlocked = True

    def status(self) -> VaultStatus:
        if not self.unlocked:
            return VaultStatus(False, self.name, f"The encrypted password file {self.path} "
                               "is locked.")
        return VaultStatus(True, self.name, "")

    def _require(self):
        if not self.unlocked:
            raise VaultError(self.status().message)
        return self._backend


__all__ = ["EncryptedFileVault", "KeyringVault", "SERVICE", "Vault", "VaultError",
           "VaultStatus", "encrypted_file_path", "secret_key", "system_backend"]
