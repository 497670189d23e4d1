""""Forget console password" with real vaults and a real VNC server (TigerVNC's Xvnc with
a VNC password; nothing boots): the encrypted-file vault (keyrings.cryptfile) and the
desktop keyring (gnome-keyring-daemon's Secret Service on a private session bus, read
back with secret-tool). A remembered password is removed and the next connection asks
again; a VM's VNC and SPICE entries go together; with nothing stored, the sentence says
so. The console pane's toolbar action does the same."""
from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from app.console_openers import address_opener
from app.console_session import ConsoleSession
from app.console_passwords import (ConsolePasswords, PasswordAnswer, RememberedPasswords,
                                   address_console_key, vm_console_keys)
from app.vault import SERVICE, EncryptedFileVault, KeyringVault, system_backend
from connectors.console.address import ConsoleAddress
from connectors.console.rfb.client import RfbClient
from connectors.console.transport import TcpTransport
from tests.conftest import unavailable, wait_until
from tests.integration import vnc_servers as vs
from tests.integration.remote_services import SecretService



@pytest.fixture(autouse=True)
def _xvnc_installed():
    missing = vs.missing_tools("Xvnc", "vncpasswd")
    if missing:
        unavailable(f"not installed: {missing} (scripts/setup.sh installs them)")

RIGHT = "forget-me-1"


@pytest.fixture(scope="module")
def xvnc():
    server = vs.start_xvnc("VncAuth", password=RIGHT)
    yield server
    server.stop()


def unlocked_file_vault(path) -> EncryptedFileVault:
    """The encrypted file, unlocked (cheap Argon2 settings: a test, not a user's file)."""
    vault = EncryptedFileVault(path, time_cost=1)
    vault.unlock("file password")
    return vault


@pytest.fixture
def file_vault(tmp_path):
    return unlocked_file_vault(tmp_path / "secrets.cfg")


class Prompt:
    """The user at the password dialog: gives the answers in order, notes each question."""

    def __init__(self, *answers) -> None:
        self.answers, self.asked = list(answers), 0

    async def __call__(self, what: str):
        self.asked += 1
        return self.answers.pop(0) if self.answers else None


async def connect_once(port: int, passwords: ConsolePasswords) -> None:
    client = RfbClient(TcpTransport("127.0.0.1", port), password=passwords)
    await asyncio.wait_for(passwords.connect(client), 30)
    client.close()


def test_forgotten_password_is_gone_and_asked_for_again(xvnc, file_vault):
    key = address_console_key("127.0.0.1", xvnc.port)
    remembered = RememberedPasswords(file_vault, (key,), "desk")

    async def scenario():
        typed = Prompt(PasswordAnswer(RIGHT, remember=True))
        await connect_once(xvnc.port, ConsolePasswords("desk", typed, file_vault, key))
        assert typed.asked == 1 and file_vault.get(key) == RIGHT
        assert await remembered.stored() == [key]
        assert await remembered.forget() == ("Forgot the remembered VNC console password "
                                             "of desk.")
        assert file_vault.get(key) is None
        assert await remembered.forget() == "No console password of desk is remembered."
        # The next console cannot find it: the user is asked again.
        again = Prompt(RIGHT)
        await connect_once(xvnc.port, ConsolePasswords("desk", again, file_vault, key))
        assert again.asked == 1
    asyncio.run(scenario())
    # Another process's view of the same file agrees.
    assert unlocked_file_vault(file_vault.path).get(key) is None


@pytest.fixture
def secret_service(monkeypatch):
    need = vs.missing_tools("gnome-keyring-daemon", "dbus-daemon", "secret-tool")
    if need:
        unavailable(f"not installed: {need} (scripts/setup.sh installs them)")
    service = SecretService.start()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    try:
        if not vs.wait_until(lambda: system_backend() is not None, 15, 0.1):
            pytest.fail("gnome-keyring-daemon did not offer a Secret Service")
        yield service
    finally:
        service.close()


def secret_tool_lookup(key: str, address: str) -> str:
    return subprocess.run(["secret-tool", "lookup", "service", SERVICE, "username", key],
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)).stdout


def test_a_vms_vnc_and_spice_entries_leave_the_desktop_keyring(secret_service):
    vault = KeyringVault()
    keys = vm_console_keys("qemu+ssh://kvm1/system", "0f8a2c1e-uuid")
    assert [k.split(":", 1)[0] for k in keys] == ["vnc", "spice"]
    for key in keys:
        vault.set(key, "kept")
    unrelated = address_console_key("10.0.0.9", 5901)
    vault.set(unrelated, "stays")
    assert secret_tool_lookup(keys[1], secret_service.address) == "kept"

    sentence = asyncio.run(RememberedPasswords(vault, tuple(keys), "web-01").forget())
    assert sentence == "Forgot the remembered VNC and SPICE console password of web-01."
    for key in keys:
        assert secret_tool_lookup(key, secret_service.address) == ""
    assert secret_tool_lookup(unrelated, secret_service.address) == "stays"


def test_the_panes_forget_password_action(xvnc, file_vault, aloop, qtbot):
    from widgets.console.pane import ConsolePane
    address = ConsoleAddress("vnc", "127.0.0.1", xvnc.port, title="desk")
    key = address_console_key(address.host, address.port)
    file_vault.set(key, RIGHT)
    prompt = Prompt()
    session = ConsoleSession(address_opener(address, prompt, vault=file_vault), title="desk")
    pane = ConsolePane(session, can_undock=False)
    qtbot.addWidget(pane)
    pane.show()
    session.keep_connected()
    try:
        # Connected with the remembered password, nobody asked.
        aloop.run_until_complete(wait_until(lambda: session.connected, 30))
        assert prompt.asked == 0
        assert pane.forget_action.isVisible() and pane.forget_action.isEnabled()
        pane.forget_action.trigger()
        aloop.run_until_complete(wait_until(lambda: pane.last_message, 30))
        assert pane.last_message == "Forgot the remembered VNC console password of desk."
        assert pane.notice.text() == pane.last_message and pane.notice.isVisible()
        assert file_vault.get(key) is None
    finally:
        aloop.run_until_complete(session.stop())

    # Without a vault there is nothing to forget: no action.
    bare = ConsolePane(ConsoleSession(address_opener(address, prompt), title="desk"))
    qtbot.addWidget(bare)
    assert not bare.forget_action.isVisible()
