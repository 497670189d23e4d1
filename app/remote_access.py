"""Remote hosts as administrators reach them: SSH host keys checked, credentials remembered.

``RemoteAccess`` plugs into the connection manager at three points:
- the connect guard: before an ``+ssh``/``+libssh``/``+libssh2`` URI is opened, the host's
  key is fetched and compared with ~/.ssh/known_hosts (connectors.libvirt.hostkeys). A
  known key connects; an unknown one is shown to the user, whose "trust" adds it to
  known_hosts; a changed one is refused with a warning in the tree and the Events log.
  Reconnects after a lost connection skip the dialog but not the check: libvirt's ssh
  runs in batch mode (``no_tty=1``) and refuses any key known_hosts does not hold.
- the auth handler: a ``CredentialBroker`` over the vault (system keyring or the
  encrypted file the user unlocked).
- state changes: a successful connect stores what the user asked to remember; a rejected
  stored password triggers exactly one more attempt, which asks the user.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Awaitable, Callable

from PySide6.QtCore import QObject

from app.credentials import AskUser, CredentialBroker
from app.vault import EncryptedFileVault, KeyringVault, Vault, encrypted_file_path
from connectors.atomic_file import write_failure
from connectors.libvirt import hostkeys
from connectors.libvirt.hostkeys import HostKeyCheck, HostKeyError, KeyStatus, KnownHosts
from connectors.libvirt.model import ConnectError, ConnState
from connectors.libvirt.uri import SSH_TRANSPORTS, validate_uri

log = logging.getLogger(__name__)

CONNECTION = "connection"
HOST_KEY_TIMEOUT_S = 15.0

AskHostKey = Callable[[HostKeyCheck], Awaitable[bool]]


class RemoteAccess(QObject):
    def __init__(self, manager, events_log, ask_credentials: AskUser,
                 ask_host_key: AskHostKey, *, vault: Vault | None = None,
                 known_hosts: KnownHosts | None = None,
                 unlock_vault: Callable[[], Awaitable[bool]] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Weakly: the manager holds our guard, and a cycle of Qt objects may be freed by
        # the cycle collector on a libvirt worker thread (see ConnectionManager).
        self._manager = weakref.ref(manager)
        self.events_log = events_log
        self.ask_host_key = ask_host_key
        self.known_hosts = known_hosts or KnownHosts()
        self.file_vault: EncryptedFileVault | None = None
        if vault is None:
            vault = KeyringVault()
            # The file first: asking the keyring loads and probes every keyring backend
            # (a D-Bus round trip), which start-up then waits for only when it matters.
            if encrypted_file_path().is_file() and not vault.status().usable:
                # Passwords were kept in the encrypted file before: offer to open it.
                vault = self.file_vault = EncryptedFileVault()
        self.broker = CredentialBroker(ask_credentials, vault, unlock_vault)
        manager.set_auth_handler(self.broker)
        manager.set_connect_guard(self.check_host_key)
        manager.stateChanged.connect(self._state_changed)

    @property
    def manager(self):
        return self._manager()

    # ---- vaults ----

    async def unlock_encrypted_file(self, password: str,
                                    vault: EncryptedFileVault | None = None) -> None:
        """Switches remembering to the encrypted file (VaultError for a wrong password)."""
        vault = vault or self.file_vault or EncryptedFileVault()
        await asyncio.to_thread(vault.unlock, password)
        self.file_vault = vault
        self.broker.set_vault(vault)

    async def forget_password(self, conn_id: str) -> int:
        """Deletes every saved credential of the server; how many there were (the action
        that calls this words the outcome in its own Events row)."""
        manager = self.manager
        host = manager.server(conn_id) if manager is not None else None
        if host is None:
            return 0
        return await self.broker.forget(host.uri)

    async def has_saved_password(self, conn_id: str) -> bool:
        """Whether anything is saved for the server (Forget Saved Password is offered)."""
        manager = self.manager
        host = manager.server(conn_id) if manager is not None else None
        return host is not None and await self.broker.has_saved(host.uri)

    # ---- host keys ----

    async def check_host_key(self, uri: str) -> None:
        """The connect guard: returns to connect, raises ConnectError to refuse."""
        parsed = validate_uri(uri)
        if parsed.transport not in SSH_TRANSPORTS:
            return
        if _skips_host_key_check(parsed.params):
            self.events_log.add(
                "warning", CONNECTION, parsed.display_name,
                f"The SSH host key of {parsed.display_name} was not checked: the URI says "
                "no_verify=1, so any server answering at this address is trusted.")
            return
        try:
            check = await asyncio.wait_for(
                asyncio.to_thread(hostkeys.check, parsed.host, parsed.port,
                                  self.known_hosts), HOST_KEY_TIMEOUT_S)
        except HostKeyError as exc:
            raise ConnectError(str(exc)) from None
        except asyncio.TimeoutError:
            raise ConnectError(f"{parsed.display_name} did not show its SSH host key "
                               f"within {HOST_KEY_TIMEOUT_S:g} s.") from None
        if check.status is KeyStatus.KNOWN:
            return
        if check.status is KeyStatus.CHANGED:
            raise ConnectError(check.describe())
        if not await self.ask_host_key(check):
            raise ConnectError(f"Not connected: the SSH host key of {check.name} was not "
                               "trusted.")
        try:
            await asyncio.to_thread(self.known_hosts.add, parsed.host, parsed.port,
                                    check.offered)
        except OSError as exc:
            # ssh checks the key against the file: unsaved, the connection cannot go on.
            raise ConnectError(write_failure(f"the SSH host key of {check.name}",
                                             self.known_hosts.path, exc)) from None
        shown = ", ".join(f"{k.label} {k.fingerprint}" for k in check.offered)
        self.events_log.add("info", CONNECTION, parsed.display_name,
                            f"Trusted the SSH host key of {check.name} ({shown}); saved in "
                            f"{self.known_hosts.path}")

    # ---- connection outcomes ----

    def _state_changed(self, conn_id: str) -> None:
        manager = self.manager
        host = manager.server(conn_id) if manager is not None else None
        if host is None:
            return
        if host.state is ConnState.CONNECTED:
            self.broker.connected(host.uri)
        elif host.state in (ConnState.DISCONNECTED, ConnState.RECONNECTING) and host.reason:
            if self.broker.failed(host.uri, host.reason) \
                    and host.state is ConnState.DISCONNECTED:
                asyncio.ensure_future(manager.reconnect(conn_id))


def _skips_host_key_check(params: dict[str, str]) -> bool:
    """libvirt's documented ``no_verify`` URI parameter: a non-zero number switches off the
    host-key check of its ssh, libssh and libssh2 transports (ssh gets
    StrictHostKeyChecking=no). HVConsole honours it the same way; anything libvirt would
    not read as a number it refuses itself, so here it checks as usual."""
    try:
        return int(params.get("no_verify", "0")) != 0
    except ValueError:
        return False


__all__ = ["AskHostKey", "RemoteAccess"]
