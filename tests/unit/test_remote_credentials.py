"""Remembered credentials: the broker over a real vault (keyrings.cryptfile's encrypted file,
with a cheap Argon2 cost so each test stays fast). The "user" is a scripted coroutine that
records each prompt."""
from __future__ import annotations

import asyncio

import pytest

from app.credentials import CredentialAnswer, CredentialBroker, is_auth_failure
from app.vault import (EncryptedFileVault, KeyringVault, VaultError, secret_key,
                       system_backend)
from connectors.libvirt.model import CredentialRequest, CredentialType
from connectors.libvirt.uri import validate_uri

URI = "qemu+tcp://kvm1.example.org/system"
SASL = [CredentialRequest(CredentialType.AUTHNAME, "Please enter your authentication name"),
        CredentialRequest(CredentialType.PASSPHRASE, "Please enter your password")]
PASSWORD = "Tr0ub4dor-unit"


@pytest.fixture
def vault(tmp_path):
    vault = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)
    vault.unlock("file-password")
    return vault


class User:
    """Answers prompts from a script; records what it was shown."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.prompts = []

    async def __call__(self, prompt):
        self.prompts.append(prompt)
        return self.answers.pop(0)


def run(coro):
    return asyncio.run(coro)


def test_key_scheme():
    parsed = validate_uri("qemu+tcp://alice@kvm1.example.org/system")
    assert secret_key("passphrase", "alice", parsed) == \
        "passphrase:alice@kvm1.example.org:16509/qemu+tcp"
    parsed = validate_uri("xen+ssh://root@x:2222/system")
    assert secret_key("passphrase", "root", parsed) == "passphrase:root@x:2222/xen+ssh"


def test_remembered_after_success_and_reused_without_a_prompt(vault):
    user = User(CredentialAnswer(["alice", PASSWORD], remember=True))
    broker = CredentialBroker(user, vault)

    async def scenario():
        assert await broker(URI, SASL) == ["alice", PASSWORD]
        await broker.connected(URI)
        assert await broker(URI, SASL) == ["alice", PASSWORD]

    run(scenario())
    assert len(user.prompts) == 1
    assert user.prompts[0].vault.usable
    assert PASSWORD not in vault.path.read_text(), "the file must be encrypted"


def test_wrong_typed_password_stores_nothing(vault):
    user = User(CredentialAnswer(["alice", "wrong"], remember=True),
                CredentialAnswer(["alice", PASSWORD], remember=False))
    broker = CredentialBroker(user, vault)

    async def scenario():
        await broker(URI, SASL)
        assert broker.failed(URI, "authentication failed: authentication failed") is False
        await broker(URI, SASL)
        assert broker.connected(URI) is None, "nothing to remember"

    run(scenario())
    assert len(user.prompts) == 2
    assert run(broker.has_saved(URI)) is False


def test_rejected_stored_password_is_tried_once_then_the_user_is_asked(vault):
    vault.set(secret_key("authname", "", validate_uri(URI)), "alice")
    vault.set(secret_key("passphrase", "alice", validate_uri(URI)), "outdated")
    user = User(CredentialAnswer(["alice", PASSWORD], remember=True))
    broker = CredentialBroker(user, vault)

    async def scenario():
        assert await broker(URI, SASL) == ["alice", "outdated"]
        assert broker.failed(URI, "Could not connect: authentication failed") is True
        assert await broker(URI, SASL) == ["alice", PASSWORD]
        await broker.connected(URI)

    run(scenario())
    assert len(user.prompts) == 1
    prompt = user.prompts[0]
    assert "was not accepted" in prompt.note
    assert prompt.defaults[0] == "alice" and prompt.defaults[1] == ""
    assert vault.get(secret_key("passphrase", "alice", validate_uri(URI))) == PASSWORD


def test_a_host_that_is_down_does_not_discard_the_stored_password(vault):
    vault.set(secret_key("authname", "", validate_uri(URI)), "alice")
    vault.set(secret_key("passphrase", "alice", validate_uri(URI)), PASSWORD)
    broker = CredentialBroker(User(), vault)

    async def scenario():
        await broker(URI, SASL)
        assert broker.failed(URI, "Could not connect: Connection refused") is False
        assert await broker(URI, SASL) == ["alice", PASSWORD]

    run(scenario())


def test_forget_removes_name_and_password(vault):
    parsed = validate_uri(URI)
    vault.set(secret_key("authname", "", parsed), "alice")
    vault.set(secret_key("passphrase", "alice", parsed), PASSWORD)
    broker = CredentialBroker(User(), vault)
    assert run(broker.has_saved(URI)) is True
    assert run(broker.forget(URI)) == 2
    assert run(broker.has_saved(URI)) is False
    assert vault.get(secret_key("passphrase", "alice", parsed)) is None


def test_cancel_returns_none(vault):
    broker = CredentialBroker(User(None), vault)
    assert run(broker(URI, SASL)) is None


def test_without_a_system_keyring_the_vault_says_so(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    assert system_backend() is None
    status = KeyringVault().status()
    assert not status.usable and "No system keyring" in status.message
    with pytest.raises(VaultError):
        KeyringVault().set("k", "v")
    broker = CredentialBroker(User(CredentialAnswer(["alice", PASSWORD], True)),
                              KeyringVault())

    async def scenario():
        await broker(URI, SASL)
        await broker.connected(URI)  # nothing to store it in, and no fallback anywhere

    run(scenario())


def test_encrypted_file_refuses_a_wrong_password(tmp_path, vault):
    vault.set("k", "v")
    again = EncryptedFileVault(vault.path, time_cost=1)
    with pytest.raises(VaultError, match="not the password"):
        again.unlock("guess")
    assert not again.status().usable
    again.unlock("file-password")
    assert again.get("k") == "v"


def test_auth_failure_words():
    assert is_auth_failure("authentication failed: authentication failed")
    assert is_auth_failure("Permission denied (publickey,password).")
    assert not is_auth_failure("Connection refused")


def test_a_locked_encrypted_file_is_offered_for_unlocking_once(tmp_path):
    first = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)
    first.unlock("file-password")
    parsed = validate_uri(URI)
    first.set(secret_key("authname", "", parsed), "alice")
    first.set(secret_key("passphrase", "alice", parsed), PASSWORD)
    locked = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)   # a new session
    asked = []

    async def unlock() -> bool:
        asked.append(1)
        if len(asked) == 1:
            return False              # the user cancels: not asked again this session
        await asyncio.to_thread(locked.unlock, "file-password")
        return True

    user = User(CredentialAnswer(["alice", PASSWORD]), CredentialAnswer(["alice", PASSWORD]))
    broker = CredentialBroker(user, locked, unlock)
    assert run(broker(URI, SASL)) == ["alice", PASSWORD]
    assert run(broker(URI, SASL)) == ["alice", PASSWORD]
    assert asked == [1] and len(user.prompts) == 2
    broker._unlock_declined = False   # a later session: this time the user unlocks
    assert run(broker(URI, SASL)) == ["alice", PASSWORD]
    assert len(user.prompts) == 2, "the stored password came from the unlocked file"
