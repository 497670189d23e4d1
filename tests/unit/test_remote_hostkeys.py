"""SSH host key bookkeeping against real ssh-keygen and real known_hosts files (no sshd:
the integration tests scan a live one)."""
from __future__ import annotations

import subprocess

import pytest
from hypothesis import example, given, settings, strategies as st

from connectors.libvirt import hostkeys
from connectors.libvirt.hostkeys import (HostKey, HostKeyCheck, KeyStatus, KnownHosts,
                                         classify, default_known_hosts, known_hosts_name,
                                         preferred_first)
from connectors.libvirt.uri import libvirt_uri


def make_key(tmp_path, name: str, kind: str = "ed25519") -> HostKey:
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    key_type, blob = path.with_suffix(".pub").read_text().split()[:2]
    return HostKey(key_type, blob)


def test_names_follow_known_hosts_conventions():
    assert known_hosts_name("kvm1", None) == "kvm1"
    assert known_hosts_name("kvm1", 22) == "kvm1"
    assert known_hosts_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"


def test_fingerprint_matches_ssh_keygen(tmp_path):
    key = make_key(tmp_path, "a")
    printed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "a.pub")],
                             capture_output=True, text=True, check=True).stdout
    assert key.fingerprint == printed.split()[1]
    assert key.label == "ED25519"


def test_added_keys_are_found_also_when_hashed(tmp_path):
    key = make_key(tmp_path, "a")
    known = KnownHosts(tmp_path / "ssh" / "known_hosts")
    assert known.lookup("127.0.0.1", 2222) == ()
    known.add("127.0.0.1", 2222, [key])
    assert known.lookup("127.0.0.1", 2222) == (key,)
    assert known.lookup("127.0.0.1", 2223) == ()
    assert oct(known.path.stat().st_mode & 0o777) == "0o600"
    subprocess.run(["ssh-keygen", "-H", "-f", str(known.path)], check=True,
                   capture_output=True)
    assert "127.0.0.1" not in known.path.read_text()
    assert known.lookup("127.0.0.1", 2222) == (key,)
    known.remove("127.0.0.1", 2222)
    assert known.lookup("127.0.0.1", 2222) == ()


def test_classify_known_unknown_changed(tmp_path):
    ed, other_ed = make_key(tmp_path, "a"), make_key(tmp_path, "b")
    ecdsa = make_key(tmp_path, "c", "ecdsa")
    assert classify((ed,), ()) is KeyStatus.UNKNOWN
    assert classify((ed, ecdsa), (ed,)) is KeyStatus.KNOWN
    assert classify((other_ed,), (ed,)) is KeyStatus.CHANGED
    # The same type with another key is a change even if another type still matches.
    assert classify((other_ed, ecdsa), (ed, ecdsa)) is KeyStatus.CHANGED
    # Trusted keys of a type the host no longer offers: not silently accepted.
    assert classify((ecdsa,), (ed,)) is KeyStatus.CHANGED
    assert preferred_first((ecdsa, ed))[0] == ed


def test_descriptions_say_what_to_do(tmp_path):
    key = make_key(tmp_path, "a")
    changed = HostKeyCheck("kvm1", 2222, KeyStatus.CHANGED, (key,), (key,))
    assert "CHANGED" in changed.describe() and "ssh-keygen -R '[kvm1]:2222'" in \
        changed.describe()
    unknown = HostKeyCheck("kvm1", None, KeyStatus.UNKNOWN, (key,))
    assert key.fingerprint in unknown.describe()


@pytest.mark.parametrize("uri,expected", [
    ("qemu+ssh://root@h/system", "qemu+ssh://root@h/system?no_tty=1"),
    ("qemu+ssh://root@h/system?keyfile=/k", "qemu+ssh://root@h/system?keyfile=/k&no_tty=1"),
    ("qemu+ssh://root@h/system?no_tty=0", "qemu+ssh://root@h/system?no_tty=0"),
    ("qemu+libssh://root@h/system",
     f"qemu+libssh://root@h/system?known_hosts={default_known_hosts()}"),
    ("qemu+libssh2://h/system?known_hosts=/k", "qemu+libssh2://h/system?known_hosts=/k"),
    ("qemu+tcp://h/system", "qemu+tcp://h/system"),
])
def test_ssh_runs_without_a_terminal(uri, expected):
    assert libvirt_uri(uri) == expected


# ---- hostile key lines (benchmarks/fuzz_campaign.py's known-hosts parser) ----

GOOD_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43


@settings(deadline=None)
@example("kvm1.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv\n")         # bad padding
@example("kvm1.example ssh-ed25519 AAAA\u00e9C3Nz\n")                      # not ASCII
@given(st.lists(st.one_of(
    st.text(max_size=60),
    st.builds(lambda host, kind, blob: f"{host} {kind} {blob}", st.text(
        st.characters(blacklist_categories=("Zs", "Cc", "Cs")), min_size=1, max_size=20),
        st.sampled_from(["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "x"]),
        st.one_of(st.just(GOOD_BLOB), st.text(max_size=40)))), max_size=6))
def test_any_key_lines_give_keys_whose_fingerprints_can_be_shown(lines):
    """A damaged known_hosts line (ssh-keygen -F prints what is in the file) is skipped;
    every key that is read can be fingerprinted for the trust dialog."""
    keys = hostkeys._parse_lines("\n".join(lines))
    for key in keys:
        assert key.fingerprint.startswith("SHA256:") and key.label
    hostkeys.classify(keys, keys[:1])
