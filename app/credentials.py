"""Answers libvirt's credential requests: from the vault when it can, from the user once.

The rules a user can rely on:
- A remembered password is tried once. When the server rejects it, the next attempt asks
  the user (saying the saved one was not accepted) instead of trying it again: no loop,
  no lock-out from repeated wrong logins.
- What the user typed is stored only after the server accepted it, and only when "Remember
  password" was ticked: a wrong typed password stores nothing.
- Secrets go to the vault and back to libvirt, nowhere else: not in a log record, not in
  an event, not in an exception text.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from app.vault import Vault, VaultError, VaultStatus, secret_key
from connectors.libvirt.model import CredentialRequest, CredentialType
from connectors.libvirt.uri import ParsedURI, validate_uri

log = logging.getLogger(__name__)

_NAMES = (CredentialType.USERNAME, CredentialType.AUTHNAME)
_SECRETS = (CredentialType.PASSPHRASE, CredentialType.NOECHOPROMPT)


@dataclass(frozen=True)
class CredentialPrompt:
    """What the dialog shows: the requests, values filled in where known, a note."""

    uri: str
    requests: list[CredentialRequest]
    defaults: list[str]
    note: str = ""                  # "The saved password ... was not accepted."
    vault: VaultStatus = field(default_factory=lambda: VaultStatus(False, "none", ""))


@dataclass(frozen=True)
class CredentialAnswer:
    values: list[str]
    remember: bool = False


AskUser = Callable[[CredentialPrompt], Awaitable[CredentialAnswer | None]]


class _Sealed:
    """Carries values read from the vault out of a worker thread. The loop's executor
    may log a future's result at DEBUG level (qasync does); this one prints as nothing."""

    __slots__ = ("values",)

    def __init__(self, values: list[str | None]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return "<sealed credentials>"


def is_auth_failure(reason: str) -> bool:
    """libvirt's words for rejected credentials (SASL, libssh, ssh)."""
    text = reason.lower()
    return any(words in text for words in ("authentication failed", "permission denied",
                                           "auth failed", "authentication unavailable"))


class CredentialBroker:
    """The connection manager's auth handler (``await broker(uri, requests)``)."""

    def __init__(self, ask: AskUser, vault: Vault,
                 unlock: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.ask = ask
        self.vault = vault
        self.unlock = unlock        # opens a locked encrypted file that already exists
        self._unlock_declined = False
        self._stale: set[str] = set()          # stored secrets the server rejected
        self._used_stored: set[str] = set()    # the attempt under way used stored ones
        self._pending: dict[str, list[tuple[str, str]]] = {}

    def set_vault(self, vault: Vault) -> None:
        self.vault = vault

    async def __call__(self, uri: str, requests: list[CredentialRequest]
                       ) -> list[str] | None:
        parsed = validate_uri(uri)
        status = await asyncio.to_thread(self.vault.status)
        if not status.usable and await self._offer_unlock():
            status = await asyncio.to_thread(self.vault.status)
        values = await self._from_vault(parsed, requests, status, uri not in self._stale)
        if all(v is not None for v in values):
            self._used_stored.add(uri)
            self._pending.pop(uri, None)
            return [v or "" for v in values]
        self._used_stored.discard(uri)
        defaults = [v if v is not None and r.type not in _SECRETS else r.default
                    for v, r in zip(values, requests, strict=False)]
        note = ""
        if uri in self._stale:
            note = (f"The saved password for {parsed.display_name} was not accepted. Enter "
                    "the current one.")
        answer = await self.ask(CredentialPrompt(uri, requests, defaults, note, status))
        if answer is None:
            self._pending.pop(uri, None)
            return None
        self._pending[uri] = self._to_store(parsed, requests, answer) if answer.remember \
            else []
        return list(answer.values)

    async def _offer_unlock(self) -> bool:
        """A locked encrypted file with saved passwords: ask for its password once per
        session (not again after the user declined)."""
        if self.unlock is None or self._unlock_declined \
                or not await asyncio.to_thread(self.vault.exists):
            return False
        if await self.unlock():
            return True
        self._unlock_declined = True
        return False

    def connected(self, uri: str) -> asyncio.Future | None:
        """The server accepted what we gave: remember what the user asked us to (in the
        background; the returned future ends when it is stored)."""
        self._stale.discard(uri)
        self._used_stored.discard(uri)
        pending = self._pending.pop(uri, None)
        if pending:
            return asyncio.ensure_future(self._store(pending))
        return None

    def failed(self, uri: str, reason: str) -> bool:
        """The attempt failed. True when a stored secret was just rejected: the caller
        tries once more, and that attempt asks the user."""
        self._pending.pop(uri, None)
        if uri in self._used_stored and is_auth_failure(reason):
            self._used_stored.discard(uri)
            self._stale.add(uri)
            return True
        return False

    async def forget(self, uri: str) -> int:
        """Deletes what is saved for this server; how many entries there were."""
        parsed = validate_uri(uri)
        self._stale.discard(uri)
        return await asyncio.to_thread(self._forget_blocking, parsed)

    def _forget_blocking(self, parsed: ParsedURI) -> int:
        if not self.vault.status().usable:
            return 0
        name_key = secret_key("authname", parsed.user, parsed)
        users = {parsed.user}
        removed = 0
        try:
            stored_name = self.vault.get(name_key)
        except VaultError:
            return 0
        if stored_name is not None:
            users.add(stored_name)
            self.vault.delete(name_key)
            removed += 1
        for user in users:
            for kind in _SECRETS:
                key = secret_key(kind.value, user, parsed)
                if self.vault.get(key) is not None:
                    self.vault.delete(key)
                    removed += 1
        return removed

    async def has_saved(self, uri: str) -> bool:
        parsed = validate_uri(uri)

        def look() -> bool:
            if not self.vault.status().usable:
                return False
            name = parsed.user or self.vault.get(secret_key("authname", "", parsed)) or ""
            return any(self.vault.get(secret_key(k.value, name, parsed)) is not None
                       for k in _SECRETS)
        try:
            return await asyncio.to_thread(look)
        except VaultError:
            return False

    # ---- internals ----

    async def _from_vault(self, parsed: ParsedURI, requests, status: VaultStatus,
                          use_secrets: bool) -> list[str | None]:
        if not status.usable:
            return [parsed.user if r.type in _NAMES and parsed.user else None
                    for r in requests]

        def read() -> _Sealed:
            name = parsed.user or self.vault.get(secret_key("authname", "", parsed))
            out: list[str | None] = []
            for request in requests:
                if request.type in _NAMES:
                    out.append(name)
                elif request.type in _SECRETS and use_secrets and name is not None:
                    out.append(self.vault.get(secret_key(request.type.value, name, parsed)))
                else:
                    out.append(None)
            return _Sealed(out)
        try:
            return (await asyncio.to_thread(read)).values
        except VaultError as exc:
            log.warning("%s", exc)     # our sentence: says which keyring and why
            return [None] * len(requests)

    @staticmethod
    def _to_store(parsed: ParsedURI, requests, answer: CredentialAnswer
                  ) -> list[tuple[str, str]]:
        name = parsed.user
        for request, value in zip(requests, answer.values, strict=False):
            if request.type in _NAMES and value:
                name = value
        entries: list[tuple[str, str]] = []
        if name and name != parsed.user:
            entries.append((secret_key("authname", parsed.user, parsed), name))
        for request, value in zip(requests, answer.values, strict=False):
            if request.type in _SECRETS and value:
                entries.append((secret_key(request.type.value, name, parsed), value))
        return entries

    async def _store(self, entries: list[tuple[str, str]]) -> None:
        def write() -> None:
            for key, value in entries:
                self.vault.set(key, value)
        try:
            await asyncio.to_thread(write)
        except VaultError as exc:
            log.warning("could not remember the password: %s", exc)


__all__ = ["AskUser", "CredentialAnswer", "CredentialBroker", "CredentialPrompt",
           "is_auth_failure"]
