"""The window's answers to app.remote_access: which dialog asks what, parented to the window.

Kept apart from the dialogs so each dialog stays a plain widget with one job, and apart
from the launcher so it can be tested with a real window.

``unattended`` (a ``--screenshot`` run: a script, nobody at the screen) opens no dialog:
every question is answered "no" at once, and ``unanswered[uri]`` says for that server
what a script must provide beforehand (a password kept in the keyring, a certificate
pinned in the URI, a known SSH host key). A dialog nobody answers would otherwise hold
the run until its time ran out and leave the question on the picture.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.vault import EncryptedFileVault, VaultError
from connectors.libvirt.uri import validate_uri
from widgets.dialogs.credentials import ask_remote_credentials
from widgets.dialogs.host_key import ask_trust_host_key
from widgets.dialogs.server_certificate import ask_trust_certificate
from widgets.dialogs.vault_password import ask_vault_password

if TYPE_CHECKING:
    from app.remote_access import RemoteAccess

UNLOCK_TRIES = 3


NO_PASSWORD = ("no password for it is kept in the keyring, and a --screenshot run asks "
               "nobody (store it first: see README, Scripted runs)")
UNTRUSTED = ("its certificate ({fingerprint}) is not trusted yet, and a --screenshot run "
             "asks nobody: pin it in the address (?fingerprint={fingerprint})")
UNKNOWN_KEY = ("its SSH host key is not in ~/.ssh/known_hosts yet, and a --screenshot run "
               "asks nobody (check it with ssh once)")


class RemotePrompts:
    def __init__(self, window=None, unattended: bool = False) -> None:
        self.window = window
        self.remote: RemoteAccess | None = None
        self._remember: dict[str, bool] = {}
        self.unattended = unattended
        # uri (a host name for SSH host keys) -> what a script must provide first
        self.unanswered: dict[str, str] = {}

    def unanswered_for(self, uri: str) -> str:
        """What was asked about ``uri`` and answered "no" for nobody, or ""."""
        if uri in self.unanswered:
            return self.unanswered[uri]
        try:
            host = validate_uri(uri).host
        except ValueError:
            return ""
        return self.unanswered.get(host or "", "")

    def remember_by_default(self, uri: str, remember: bool) -> None:
        """Add Server's "Remember password" box: the credentials dialog starts ticked."""
        try:
            uri = validate_uri(uri).uri
        except ValueError:
            return
        self._remember[uri] = remember

    async def credentials(self, prompt):
        if self.unattended:
            self.unanswered[prompt.uri] = NO_PASSWORD
            return None
        return await ask_remote_credentials(self.window, prompt, self.unlock_file,
                                            self._remember.get(prompt.uri, False))

    async def host_key(self, check) -> bool:
        if self.unattended:
            self.unanswered[check.host] = UNKNOWN_KEY
            return False
        return await ask_trust_host_key(self.window, check)

    async def certificate(self, uri, shown) -> bool:
        """A XenServer / XCP-ng host's certificate on first contact."""
        if self.unattended:
            self.unanswered[uri] = UNTRUSTED.format(fingerprint=shown.fingerprint)
            return False
        return await ask_trust_certificate(self.window, shown)

    async def unlock_file(self) -> bool:
        """Asks for the encrypted file's password (creating the file on first use)."""
        if self.remote is None or self.unattended:
            return False
        vault = self.remote.file_vault or EncryptedFileVault()
        error = ""
        for _ in range(UNLOCK_TRIES):
            password = await ask_vault_password(self.window, str(vault.path),
                                                creating=not vault.exists(), error=error)
            if password is None:
                return False
            try:
                await self.remote.unlock_encrypted_file(password, vault)
                return True
            except VaultError as exc:
                error = str(exc)
        return False
