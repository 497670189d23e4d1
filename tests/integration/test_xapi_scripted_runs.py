"""``hvconsole --connect xapi://… --screenshot`` from a script: nobody is at the screen, so
nothing may wait on a dialog. The certificate is pinned in the URI and the password
comes from the keyring (as for libvirt's remote hosts: a real Secret Service,
gnome-keyring-daemon on a private bus, filled with secret-tool the way a script would);
what is missing makes the run exit 1 at once with a line that says what to provide.
Against scripts/xapi-simulator.py as its own process (real TLS, real JSON-RPC)."""
from __future__ import annotations

import os
import subprocess

import pytest

from app.vault import SERVICE, secret_key
from connectors.libvirt.model import ConnState
from connectors.libvirt.uri import validate_uri
from connectors.xapi.uri import normalise_fingerprint
from tests.integration.test_remote_hosts import secret_service  # noqa: F401 - the fixture
from tests.integration.test_scripted_runs import _args, _hvconsole, _row_text
from tests.xapi_sim_helpers import PASSWORD, start_process
from widgets.launcher import Session

pytestmark = [pytest.mark.integration]

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sim(tmp_path):
    process = start_process(tmp_path / "pool.db", "--generate-pool", "2,6", "--no-save")
    yield process
    process.stop()


def pinned_uri(sim) -> str:
    return f"xapi://root@{sim.address}?fingerprint={normalise_fingerprint(sim.fingerprint)}"


def keep_password(uri: str, address: str) -> None:
    """What a script does once: the pool's password into the keyring, with secret-tool."""
    key = secret_key("passphrase", "root", validate_uri(uri))
    subprocess.run(["secret-tool", "store", "--label", f"HVConsole {key}", "service",
                    SERVICE, "username", key], input=PASSWORD, text=True, check=True,
                   env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address))


def hvconsole_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("hvconsole: ")]


def test_a_pinned_pool_with_its_password_in_the_keyring_is_pictured_and_exits_0(
        sim, secret_service, tmp_path):  # noqa: F811 - the fixture
    uri = pinned_uri(sim)
    keep_password(uri, secret_service.address)
    shot = tmp_path / "pool.png"
    done = _hvconsole(["--connect", uri, "--show-domain", "vm-0000", "--screenshot",
                       str(shot)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert hvconsole_lines(done) == []
    assert shot.read_bytes()[:8] == PNG


def test_without_a_kept_password_the_run_exits_1_at_once_saying_so(sim, tmp_path):
    uri = pinned_uri(sim)
    shot = tmp_path / "nopassword.png"
    done = _hvconsole(["--connect", uri, "--screenshot", str(shot)], tmp_path)
    assert done.returncode == 1
    assert hvconsole_lines(done) == [
        f"hvconsole: 127.0.0.1 ({uri}): not connected: no password for it is kept in the "
        "keyring, and a --screenshot run asks nobody (store it first: see README, "
        "Scripted runs)"]
    assert shot.read_bytes()[:8] == PNG, "the picture shows what went wrong"


def test_an_unpinned_certificate_is_not_trusted_for_nobody_and_the_window_says_so(
        sim, secret_service, aloop, qapp, tmp_path):  # noqa: F811 - the fixture
    """In process, to read the window: the password is in the keyring, the certificate
    is not pinned; no dialog opens, the pool's row says why, the status is 1."""
    uri = f"xapi://root@{sim.address}"
    keep_password(uri, secret_service.address)
    qapp.setQuitOnLastWindowClosed(False)
    shot = tmp_path / "unpinned.png"
    session = Session(_args(connect=[uri], screenshot=str(shot)))
    window = session.build()
    window.resize(1280, 800)
    window.show()
    try:
        opened = aloop.run_until_complete(session.open_connections())
        status = aloop.run_until_complete(session.take_screenshot(str(shot), opened))
        assert status == 1
        (conn_id,) = opened
        fingerprint = normalise_fingerprint(sim.fingerprint)
        assert session.problems == [
            f"127.0.0.1 ({uri}): not connected: its certificate ({fingerprint}) is not "
            "trusted yet, and a --screenshot run asks nobody: pin it in the address "
            f"(?fingerprint={fingerprint})"]
        state, reason = session.manager.state(conn_id)
        assert state is ConnState.DISCONNECTED and "was not trusted" in reason
        row = _row_text(window, conn_id, conn_id, column=1)
        assert row.startswith("Disconnected: ") and "was not trusted" in row, row
        assert not session.manager.certificates.load(), "nothing was trusted"
    finally:
        aloop.run_until_complete(session.shutdown())
        window.close()
