"""SPICE console addresses as remote-viewer takes them: spice:// URIs and .vv files with
type=spice; every malformed one is refused with a sentence that says what is wrong."""
from __future__ import annotations

import pytest

from connectors.console.address import (ConsoleAddress, looks_like_console_target,
                                        parse_console_uri, read_vv_file)


@pytest.mark.parametrize("uri, expected", [
    ("spice://example.org:5930", ConsoleAddress("spice", "example.org", 5930)),
    ("spice://example.org?port=5931", ConsoleAddress("spice", "example.org", 5931)),
    ("spice://10.0.0.5?port=5932&tls-port=5933", ConsoleAddress("spice", "10.0.0.5", 5932)),
    ("spice://h:5934?port=5934", ConsoleAddress("spice", "h", 5934)),
    ("spice://h?port=5935&password=s%C3%A9cret%26x",
     ConsoleAddress("spice", "h", 5935, "sécret&x")),
    ("spice://:pw@h:5936", ConsoleAddress("spice", "h", 5936, "pw")),
    ("spice://[::1]:5937", ConsoleAddress("spice", "::1", 5937)),
    ("spice://h?port=5938&tls-port=", ConsoleAddress("spice", "h", 5938)),
])
def test_spice_uris(uri, expected):
    assert parse_console_uri(uri) == expected


@pytest.mark.parametrize("uri, message", [
    ("spice://h", "has no port"),
    ("spice://:5900", "has no host"),
    ("spice://h?tls-port=5901", "TLS SPICE is not supported yet"),
    ("spice://h?port=abc", "port 'abc' is not a number"),
    ("spice://h?port=70000", "port 70000 is out of range"),
    ("spice://h:99999", "not a number from 0 to 65535"),
    ("spice://h:0", "port 0 is out of range"),
    ("spice://h:5900?port=5901", "two different ports"),
    ("spice://h:5900?colour=blue", "unknown parameter 'colour'"),
    ("spice://h?port", "NAME=VALUE"),
    ("rdp://h:3389", "not a console address"),
    ("spice+tls://h:5901", "TLS SPICE is not supported yet; use spice://HOST:PORT"),
    ("spice+unix:///run/vm.sock", "SPICE over a UNIX socket is not supported"),
])
def test_malformed_spice_uris_say_what_is_wrong(uri, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_console_uri(uri)
    assert str(err.value).startswith(uri)


def test_targets_that_open_the_standalone_console():
    assert looks_like_console_target("spice://h:5900")
    assert looks_like_console_target("/tmp/console.vv")
    assert not looks_like_console_target("qemu:///system")


def write_vv(tmp_path, body: str):
    path = tmp_path / "console.vv"
    path.write_text("[virt-viewer]\n" + body)
    return path


def test_spice_vv_file(tmp_path):
    path = write_vv(tmp_path, "type=spice\nhost=192.168.1.20\nport=5930\npassword=tick3t\n"
                              "title=web01 - Press %s to release\ndelete-this-file=1\n"
                              "fullscreen=0\n")
    assert read_vv_file(path) == ConsoleAddress("spice", "192.168.1.20", 5930, "tick3t",
                                                "web01 - Press %s to release")


def test_spice_vv_file_with_both_ports_uses_the_plain_one(tmp_path):
    path = write_vv(tmp_path, "type=SPICE\nhost=h\nport=5900\ntls-port=5901\n")
    assert read_vv_file(path) == ConsoleAddress("spice", "h", 5900)


@pytest.mark.parametrize("body, message", [
    ("type=spice\nhost=h\ntls-port=5901\n", "TLS SPICE is not supported yet"),
    ("type=spice\nhost=h\nport=5900\ntls-port=5901\nsecure-channels=main;inputs\n",
     r"channels over TLS \(secure-channels\), and TLS SPICE is not supported yet"),
    ("type=spice\nhost=h\n", "no port given"),
    ("type=spice\nport=5900\n", "no host given"),
    ("type=spice\nhost=h\nport=59x0\n", "port '59x0' is not a number"),
    ("type=spice\nhost=h\nport=0\n", "port 0 is out of range"),
    ("type=rdp\nhost=h\nport=1\n", "type rdp is not supported"),
    ("host=h\nport=1\n", r"type \(missing\) is not supported"),
])
def test_malformed_spice_vv_files_say_what_is_wrong(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        read_vv_file(write_vv(tmp_path, body))


def test_vv_file_that_is_not_one(tmp_path):
    path = tmp_path / "x.vv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="cannot read the connection file"):
        read_vv_file(path)
    with pytest.raises(ValueError, match="cannot read the connection file"):
        read_vv_file(tmp_path / "missing.vv")


def test_a_user_name_for_vencrypt_plain(tmp_path):
    from connectors.console.address import parse_console_uri, read_vv_file
    address = parse_console_uri("vnc://alice:p%40ss@kvm1.example.org:5901")
    assert (address.username, address.password, address.port) == ("alice", "p@ss", 5901)
    assert parse_console_uri("vnc://kvm1:1").username is None
    path = tmp_path / "plain.vv"
    path.write_text("[virt-viewer]\ntype=vnc\nhost=kvm1\nport=5901\nusername=bob\n"
                    "password=pw\n")
    assert read_vv_file(path).username == "bob"
