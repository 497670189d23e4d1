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
    with pytest.raises(ValueError, match="only vnc://"):
        parse_console_uri("rdp://h")


def test_vv_files(tmp_path):
    path = tmp_path / "c.vv"
    path.write_text("[virt-viewer]\ntype=vnc\nhost=10.0.0.5\nport=5907\npassword=abc\n"
                    "title=web01 %d\ndelete-this-file=1\n")
    a = read_vv_file(path)
    assert (a.host, a.port, a.password, a.title) == ("10.0.0.5", 5907, "abc", "web01 %d")
    path.write_text("[virt-viewer]\ntype=spice\nhost=h\nport=1\n")
    with pytest.raises(ValueError, match="spice is not supported yet"):
        read_vv_file(path)
    path.write_text("[other]\n")
    with pytest.raises(ValueError, match="no \\[virt-viewer\\] section"):
        read_vv_file(path)


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
