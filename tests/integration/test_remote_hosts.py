"""Remote hosts through real services on 127.0.0.1 (see remote_services.py): an sshd in
front of the shared libvirtd, a SASL-protected libvirtd listener and a real Secret Service.

The application objects are the real ones (ConnectionManager, RemoteAccess, the keyring
vault); only the human is scripted: ``ask_host_key`` and ``ask_credentials`` answer from
a list and record what they were shown.
"""
from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from app.config import ConnectionsStore
from app.connection_manager import ConnectionManager
from app.credentials import CredentialAnswer
from app.events_log import EventsLog
from app.inventory import InventoryModel
from app.remote_access import RemoteAccess
from app.vault import KeyringVault, SERVICE, secret_key, system_backend
from connectors.libvirt.hostkeys import HostKey, KnownHosts
from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import ConnectionSettings, ConnState, CredentialType
from connectors.libvirt.uri import validate_uri
from tests.conftest import unavailable, wait_until
from tests.loop_gaps import LoopGaps
from tests.integration.conftest import need_remote_tools
from tests.integration.remote_services import (SASL_USER, TEST_USER, SaslLibvirtd,
                                               SecretService, Sshd, set_test_user_password)

pytestmark = pytest.mark.integration

PASSWORD = "Corr3ct-h0rse-" + uuid.uuid4().hex[:8]   # grepped for in every written file


def _need(*tools: str) -> None:
    need_remote_tools(*tools)


class Human:
    """Scripted answers for the dialogs; records each question."""

    def __init__(self, host_keys=(), credentials=()):
        self.host_key_answers = list(host_keys)
        self.credential_answers = list(credentials)
        self.host_key_questions = []
        self.credential_questions = []

    async def host_key(self, check) -> bool:
        self.host_key_questions.append(check)
        return self.host_key_answers.pop(0)

    async def credentials(self, prompt):
        """Answers are (user, password, remember): filled in by request type, the way a
        person reads the field labels; other fields keep what the dialog shows."""
        self.credential_questions.append(prompt)
        user, password, remember = self.credential_answers.pop(0)
        values = []
        for request, shown in zip(prompt.requests, prompt.defaults):
            if request.type in (CredentialType.AUTHNAME, CredentialType.USERNAME):
                values.append(user)
            elif request.type.secret:
                values.append(password)
            else:
                values.append(shown or request.default)
        return CredentialAnswer(values, remember)


def _app(tmp_path, human: Human, vault=None, settings=None):
    events = EventsLog()
    manager = ConnectionManager(InventoryModel(), events,
                                store=ConnectionsStore(tmp_path / "connections.json"),
                                settings=settings)
    remote = RemoteAccess(manager, events, human.credentials, human.host_key, vault=vault)
    return manager, events, remote


def _attempt_over(manager, conn_id):
    host = manager.host(conn_id)
    return host.state is ConnState.CONNECTED or (
        host.state is ConnState.DISCONNECTED and bool(host.reason))


async def _first_attempt(manager, uri):
    """Opens the server and waits until its first connect succeeded or was refused."""
    conn_id = manager.open(uri, save=False)
    await wait_until(lambda: _attempt_over(manager, conn_id), 30)
    return manager.host(conn_id)


# ---------------------------------------------------------------- SSH


def test_first_contact_asks_then_lists_the_same_vms_as_the_local_uri(
        sshd, ssh_uri, untrusted, marker_vm, libvirt_uri, aloop, tmp_path):
    import libvirt
    human = Human(host_keys=[True])
    manager, events, _remote = _app(tmp_path, human)

    async def scenario():
        conn_id = manager.open(ssh_uri, save=False)
        await wait_until(lambda: _attempt_over(manager, conn_id), 30)
        host = manager.host(conn_id)
        assert host.state is ConnState.CONNECTED, host.reason
        names = {vm.name for vm in host.vms()}
        await manager.reconnect(conn_id)           # known now: no second question
        assert manager.host(conn_id).state is ConnState.CONNECTED
        await manager.close_all()
        return names

    def listed_here() -> set[str]:
        local = libvirt.open(libvirt_uri)
        try:
            return {d.name() for d in local.listAllDomains(0)}
        finally:
            local.close()

    # The same VMs as the local URI: every VM there before and after the SSH read, and
    # none that was not there at either moment (a VM another test removes meanwhile may
    # be listed or not).
    before = listed_here()
    names = aloop.run_until_complete(scenario())
    after = listed_here()
    assert marker_vm in names
    assert before & after <= names <= before | after, (names, before, after)
    assert len(human.host_key_questions) == 1
    shown = human.host_key_questions[0].offered[0].fingerprint
    printed = subprocess.run(["ssh-keygen", "-lf", f"{sshd.host_key}.pub"],
                             capture_output=True, text=True, check=True).stdout.split()[1]
    assert shown == printed
    assert untrusted.lookup("127.0.0.1", sshd.port), "accepted key saved in known_hosts"
    assert any("Trusted the SSH host key" in e.message for e in events.entries())


def test_a_declined_host_key_connects_nothing_and_saves_nothing(sshd, ssh_uri, untrusted,
                                                                aloop, tmp_path):
    human = Human(host_keys=[False])
    manager, _events, _remote = _app(tmp_path, human)

    host = aloop.run_until_complete(_first_attempt(manager, ssh_uri))
    assert host.state is ConnState.DISCONNECTED
    assert "not trusted" in host.reason
    assert untrusted.lookup("127.0.0.1", sshd.port) == ()
    aloop.run_until_complete(manager.close_all())


def test_a_changed_host_key_is_refused_with_a_warning(sshd, ssh_uri, untrusted, aloop,
                                                      tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "old")], check=True)
    key_type, blob = (tmp_path / "old.pub").read_text().split()[:2]
    untrusted.add("127.0.0.1", sshd.port, [HostKey(key_type, blob)])   # "the old key"
    human = Human()
    manager, events, _remote = _app(tmp_path, human)

    host = aloop.run_until_complete(_first_attempt(manager, ssh_uri))
    assert host.state is ConnState.DISCONNECTED
    assert "CHANGED" in host.reason and "ssh-keygen -R" in host.reason
    assert human.host_key_questions == [], "a changed key is never offered for trust"
    assert any(e.severity == "error" and "CHANGED" in e.message for e in events.entries())
    assert untrusted.lookup("127.0.0.1", sshd.port) == (HostKey(key_type, blob),)

    # Without our check, libvirt's ssh (batch mode) refuses on its own: never silent.
    bare = LibvirtHost(ssh_uri, lambda _e: None,
                       settings=ConnectionSettings(call_timeout_s=20))
    with pytest.raises(Exception, match="(?i)host key"):
        aloop.run_until_complete(bare.connect())
    aloop.run_until_complete(manager.close_all())


@pytest.mark.slow
def test_sshd_stopped_mid_session_disconnects_in_time_and_reconnects(sshd, ssh_uri, trusted,
                                                                     aloop):
    settings = ConnectionSettings(keepalive_interval_s=1, keepalive_count=2,
                                  call_timeout_s=15, reconnect_initial_s=0.3,
                                  reconnect_max_s=1.0)
    host = LibvirtHost(ssh_uri, lambda _e: None, settings=settings)
    watch = LoopGaps()

    async def scenario():
        await host.connect()
        watch.start()
        loop = asyncio.get_running_loop()
        try:
            sshd.stop()
            started = loop.time()
            # keepalive window: interval * (count + 1) = 3 s, plus scheduling slack
            await wait_until(lambda: host.state is not ConnState.CONNECTED, 8)
            lost_after = loop.time() - started
            assert host.state is ConnState.RECONNECTING, host.reason
            await asyncio.sleep(1.0)   # some failed retries while sshd is away
            sshd.start()
            await wait_until(lambda: host.state is ConnState.CONNECTED, 20)
            return lost_after
        finally:
            await watch.stop()
            await host.disconnect()

    lost_after = aloop.run_until_complete(scenario())
    assert lost_after < 6.0
    longest = max(watch.gaps)
    assert longest < 1.0, f"the loop stalled for {longest:.2f} s"


# ---------------------------------------------------------------- SASL + Secret Service


@pytest.fixture
def secret_service(monkeypatch):
    _need("gnome-keyring-daemon", "dbus-daemon", "secret-tool")
    service = SecretService.start()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    try:
        asyncio.run(_wait_for_backend())
    except AssertionError:
        service.close()
        unavailable("gnome-keyring-daemon did not offer a Secret Service")
    yield service
    service.close()


async def _wait_for_backend():
    await wait_until(lambda: system_backend() is not None, 10, 0.1)


@pytest.fixture
def sasl_daemon():
    _need("libvirtd", "saslpasswd2", "setpriv")
    daemon = SaslLibvirtd.create(PASSWORD)
    daemon.start()
    yield daemon
    daemon.close()


def _stored(key: str, address: str) -> str:
    """What the Secret Service holds for our key, read with secret-tool (not keyring)."""
    done = subprocess.run(["secret-tool", "lookup", "service", SERVICE, "username", key],
                          capture_output=True, text=True,
                          env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address))
    return done.stdout


@pytest.mark.slow
def test_sasl_password_is_asked_kept_in_the_keyring_and_never_written_elsewhere(
        sasl_daemon, secret_service, aloop, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = (SASL_USER, "not-the-password", True)
    right = (SASL_USER, PASSWORD, True)
    human = Human(credentials=[wrong, right, right])
    vault = KeyringVault()
    settings = ConnectionSettings(keepalive_interval_s=1, keepalive_count=2,
                                  call_timeout_s=30, reconnect_initial_s=0.3,
                                  reconnect_max_s=1.0)
    manager, events, remote = _app(tmp_path, human, vault, settings)
    uri = sasl_daemon.uri
    parsed = validate_uri(uri)
    password_key = secret_key("passphrase", SASL_USER, parsed)

    async def scenario():
        conn_id = manager.open(uri, save=True)
        # 1. a wrong password: a clear error, nothing stored
        await wait_until(lambda: _attempt_over(manager, conn_id), 30)
        host = manager.host(conn_id)
        assert host.state is ConnState.DISCONNECTED
        assert "authentication failed" in host.reason.lower()
        await asyncio.sleep(0.3)
        assert _stored(password_key, secret_service.address) == ""
        # 2. the right one: connected, then stored in the Secret Service
        await manager.reconnect(conn_id)
        assert manager.host(conn_id).state is ConnState.CONNECTED, host.reason
        await wait_until(lambda: _stored(password_key, secret_service.address) == PASSWORD,
                         10, 0.2)
        asked = len(human.credential_questions)
        # 3. reconnect after the user's disconnect: no prompt
        await manager.reconnect(conn_id)
        assert manager.host(conn_id).state is ConnState.CONNECTED
        # 4. the daemon restarts under us: the automatic reconnect uses the stored one
        sasl_daemon.proc.terminate()
        sasl_daemon.proc.wait(10)
        await wait_until(lambda: manager.host(conn_id).state is ConnState.RECONNECTING, 10)
        sasl_daemon.start()
        await wait_until(lambda: manager.host(conn_id).state is ConnState.CONNECTED, 20)
        assert len(human.credential_questions) == asked, "no prompt on reconnect"
        # 5. a stored password that went stale: tried once, then ONE prompt
        await asyncio.to_thread(vault.set, password_key, "outdated-password")
        await manager.reconnect(conn_id)
        await wait_until(lambda: manager.host(conn_id).state is ConnState.CONNECTED, 20)
        assert len(human.credential_questions) == asked + 1
        assert "was not accepted" in human.credential_questions[-1].note
        await wait_until(lambda: _stored(password_key, secret_service.address) == PASSWORD,
                         10, 0.2)
        # 6. Forget Saved Password
        assert await remote.forget_password(conn_id) >= 1
        assert _stored(password_key, secret_service.address) == ""
        await manager.close_all()

    aloop.run_until_complete(scenario())
    assert len(human.credential_questions) == 3
    # The password is nowhere the application writes: files, log records, Events.
    leaks = [str(p) for p in _written_files(tmp_path) if PASSWORD.encode() in p.read_bytes()]
    assert leaks == []
    leaked = [f"{r.name}: {r.getMessage()[:160]}" for r in caplog.records if PASSWORD in r.getMessage()]
    assert leaked == []
    assert all(PASSWORD not in f"{e.source} {e.message}" for e in events.entries())
    assert (tmp_path / "connections.json").is_file(), "the server was saved (without it)"


def _written_files(tmp_path: Path) -> list[Path]:
    roots = [tmp_path] + [Path(os.environ[v]) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME",
                                                         "XDG_CACHE_HOME", "XDG_STATE_HOME")
                          if os.environ.get(v)]
    files = []
    for root in roots:
        if root.is_dir():
            files += [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    return files


@pytest.mark.slow
def test_a_vms_vnc_console_opens_through_the_ssh_tunnel(sshd, ssh_uri, trusted, guest_factory,
                                                        aloop):
    """The VM's VNC server listens on the host's loopback only; the console reaches it
    through ssh with the URI's user, port and key, and the RFB handshake completes."""
    from connectors.console.rfb.client import RfbClient
    from connectors.libvirt.console_tunnel import needs_tunnel, ssh_console_transport

    guest = guest_factory("sshvnc", start=True)
    host = LibvirtHost(ssh_uri, lambda _e: None, settings=ConnectionSettings(call_timeout_s=20))
    assert needs_tunnel(ssh_uri)

    async def scenario():
        await host.connect()
        try:
            await wait_until(lambda: any(v.name == guest.name and v.graphics
                                         and (v.graphics[0].port or 0) > 0
                                         for v in host.vms()), 20)
            vm = next(v for v in host.vms() if v.name == guest.name)
            transport = ssh_console_transport(ssh_uri, vm.graphics[0])
            assert "-i" in transport.argv and str(sshd.client_key) in transport.argv
            client = RfbClient(transport)
            await client.connect()
            try:
                return client.version, client.framebuffer.width
            finally:
                client.close()
        finally:
            await host.disconnect()

    version, width = aloop.run_until_complete(scenario())
    assert version == (3, 8)
    assert width > 0


@pytest.mark.slow
def test_ssh_password_login_asks_once_and_is_kept_in_the_keyring(sasl_daemon, secret_service,
                                                                  aloop, tmp_path):
    """qemu+libssh with a password: first contact shows the host key, libvirt asks for the
    SSH password through our dialog, it is kept in the Secret Service, and the next
    connect needs neither question. The far side is hvtest's own libvirtd (its session
    daemon, found through XDG_RUNTIME_DIR that sshd sets for hvtest)."""
    _need("sshd", "chpasswd")
    set_test_user_password(PASSWORD)
    server = Sshd.create()
    server.extra_config = (f"Match User {TEST_USER}\n"
                           f"    SetEnv XDG_RUNTIME_DIR={sasl_daemon.root}/run\n")
    server.start()
    known = KnownHosts()
    uri = f"qemu+libssh://{TEST_USER}@127.0.0.1:{server.port}/session?sshauth=password"
    human = Human(host_keys=[True], credentials=[(TEST_USER, PASSWORD, True)])
    manager, events, _remote = _app(tmp_path, human, KeyringVault(),
                                    ConnectionSettings(call_timeout_s=30))
    key = secret_key("passphrase", TEST_USER, validate_uri(uri))

    async def scenario():
        host = await _first_attempt(manager, uri)
        assert host.state is ConnState.CONNECTED, host.reason
        await wait_until(lambda: _stored(key, secret_service.address) == PASSWORD, 10, 0.2)
        await manager.reconnect(manager.conn_ids()[0])
        assert host.state is ConnState.CONNECTED, host.reason
        await manager.close_all()

    try:
        aloop.run_until_complete(scenario())
    finally:
        known.remove("127.0.0.1", server.port)
        server.close()
    assert len(human.host_key_questions) == 1
    assert len(human.credential_questions) == 1
    assert human.credential_questions[0].requests[0].type.secret
    assert all(PASSWORD not in f"{e.source} {e.message}" for e in events.entries())
