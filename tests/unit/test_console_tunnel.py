"""The ssh command a remote console travels through (the live tunnel is tested in
tests/integration/test_remote_hosts.py)."""
from __future__ import annotations

import pytest

from connectors.libvirt.console_tunnel import needs_tunnel, ssh_console_transport
from connectors.libvirt.model import GraphicsInfo


def test_tcp_console_uses_the_uris_user_port_and_key():
    transport = ssh_console_transport(
        "qemu+ssh://admin@kvm1:2222/system?keyfile=/home/a/.ssh/k%20vm",
        GraphicsInfo("vnc", listen="0.0.0.0", port=5901))
    argv = transport.argv
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-l") + 1] == "admin"
    assert argv[argv.index("-i") + 1] == "/home/a/.ssh/k vm"
    assert argv[-4:] == ["-W", "127.0.0.1:5901", "--", "kvm1"]


def test_a_dead_link_ends_the_tunnel_in_about_a_keepalive_window():
    argv = ssh_console_transport("qemu+ssh://kvm1/system",
                                 GraphicsInfo("vnc", port=5900)).argv
    options = {argv[i + 1] for i, word in enumerate(argv) if word == "-o"}
    assert {"ServerAliveInterval=3", "ServerAliveCountMax=3",
            "ConnectTimeout=10"} <= options
    assert argv.index("ConnectTimeout=10") < argv.index("--"), "an option, not the command"


def test_socket_console_goes_through_nc_on_the_host():
    argv = ssh_console_transport("xen+ssh://root@x/system",
                                 GraphicsInfo("vnc", socket="/run/vnc.sock")).argv
    assert argv[-5:] == ["--", "x", "nc", "-U", "/run/vnc.sock"]


def test_refusals():
    assert needs_tunnel("qemu+ssh://root@h/system")
    assert not needs_tunnel("qemu:///system") and not needs_tunnel("qemu+tls://h/system")
    with pytest.raises(ValueError, match="no port yet"):
        ssh_console_transport("qemu+ssh://h/system", GraphicsInfo("vnc", autoport=True))
    with pytest.raises(ValueError):
        ssh_console_transport("qemu+tls://h/system", GraphicsInfo("vnc", port=5900))


def test_host_key_check_follows_the_uris_no_verify():
    """no_verify=1 makes libvirt's own ssh skip the host key check; the console's ssh to
    the same host does the same, and checks as usual otherwise."""
    graphics = GraphicsInfo("vnc", listen="127.0.0.1", port=5900)
    relaxed = ssh_console_transport("xen+ssh://root@h:2200/system?no_verify=1",
                                    graphics).argv
    assert "StrictHostKeyChecking=no" in relaxed
    assert relaxed[-4:] == ["-W", "127.0.0.1:5900", "--", "h"]
    strict = ssh_console_transport("xen+ssh://root@h:2200/system?no_verify=0", graphics).argv
    assert not any("StrictHostKeyChecking" in a for a in strict)
