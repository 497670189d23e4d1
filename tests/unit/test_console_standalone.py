"""Standalone console addresses (vnc://, .vv files) and `hvconsole ADDRESS --screenshot`
against a scripted VNC server on a real TCP port."""
from __future__ import annotations

import socket
import threading

import pytest

from connectors.console.address import parse_console_uri, read_vv_file
from connectors.console.rfb import messages as m
from tests.unit.rfb_helpers import bgrx, handshake_38, rect, update


def test_vnc_uris():
    a = parse_console_uri("vnc://example.org:5901")
    assert (a.host, a.port, a.password) == ("example.org", 5901, None)
    assert parse_console_uri("vnc://h").port == 5900
    assert parse_console_uri("vnc://h:2").port == 5902  # a display number
    assert parse_console_uri("vnc://:pw%21@h:5905").password == "pw!"
    with pytest.raises(ValueError, match="no host"):
        parse_console_uri("vnc://:5900")
    with pytest.raises(ValueError, match="not a console address"):
        parse_console_uri("rdp://h")


def test_vv_files(tmp_path):
    path = tmp_path / "c.vv"
    path.write_text("[virt-viewer]\ntype=vnc\nhost=10.0.0.5\nport=5907\npassword=abc\n"
                    "title=web01 %d\ndelete-this-file=1\n")
    a = read_vv_file(path)
    assert (a.host, a.port, a.password, a.title) == ("10.0.0.5", 5907, "abc", "web01 %d")
    path.write_text("[virt-viewer]\ntype=rdp\nhost=h\nport=1\n")
    with pytest.raises(ValueError, match="type rdp is not supported"):
        read_vv_file(path)
    path.write_text("[other]\n")
    with pytest.raises(ValueError, match="no \\[virt-viewer\\] section"):
        read_vv_file(path)


def test_a_connection_file_saved_without_its_extension_is_still_one(tmp_path):
    from widgets.console.standalone import address_of
    path = tmp_path / "console"          # as a browser may save a download
    path.write_text("[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=5930\n")
    a = address_of(str(path))
    assert (a.protocol, a.host, a.port) == ("spice", "127.0.0.1", 5930)
    with pytest.raises(ValueError, match="not a console address"):
        address_of(str(tmp_path / "missing"))


@pytest.fixture
def vnc_server():
    """A one-connection VNC server on 127.0.0.1 sending a 16x8 green picture."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    picture = handshake_38(16, 8) + update(rect(0, 0, 16, 8, m.ENC_RAW, bgrx(0, 255, 0) * 128))

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(picture)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(5)


def test_screenshot_of_a_vnc_address(vnc_server, tmp_path):
    from PIL import Image

    from app.cli import main
    out = tmp_path / "screen.png"
    assert main([f"vnc://127.0.0.1:{vnc_server}", "--screenshot", str(out)]) == 0
    image = Image.open(out)
    assert image.size == (16, 8) and image.getpixel((15, 7)) == (0, 255, 0)


def test_screenshot_of_a_vv_file_and_of_nothing(vnc_server, tmp_path, capsys):
    from app.cli import main
    vv = tmp_path / "c.vv"
    vv.write_text(f"[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport={vnc_server}\n")
    assert main([str(vv), "--screenshot", str(tmp_path / "a.png")]) == 0
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert main([f"vnc://127.0.0.1:{port}", "--screenshot", str(tmp_path / "b.png")]) == 1
    assert "Cannot reach" in capsys.readouterr().err


RELAY = """
import socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def up():
    while data := sys.stdin.buffer.read1(65536):
        s.sendall(data)
threading.Thread(target=up, daemon=True).start()
while data := s.recv(65536):
    sys.stdout.buffer.write(data); sys.stdout.buffer.flush()
"""


def test_a_console_through_a_helper_process(vnc_server):
    """What `ssh -W host:port` does for a qemu+ssh:// console, done by a local relay
    process: the client speaks RFB over the process's stdin and stdout."""
    import asyncio
    import sys

    from connectors.console.rfb.client import RfbClient
    from connectors.console.transport import CommandTransport

    async def go():
        transport = CommandTransport([sys.executable, "-c", RELAY, "127.0.0.1",
                                      str(vnc_server)], "relay")
        client = RfbClient(transport)
        await asyncio.wait_for(client.connect(), 10)
        runner = asyncio.ensure_future(client.run())
        while client.frames < 1:
            await asyncio.sleep(0.02)
        client.close()
        await asyncio.gather(runner, return_exceptions=True)
        return client

    client = asyncio.run(go())
    assert client.framebuffer.rgb()[7, 15].tolist() == [0, 255, 0]


def test_ssh_tunnel_commands():
    from connectors.console.transport import ssh_tunnel
    port = ssh_tunnel("root@kvm1", "127.0.0.1", 5901, ssh_port=2222)
    assert port.argv[-3:] == ["-W", "127.0.0.1:5901", "root@kvm1"] and "2222" in port.argv
    sock = ssh_tunnel("kvm1", "", socket_path="/run/libvirt/qemu/vnc.sock")
    assert sock.argv[-4:] == ["kvm1", "nc", "-U", "/run/libvirt/qemu/vnc.sock"]
