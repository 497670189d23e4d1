"""Saved servers: where they live, that a save is all or nothing, and that a damaged file
is moved aside with a sentence instead of stopping the program."""
from __future__ import annotations

import json
import os

import pytest

from app.config import ConnectionsStore, SavedConnection, config_dir, strip_password


def test_lives_under_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert config_dir() == tmp_path / "cfg" / "hvconsole"
    assert ConnectionsStore().path == tmp_path / "cfg" / "hvconsole" / "connections.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "hvconsole"


def test_round_trip_and_no_file_is_no_servers(tmp_path):
    store = ConnectionsStore(tmp_path / "hv" / "connections.json")
    assert store.load() == ([], [])
    saved = [SavedConnection("qemu:///system"), SavedConnection("xen+ssh://root@x/system")]
    store.save(saved)
    assert store.load() == (saved, [])
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(store.path.read_text())["connections"][0] == {"uri": "qemu:///system"}


def test_passwords_are_never_written(tmp_path):
    store = ConnectionsStore(tmp_path / "connections.json")
    store.save([SavedConnection("qemu+ssh://root:hunter2@kvm1/system")])
    assert "hunter2" not in store.path.read_text()
    assert store.load()[0] == [SavedConnection("qemu+ssh://root@kvm1/system")]
    assert strip_password("qemu:///system") == "qemu:///system"


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    store = ConnectionsStore(tmp_path / "connections.json")
    store.save([SavedConnection("qemu:///system")])
    before = store.path.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.save([SavedConnection("test:///default")])
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["connections.json"], "no temp file left"


@pytest.mark.parametrize("content", [b"\x00{not json at all]]\xff", b'{"connections": 3}',
                                     b"[1, 2", b'"just a string"'])
def test_a_damaged_file_is_moved_aside_with_a_warning(tmp_path, content):
    store = ConnectionsStore(tmp_path / "connections.json")
    store.path.write_bytes(content)
    connections, warnings = store.load()
    assert connections == []
    assert len(warnings) == 1 and "moved to" in warnings[0]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("connections.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert str(aside[0]) in warnings[0]
    assert not store.path.exists()
    store.save([SavedConnection("qemu:///system")])
    assert store.load() == ([SavedConnection("qemu:///system")], [])


def test_entries_without_uri_are_skipped_with_a_warning(tmp_path):
    store = ConnectionsStore(tmp_path / "connections.json")
    store.path.write_text(json.dumps({"version": 1, "connections": [
        {"uri": "qemu:///system"}, {"name": "no uri"}, {"uri": "qemu:///system"}]}))
    connections, warnings = store.load()
    assert connections == [SavedConnection("qemu:///system")]
    assert len(warnings) == 1 and "number 2" in warnings[0]


def test_an_unreadable_file_is_a_warning(tmp_path):
    """Without read permission (or, for root, who reads every file, a folder in the
    file's place: reading fails for everyone) the servers are not loaded, and the user is
    told why."""
    store = ConnectionsStore(tmp_path / "connections.json")
    if os.geteuid() == 0:
        store.path.mkdir()
    else:
        store.save([SavedConnection("qemu:///system")])
        store.path.chmod(0)
    try:
        connections, warnings = store.load()
    finally:
        if store.path.is_file():
            store.path.chmod(0o600)
    assert connections == [] and "could not be read" in warnings[0]
