"""Secrets stay secret: one session with every kind of secret HVConsole handles, then a
search for them everywhere it could have leaked.

The session (real services on 127.0.0.1, real guests on the shared libvirtd):
- an SSH password login (qemu+libssh, hvtest's session libvirtd behind a test sshd), the
  password typed once and remembered in a real Secret Service (gnome-keyring);
- a VNC console with a password and a SPICE console with a ticket, both through SSH
  tunnels (ssh child processes), each password typed once with "Remember" ticked: the VNC
  one goes to the Secret Service, the SPICE one to the encrypted password file, whose own
  password is a secret too;
- logging at DEBUG for the whole run, into a file.

While it runs, a watcher reads /proc/PID/cmdline and /proc/PID/environ of every process
descended from the test (ssh, ssh-keygen, ssh-keyscan, ...). After it: every file under
the config, data, cache and state folders and the test's own folder, known_hosts, the
DEBUG log file, every log record and the Events log are searched. None may hold any of
the secrets (as text, or as the base64 or hex a careless logger would print).
"""
from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import uuid
from pathlib import Path

import pytest

from app.console_passwords import ConsolePasswords, PasswordAnswer, vm_console_key
from app.vault import EncryptedFileVault, KeyringVault, secret_key
from connectors.console.rfb.client import RfbClient
from connectors.console.spice.client import SpiceClient
from connectors.libvirt.console_tunnel import ssh_console_transport
from connectors.libvirt.hostkeys import default_known_hosts
from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import ConnectionSettings, ConnState
from connectors.libvirt.uri import validate_uri
from tests.conftest import wait_until
from tests.integration.remote_services import TEST_USER, Sshd, set_test_user_password
from tests.integration.test_remote_hosts import (PASSWORD as SASL_PASSWORD, Human, _app,
                                                 _first_attempt, _need, _stored,
                                                 _written_files, sasl_daemon,  # noqa: F401
                                                 secret_service)  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SSH_PASSWORD = "ssh-Pw-" + uuid.uuid4().hex[:10]
VNC_PASSWORD = "vnc" + uuid.uuid4().hex[:5]        # VNC uses the first 8 characters
SPICE_TICKET = "spice-Tk-" + uuid.uuid4().hex[:10]
FILE_PASSWORD = "file-Pw-" + uuid.uuid4().hex[:10]


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), raw.hex().encode(), secret.encode("utf-16-le")]


class ChildWatcher:
    """Reads cmdline and environ of every descendant of this process every 20 ms, and
    keeps the secrets found there (with the process name) and the names of all seen."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = {name: _forms(s) for name, s in secrets.items()}
        self.seen: dict[int, str] = {}
        self.found: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ChildWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.02):
            parents = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        stat = Path(f"/proc/{entry}/stat").read_text()
                    except OSError:
                        continue
                    parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            for pid in parents:
                ancestor, depth = parents.get(pid), 0
                while ancestor not in (None, 0, 1, me) and depth < 30:
                    ancestor, depth = parents.get(ancestor), depth + 1
                if ancestor == me:
                    self._inspect(pid)

    def _inspect(self, pid: int) -> None:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return
        name = os.path.basename(cmdline.split(b"\0", 1)[0].decode(errors="replace"))
        self.seen[pid] = name
        for secret, forms in self.secrets.items():
            for where, data in (("command line", cmdline), ("environment", environ)):
                if any(form in data for form in forms):
                    self.found.append(f"{secret} in the {where} of {name} ({pid})")


def _prompt(*answers):
    queue = list(answers)

    async def prompt(_what: str):
        return queue.pop(0) if queue else None
    return prompt


async def _console(uri: str, guest, make_client, vault, remember: str | None):
    """Opens the VM's console through the SSH tunnel the app would use, the password
    asked once (and remembered), then a second time from the vault without asking."""
    host = LibvirtHost(uri, lambda _e: None, settings=ConnectionSettings(call_timeout_s=20))
    await host.connect()
    try:
        await wait_until(lambda: any(v.name == guest.name and v.graphics
                                     and (v.graphics[0].port or 0) > 0
                                     for v in host.vms()), 30)
        vm = next(v for v in host.vms() if v.name == guest.name)
        key = vm_console_key(uri, vm.key, vm.graphics[0].type)
        for answers in ((PasswordAnswer(remember, remember=True),), ()):
            passwords = ConsolePasswords(vm.name, _prompt(*answers), vault, key)
            client = make_client(ssh_console_transport(uri, vm.graphics[0]), passwords)
            await asyncio.wait_for(passwords.connect(client), 40)
            client.close()
        return key
    finally:
        await host.disconnect()


def test_no_secret_of_a_session_is_written_logged_or_shown_to_other_processes(
        sasl_daemon, secret_service, sshd, ssh_uri, trusted,  # noqa: F811
        guest_factory, aloop, tmp_path, caplog):
    _need("sshd", "chpasswd")
    caplog.set_level(logging.DEBUG)
    debug_log = tmp_path / "debug.log"
    handler = logging.FileHandler(debug_log)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)

    vnc_guest = guest_factory("secretvnc", start=True, vnc_password=VNC_PASSWORD)
    spice_guest = guest_factory("secretspice", start=True, graphics="spice", video="qxl",
                                vnc_password=SPICE_TICKET)
    set_test_user_password(SSH_PASSWORD)
    server = Sshd.create()
    server.extra_config = (f"Match User {TEST_USER}\n"
                           f"    SetEnv XDG_RUNTIME_DIR={sasl_daemon.root}/run\n")
    server.start()
    password_uri = (f"qemu+libssh://{TEST_USER}@127.0.0.1:{server.port}/session"
                    "?sshauth=password")
    human = Human(host_keys=[True], credentials=[(TEST_USER, SSH_PASSWORD, True)])
    keyring = KeyringVault()
    manager, events, _remote = _app(tmp_path, human, keyring,
                                    ConnectionSettings(call_timeout_s=30))
    file_vault = EncryptedFileVault(time_cost=1)   # in $XDG_DATA_HOME, where the app keeps it
    secrets = {"the SSH password": SSH_PASSWORD, "the VNC password": VNC_PASSWORD,
               "the SPICE ticket": SPICE_TICKET, "the password file's password": FILE_PASSWORD,
               "the SASL password": SASL_PASSWORD}

    async def session():
        host = await _first_attempt(manager, password_uri)
        assert host.state is ConnState.CONNECTED, host.reason
        ssh_key = secret_key("passphrase", TEST_USER, validate_uri(password_uri))
        await wait_until(lambda: _stored(ssh_key, secret_service.address) == SSH_PASSWORD,
                         10, 0.2)
        await manager.reconnect(manager.conn_ids()[0])        # from the keyring now
        await asyncio.to_thread(file_vault.unlock, FILE_PASSWORD)
        vnc_guest.wait_ready()
        vnc_key = await _console(ssh_uri, vnc_guest,
                                 lambda t, p: RfbClient(t, password=p), keyring, VNC_PASSWORD)
        assert _stored(vnc_key, secret_service.address) == VNC_PASSWORD
        spice_guest.wait_ready()
        spice_key = await _console(
            ssh_uri, spice_guest,
            lambda t, p: SpiceClient(t, password=p, channels=("inputs",)), file_vault,
            SPICE_TICKET)
        reopened = EncryptedFileVault(file_vault.path, time_cost=1)
        await asyncio.to_thread(reopened.unlock, FILE_PASSWORD)
        assert await asyncio.to_thread(reopened.get, spice_key) == SPICE_TICKET
        await manager.close_all()

    try:
        with ChildWatcher(secrets) as watcher:
            aloop.run_until_complete(session())
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        server.close()
    assert len(human.credential_questions) == 1, "the SSH password was asked once"

    # Child processes: ssh tunnels ran, and none carried a secret.
    assert "ssh" in watcher.seen.values(), f"no ssh child was seen: {watcher.seen}"
    assert watcher.found == []

    # Files HVConsole wrote, the DEBUG log, log records, the Events log.
    files = _written_files(tmp_path) + [default_known_hosts()]
    assert debug_log in files and debug_log.stat().st_size > 0, "DEBUG logging ran"
    assert file_vault.path in files
    leaks = [f"{name} in {path}" for path in files if path.is_file()
             for name, secret in secrets.items()
             if any(form in path.read_bytes() for form in _forms(secret))]
    assert leaks == []
    records = [f"{name} in a record of {r.name}" for r in caplog.records
               for name, secret in secrets.items() if secret in r.getMessage()
               or secret in str(r.args)]
    assert records == []
    shown = [name for e in events.entries() for name, secret in secrets.items()
             if secret in f"{e.source} {e.message}"]
    assert shown == []
