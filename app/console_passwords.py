"""The password a console (VNC, or SPICE's ticket) connects with, and "Remember password"
in the keyring.

Order of tries: a password the target states itself (the secure domain XML, a .vv file);
else one remembered in the vault (app.vault: the desktop keyring or the encrypted file),
tried once; after a refusal, what the user types. When the user ticks "Remember password"
the typed one is written to the vault once the server has accepted it, so a mistyped
password is never kept; a remembered one that the server refused is replaced then, or
deleted when the user connects without ticking the box.

A SPICE server does not say whether it wants a ticket before one is sent: with
``prompt_first=False`` the first try sends what is known (or an empty ticket) without
asking, and the user is asked only once the server refused it.

Vault entry names (service ``HVConsole``, beside the libvirt credentials of app.vault):
``vnc:<connection URI>/<VM UUID>`` for a VM's console, ``vnc:<host>:<port>`` for a
standalone console address; ``spice:`` in place of ``vnc:`` for SPICE tickets.
``RememberedPasswords`` is "Forget console password": every entry of one target (both
protocols of a VM) deleted, in a sentence. QtCore-free; vault calls run in a worker
thread.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from app.vault import Vault
from connectors.console.client import ConsoleClient
from connectors.console.state import AuthenticationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PasswordAnswer:
    """What the password dialog gives back when it can offer to remember."""
    password: str
    remember: bool = False


# Asks the user for a password (None: cancelled). The argument says for what.
PasswordPrompt = Callable[[str], Awaitable["str | PasswordAnswer | None"]]


def vm_console_key(uri: str, vm_uuid: str, protocol: str = "vnc") -> str:
    return f"{protocol}:{uri}/{vm_uuid}"


def address_console_key(host: str, port: int, protocol: str = "vnc") -> str:
    return f"{protocol}:{host}:{port}"


class ConsolePasswords:
    """The password source of one console's client, across its reconnections."""

    def __init__(self, what: str, prompt: PasswordPrompt | None,
                 vault: Vault | None = None, vault_key: str | None = None, *,
                 prompt_first: bool = True) -> None:
        self.what = what
        self.prompt = prompt
        self.prompt_first = prompt_first
        self.offered_nothing = False   # the last answer was "no password" without asking
        self.known: str | None = None
        self.refused = False
        self.vault = vault if vault_key else None
        self.vault_key = vault_key
        self._vault_tried = False
        self._from_vault = False       # the password in use came from the vault
        self._remember: bool | None = None  # the user's choice for the typed password

    async def __call__(self) -> str | None:
        self.offered_nothing = False
        if self.known is not None and not self.refused:
            return self.known
        if self.vault is not None and not self._vault_tried:
            self._vault_tried = True
            remembered = await self._vault_call(self.vault.get, self.vault_key)
            if remembered is not None:
                self.known, self.refused, self._from_vault = remembered, False, True
                return remembered
        if self.prompt is None or (not self.prompt_first and not self.refused):
            self.offered_nothing = True
            return None
        answer = await self.prompt(self.what)
        if answer is None:
            return None
        if isinstance(answer, PasswordAnswer):
            password, self._remember = answer.password, answer.remember
        else:
            password, self._remember = answer, None
        self.known, self.refused, self._from_vault = password, False, False
        return password

    async def connect(self, client: ConsoleClient) -> ConsoleClient:
        try:
            await client.connect()
        except AuthenticationError as err:
            # Only a refused password is worth asking again for; a VeNCrypt sub-type
            # or a certificate the server does not take stays refused whatever is typed.
            self.refused = self.refused or err.needs_password
            raise
        await self._accepted()
        return client

    async def connect_new(self, make_client: Callable[[], ConsoleClient]) -> ConsoleClient:
        """Connect a client from ``make_client``; when the server refused the empty ticket
        sent without asking (``prompt_first=False``), ask and connect a second one."""
        try:
            return await self.connect(make_client())
        except AuthenticationError:
            if not (self.offered_nothing and self.prompt is not None):
                raise
        return await self.connect(make_client())

    async def _accepted(self) -> None:
        """The server took ``known``: keep it, or drop a remembered one, as the user chose."""
        if self.vault is None or self._from_vault or self._remember is None:
            return
        remember, self._remember = self._remember, None
        if remember:
            await self._vault_call(self.vault.set, self.vault_key, self.known)
        elif self._vault_tried:
            await self._vault_call(self.vault.delete, self.vault_key)

    async def _vault_call(self, method, *args):
        try:
            return await asyncio.to_thread(method, *args)
        except Exception as err:  # noqa: BLE001 - VaultError or worse: never stops a console
            log.warning("console password vault: %s", err)
            return None


# ---- "Forget console password" ----

CONSOLE_PROTOCOLS = ("vnc", "spice")


def vm_console_keys(uri: str, vm_uuid: str) -> list[str]:
    """Every entry a VM's console may have: one per protocol (a VM can show both)."""
    return [vm_console_key(uri, vm_uuid, protocol) for protocol in CONSOLE_PROTOCOLS]


@dataclass(frozen=True)
class RememberedPasswords:
    """The vault entries of one console target, for "Forget console password"."""

    vault: Vault
    keys: tuple[str, ...]
    what: str          # the VM's name or the address, for the sentence

    async def stored(self) -> list[str]:
        """The keys that have an entry. Raises VaultError (worded) when the vault refuses."""
        found = []
        for key in self.keys:
            if await asyncio.to_thread(self.vault.get, key) is not None:
                found.append(key)
        return found

    async def forget(self) -> str:
        """Deletes the entries; a sentence saying what happened (also when nothing was
        stored, or the vault refused)."""
        try:
            found = await self.stored()
            for key in found:
                await asyncio.to_thread(self.vault.delete, key)
            left = await self.stored()
        except Exception as err:  # noqa: BLE001 - VaultError or a keyring failure
            return f"The console password of {self.what} could not be forgotten: {err}"
        if left:
            return (f"The keyring kept the console password of {self.what}; remove "
                    f"{', '.join(left)} with your keyring's own tool.")
        if not found:
            return f"No console password of {self.what} is remembered."
        kinds = " and ".join(key.split(":", 1)[0].upper() for key in found)
        return f"Forgot the remembered {kinds} console password of {self.what}."
