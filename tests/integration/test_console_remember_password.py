""""Remember password" for a VNC console, against QEMU's real VNC server with a password
and the real encrypted-file vault (keyrings.cryptfile, Argon2 + AES-GCM on disk): a
wrong remembered password is tried once, then the user is asked; what the user typed
with the box ticked is stored only after the server accepted it; the next session
connects with the stored one without asking; without the box, a refused entry is
deleted."""
from __future__ import annotations

import asyncio

import pytest

from app.console_passwords import ConsolePasswords, PasswordAnswer, address_console_key
from app.vault import EncryptedFileVault
from connectors.console.rfb.client import RfbClient
from connectors.console.state import AuthenticationError
from connectors.console.transport import TcpTransport
from tests.integration.test_console_vnc import vnc_port

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]

RIGHT = "s3cr3tpw"


def test_remembered_password_tried_once_then_asked_then_stored(guest_factory, tmp_path):
    guest = guest_factory("vncremember", start=True, vnc_password=RIGHT)
    guest.wait_ready()
    port = vnc_port(guest)
    vault = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)
    vault.unlock("file password")
    key = address_console_key("127.0.0.1", port)
    vault.set(key, "stale-password")
    asked: list[str] = []

    def prompt_answering(*answers):
        queue = list(answers)

        async def prompt(what: str):
            asked.append(what)
            return queue.pop(0) if queue else None
        return prompt

    async def open_with(passwords: ConsolePasswords) -> RfbClient:
        """What the session does: retry after a refusal, as long as there is a password."""
        for _ in range(3):
            client = RfbClient(TcpTransport("127.0.0.1", port), password=passwords)
            try:
                return await asyncio.wait_for(passwords.connect(client), 20)
            except AuthenticationError:
                continue
        raise AssertionError("never connected")

    async def session(prompt) -> None:
        client = await open_with(ConsolePasswords("vm", prompt, vault, key))
        client.close()

    # 1: the stale remembered password is refused once; the user types the right one
    #    and ticks "Remember password".
    asyncio.run(session(prompt_answering(PasswordAnswer(RIGHT, remember=True))))
    assert asked == ["vm"]
    assert vault.get(key) == RIGHT

    # 2: the next console connects with the stored one and asks nothing.
    asked.clear()
    asyncio.run(session(prompt_answering()))
    assert asked == []

    # 3: a mistyped password with the box ticked is not stored.
    vault.set(key, "stale-again")
    asked.clear()
    asyncio.run(session(prompt_answering(PasswordAnswer("typo", remember=True),
                                         PasswordAnswer(RIGHT, remember=False))))
    assert asked == ["vm", "vm"]
    # 4: ...and connecting with the box unticked drops the refused remembered entry.
    assert vault.get(key) is None

    # The file on disk is another process's view of the same vault: still readable.
    again = EncryptedFileVault(vault.path, time_cost=1)
    again.unlock("file password")
    assert again.get(key) is None
