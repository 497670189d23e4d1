"""Nothing the user saved is lost on disk: kill -9 in the middle of a save, or a full disk.

The kill test runs tests/unit/disk_writer_child.py, a real process saving one of
HVConsole's files in a loop, and kills it with SIGKILL at random moments; the file must
then be one whole generation of its content. The full-disk tests mount a real, tiny tmpfs
(root only), fill it, and save again: the old file must still be there, no temporary
file left behind, and the user told in a sentence.
"""
from __future__ import annotations

import errno
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app import settings_file
from app.config import ConnectionsStore, SavedConnection
from app.perf.history import HistoryStore
from app.preferences import ALERT_RULES, Preferences
from app.search.saved import SavedSearches
from app.vault import EncryptedFileVault, VaultError
from connectors.atomic_file import replace_file, write_failure
from connectors.libvirt.hostkeys import HostKey, KnownHosts
from tests.conftest import unavailable

CHILD = Path(__file__).with_name("disk_writer_child.py")
KILLS = 12   # per kind of file; each kill lands at a random moment of the save loop
BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43


def _kill_while_saving(kind: str, path: Path, rng: random.Random) -> None:
    child = subprocess.Popen([sys.executable, str(CHILD), kind, str(path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
    finally:
        child.kill()
        child.wait()


def _one_generation(values: list[str]) -> set[str]:
    return {re.search(r"g(\d+)", v).group(1) for v in values}   # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["connections", "settings", "vault", "known_hosts",
                                  "saved_searches", "history"])
def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_file(kind, tmp_path):
    rng = random.Random(kind)
    path = tmp_path / f"{kind}.file"
    for _ in range(KILLS):
        _kill_while_saving(kind, path, rng)
        if kind == "connections":
            saved, warnings = ConnectionsStore(path).load()
            assert warnings == [] and len(saved) == 300
            assert len(_one_generation([s.uri for s in saved])) == 1
        elif kind == "settings":
            rules = Preferences(QSettings(str(path), QSettings.Format.IniFormat)
                                ).value(ALERT_RULES)
            assert len(rules) == 300, "the stored rules were not readable"
            assert len({r["rule_id"] for r in rules}) == 1
        elif kind == "vault":
            vault = EncryptedFileVault(path, time_cost=1)
            vault.unlock("campaign password")
            assert vault.get("key0") is not None and vault.get("key0").startswith("secret-g")
        elif kind == "saved_searches":
            searches = SavedSearches(path)
            assert searches.warnings == [] and len(searches) == 300
            assert len(_one_generation(searches.names())) == 1
        elif kind == "known_hosts":
            lines = path.read_text().splitlines()
            assert lines, "the known hosts were lost"
            assert all(re.fullmatch(rf"\[host\d+\.example\]:22 ssh-ed25519 {BLOB}|"
                                    rf"host\d+\.example ssh-ed25519 {BLOB}", line)
                       for line in lines), "a line was cut short"
        else:
            store = HistoryStore(path, writer_thread=False).start()
            try:
                assert store.warning is None, store.warning
                t, cpu, _mx = store.series("vm7", "cpu", 0, 2e10, tier=0)
                _t, mem, _mx = store.series("vm7", "mem", 0, 2e10, tier=0)
                assert len(t) >= 1 and list(cpu) == list(mem)   # whole frames only
            finally:
                store.close()


def test_a_lock_left_half_made_by_a_killed_session_does_not_stall_the_next_save(tmp_path):
    """Killed between creating the settings' lock and writing its owner into it, a session
    leaves an empty lock; Qt would wait 30 s for it inside the next save (seen with the
    kill test above). The start removes it; a lock naming its owner is left to Qt."""
    from PySide6.QtCore import QLockFile

    path = tmp_path / "hvconsole.conf"
    lock = tmp_path / "hvconsole.conf.lock"
    lock.write_bytes(b"")
    old = time.time() - 10
    os.utime(lock, (old, old))
    assert not QLockFile(str(lock)).tryLock(0)          # what the next save would wait on
    assert settings_file.clear_torn_lock(str(path))
    taken = QLockFile(str(lock))
    assert taken.tryLock(0)
    taken.unlock()

    holder = QLockFile(str(lock))                        # a live session's lock,
    assert holder.tryLock(0)
    lock.write_bytes(b"")                                # seen as its owner is written
    os.utime(lock, (old, old))
    assert not settings_file.clear_torn_lock(str(path)) and lock.exists()
    holder.unlock()
    lock.write_bytes(b"4242\nhvconsole\nhost\n")         # an owner Qt can check itself
    os.utime(lock, (old, old))
    assert not settings_file.clear_torn_lock(str(path)) and lock.exists()
    assert not settings_file.clear_torn_lock(str(tmp_path / "none.conf"))


# ---- a full disk ----------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A real 256 KiB tmpfs mounted for the test, and a function that fills it up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        unavailable("mounting a tmpfs to fill up needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def fill() -> None:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free() -> None:
        (mount / "filler").unlink()

    try:
        yield mount, fill, free
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_keeps_the_saved_servers_and_says_so(tiny_disk):
    mount, fill, _free = tiny_disk
    store = ConnectionsStore(mount / "connections.json")
    store.save([SavedConnection("qemu:///system")])
    before = store.path.read_bytes()
    fill()
    with pytest.raises(OSError) as caught:
        store.save([SavedConnection(f"qemu+ssh://h{i}.example/system") for i in range(500)])
    assert caught.value.errno == errno.ENOSPC
    assert store.path.read_bytes() == before
    assert _leftovers(mount) == []
    sentence = write_failure("the list of saved servers", store.path, caught.value)
    assert "disk is full" in sentence and "previous version" in sentence


def test_a_full_disk_keeps_the_settings_file_and_the_events_log_hears_of_it(tiny_disk):
    mount, fill, free = tiny_disk
    heard: list[str] = []
    stop = settings_file.report_failures_to(heard.append)
    try:
        prefs = Preferences(QSettings(str(mount / "hvconsole.conf"),
                                      QSettings.Format.IniFormat))
        prefs.set_value("perf/history_days", 3)
        before = (mount / "hvconsole.conf").read_bytes()
        fill()
        prefs.set_value(ALERT_RULES, [{"target": f"vm{i}"} for i in range(5000)])
        assert (mount / "hvconsole.conf").read_bytes() == before
        assert len(heard) == 1 and "could not be saved" in heard[0]
        assert prefs.history_days == 3
        free()
        prefs.set_value("perf/history_days", 4)   # the next change saves everything
        again = Preferences(QSettings(str(mount / "hvconsole.conf"),
                                      QSettings.Format.IniFormat))
        assert again.history_days == 4 and len(again.value(ALERT_RULES)) == 5000
        assert len(heard) == 1
    finally:
        stop()


def test_a_full_disk_keeps_the_encrypted_passwords(tiny_disk):
    mount, fill, _free = tiny_disk
    vault = EncryptedFileVault(mount / "secrets.cfg", time_cost=1)
    vault.unlock("campaign password")
    vault.set("first", "kept secret")
    fill()
    with pytest.raises(VaultError):
        vault.set("second", "x" * 300_000)
    again = EncryptedFileVault(mount / "secrets.cfg", time_cost=1)
    again.unlock("campaign password")
    assert again.get("first") == "kept secret"
    assert _leftovers(mount) == []


def test_a_full_disk_keeps_the_known_hosts(tiny_disk):
    mount, fill, _free = tiny_disk
    known = KnownHosts(mount / "known_hosts")
    known.add("kvm1.example", 22, [HostKey("ssh-ed25519", BLOB)])
    before = known.path.read_bytes()
    fill()
    with pytest.raises(OSError):
        known.add("kvm2.example", 22, [HostKey("ssh-ed25519", BLOB * 3000)])
    assert known.path.read_bytes() == before


def test_a_full_disk_stops_the_history_but_not_the_sampling(tiny_disk):
    mount, fill, free = tiny_disk
    store = HistoryStore(mount / "history.sqlite", writer_thread=False).start()
    keys = [f"vm{i}" for i in range(200)]
    now = time.time()   # older frames would be pruned as past their retention
    try:
        store.record(now, keys, {"cpu": 1.0})
        store._flush_reporting()
        assert store.write_failure is None
        fill()
        for step in range(1, 40):
            store.record(now + step, keys, {"cpu": 2.0})
            store._flush_reporting()
            if store.write_failure:
                break
        assert store.write_failure and "could not be written" in store.write_failure
        free()
        store.record(now + 100, keys, {"cpu": 3.0})
        store._flush_reporting()
        assert store.write_failure is None
        t, avg, _ = store.series("vm5", "cpu", now - 1, now + 200, tier=0)
        assert t[0] == now and t[-1] == now + 100 and avg[0] == 1.0 and avg[-1] == 3.0
    finally:
        store.close()
    reopened = HistoryStore(mount / "history.sqlite", writer_thread=False).start()
    assert reopened.warning is None
    reopened.close()


def test_replace_file_keeps_a_symlinked_known_hosts_a_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "known_hosts"
    real.parent.mkdir()
    real.write_text("old.example ssh-ed25519 " + BLOB)   # no final newline
    link = tmp_path / "known_hosts"
    link.symlink_to(real)
    KnownHosts(link).add("new.example", None, [HostKey("ssh-ed25519", BLOB)])
    assert link.is_symlink()
    assert real.read_text().splitlines() == [f"old.example ssh-ed25519 {BLOB}",
                                             f"new.example ssh-ed25519 {BLOB}"]


def test_replace_file_sets_the_mode_and_leaves_no_temporary_file(tmp_path):
    replace_file(tmp_path / "a.json", json.dumps({"a": 1}).encode())
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o600
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [True, False])
def test_a_full_disk_at_start_keeps_the_history_file_and_the_app_starts(tiny_disk,
                                                                        existing):
    """A disk that refuses is not a damaged file: nothing is moved aside, the store
    starts with its history in memory and a sentence for the Events log."""
    mount, fill, _free = tiny_disk
    path = mount / "history.sqlite"
    if existing:
        store = HistoryStore(path, writer_thread=False).start()
        store.record(time.time(), ["vm1"], {"cpu": 1.0})
        store.close()
        before = path.read_bytes()
    fill()
    store = HistoryStore(path, writer_thread=False).start()
    try:
        store.record(time.time(), ["vm1"], {"cpu": 2.0})
        store.flush()                   # in memory: sampling goes on
        assert store.warning and "could not be opened" in store.warning
        assert not [p for p in mount.iterdir() if ".corrupt-" in p.name]
        if existing:
            assert path.read_bytes() == before
    finally:
        store.close()


def test_temporary_files_of_interrupted_saves_are_swept_once_an_hour_old(tmp_path):
    old = tmp_path / ".a.json.k1ll3d.tmp"
    fresh = tmp_path / ".a.json.s4v1ng.tmp"
    other = tmp_path / ".b.json.k1ll3d.tmp"
    for leftover in (old, fresh, other):
        leftover.write_bytes(b"{half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(other, (two_hours_ago, two_hours_ago))
    replace_file(tmp_path / "a.json", b"{}")
    assert not old.exists()
    assert fresh.exists(), "a save under way in another HVConsole keeps its file"
    assert other.exists(), "only the saved file's own leftovers go"
