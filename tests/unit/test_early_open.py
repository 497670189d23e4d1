"""The start-up's early open (connectors/libvirt/early_open.py, app/startup_hosts.py)
against libvirt's real test driver, in this process.

What must hold: a host takes the connection opened early instead of opening another;
an early open that failed is opened again the usual way, with the usual sentence; only
URIs that can ask nobody anything are opened early; what nobody took is closed; the
list of start-up URIs follows the same rule as the session and touches no file.
"""
from __future__ import annotations

import json
from pathlib import Path

import libvirt
import pytest

from app import startup_hosts
from app.config import ConnectionsStore
from connectors.libvirt import early_open
from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import ConnectError, ConnState

LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"
LAB_URI = f"test://{LAB}"


@pytest.fixture(autouse=True)
def nothing_left_open():
    yield
    early_open.forget_untaken()


def test_the_host_takes_the_connection_opened_early(aloop):
    assert early_open.begin([LAB_URI], aloop) == [LAB_URI]
    pending = early_open.begin([LAB_URI], aloop)    # a second begin opens nothing new
    assert pending == [LAB_URI]
    started = early_open._started[LAB_URI]
    early_conn = started.result(timeout=30)
    host = LibvirtHost(LAB_URI, lambda _event: None)
    aloop.run_until_complete(host.connect())
    try:
        assert host.state is ConnState.CONNECTED
        handle = host.sampling_handle()
        assert handle is not None and handle[0] is early_conn
        assert len(host.vms()) == 14
        assert early_open.take(LAB_URI) is None          # handed over once
    finally:
        aloop.run_until_complete(host.disconnect())


def test_a_failed_early_open_is_opened_again_and_worded_as_usual(aloop, tmp_path):
    missing = f"test://{tmp_path}/no-such-lab.xml"
    early_open.begin([missing], aloop)
    assert isinstance(early_open._started[missing].exception(timeout=30),
                      libvirt.libvirtError)
    host = LibvirtHost(missing, lambda _event: None)
    with pytest.raises(ConnectError, match=r"^Could not connect to .*no-such-lab\.xml"):
        aloop.run_until_complete(host.connect())
    assert host.state is ConnState.DISCONNECTED
    assert early_open.take(missing) is None


def test_a_later_lab_file_is_read_by_the_second_open(aloop, tmp_path):
    """The early open failed (no file yet); the host's own open sees the file."""
    lab = tmp_path / "lab.xml"
    uri = f"test://{lab}"
    early_open.begin([uri], aloop)
    early_open._started[uri].exception(timeout=30)
    lab.write_bytes(LAB.read_bytes())
    host = LibvirtHost(uri, lambda _event: None)
    aloop.run_until_complete(host.connect())
    try:
        assert host.state is ConnState.CONNECTED and len(host.vms()) == 14
    finally:
        aloop.run_until_complete(host.disconnect())


@pytest.mark.parametrize("uri, key", [
    ("qemu:///system", "qemu:///system"),
    ("xen:///system", "xen:///system"),
    (LAB_URI, LAB_URI),
    ("qemu+ssh://root@example.org/system", None),     # may ask for a password, a host key
    ("qemu+tls://host.example/system", None),
    ("xapi://root@pool.example", None),
    ("qemu://host.example/system", None),
    ("not a uri", None),
])
def test_only_uris_that_ask_nobody_are_opened_early(uri, key):
    assert early_open.eligible(uri) == key


def test_what_nobody_took_is_closed(aloop):
    early_open.begin([LAB_URI], aloop)
    conn = early_open._started[LAB_URI].result(timeout=30)
    assert conn.isAlive()
    early_open.forget_untaken()
    assert early_open.take(LAB_URI) is None
    with pytest.raises(libvirt.libvirtError):
        conn.getHostname()


def test_the_startup_uris_follow_the_sessions_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(startup_hosts, "local_socket_exists", lambda: True)
    assert startup_hosts.startup_uris(["test:///default"]) == ["test:///default"]
    from app.connection_manager import demo_uri
    assert startup_hosts.startup_uris([]) == [demo_uri(), "qemu:///system"]
    monkeypatch.setattr(startup_hosts, "local_socket_exists", lambda: False)
    assert startup_hosts.startup_uris(None) == [demo_uri()]
    store = ConnectionsStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(json.dumps({"version": 1, "connections": [
        {"uri": "qemu+ssh://root@example.org/system"}, {"uri": " xen:///system "},
        {"uri": ""}, {"nothing": 1}]}))
    assert startup_hosts.startup_uris(None) == ["qemu+ssh://root@example.org/system",
                                                "xen:///system"]


def test_a_damaged_saved_list_is_left_for_the_session_to_report(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(startup_hosts, "local_socket_exists", lambda: False)
    store = ConnectionsStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"{not json")
    from app.connection_manager import demo_uri
    assert startup_hosts.startup_uris(None) == [demo_uri()]
    assert store.path.read_bytes() == b"{not json"             # not moved aside here
    saved, warnings = store.load()                             # the session's read says it
    assert saved == [] and "damaged" in warnings[0]
