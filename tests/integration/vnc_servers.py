"""VNC servers other than libvirt's for the console tests, started and stopped by the tests
themselves on 127.0.0.1 and spare ports: TigerVNC's Xvnc (an X server that is its own VNC
server), x11vnc serving an Xvfb, and a bare QEMU whose VNC server speaks TLS. Also the X
tools that look at the same X display from the other side (xwd, xdotool, xset, xrandr),
so a test can compare what the console shows with what the server really has.

Why these shapes:
- X servers pick a free display number themselves (``-displayfd``), so tests never
  collide with another X server on the machine (xvfb-run, another test).
- The screen gets a pattern (``xsetroot -mod``) and a picture window (``xwud`` showing a
  generated XWD image with gradients, noise and flat areas), so every encoding has both
  flat and busy areas to encode.
- QEMU runs with no guest at all (``-S``: the CPU never starts): its VGA shows a
  constant screen, which is enough for a TLS handshake and a first frame, and QEMU's
  own ``screendump`` tells what that frame must be.
"""
from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from connectors.console.rfb.client import RfbClient
from connectors.console.transport import TcpTransport
from tests.integration.remote_services import spare_port, wait_for_port

TOOLS = ("Xvnc", "Xvfb", "x11vnc", "xdotool", "xset", "xsetroot", "xrandr", "xwd", "xwud",
         "vncpasswd")


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_until(condition, timeout: float = 20.0, interval: float = 0.05):
    """Polls ``condition`` until it returns something true; that value, or None."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def _start_x(argv: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """Starts an X server with ``-displayfd``; (process, ":N") once it accepts clients."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([*argv, "-displayfd", str(write_end)], pass_fds=[write_end],
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + 30
    try:
        os.set_blocking(read_end, False)
        while not number.endswith(b"\n"):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"{argv[0]} did not start: {log.read_text()[-2000:]}")
            try:
                chunk = os.read(read_end, 16)
            except BlockingIOError:
                time.sleep(0.05)
                continue
            if not chunk:
                time.sleep(0.05)
            number += chunk
    finally:
        os.close(read_end)
    return proc, f":{int(number)}"


@dataclass
class XDisplay:
    """An X display the tests can drive and photograph."""

    name: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ, DISPLAY=self.name)
        env.pop("XAUTHORITY", None)
        return env

    def run(self, *argv: str, check: bool = True) -> str:
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True,
                              check=check, timeout=30).stdout

    def start(self, *argv: str) -> subprocess.Popen:
        return subprocess.Popen(argv, env=self.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def screen(self) -> np.ndarray:
        """The root window as the X server has it: H x W x 3 RGB (xwd)."""
        data = subprocess.run(["xwd", "-root", "-silent", "-display", self.name],
                              capture_output=True, check=True, timeout=30).stdout
        return parse_xwd(data)

    def pointer(self) -> tuple[int, int]:
        fields = dict(item.split(":", 1) for item in self.run("xdotool",
                                                              "getmouselocation").split())
        return int(fields["x"]), int(fields["y"])

    def leds(self) -> dict[str, bool]:
        """Caps/Num/Scroll Lock as the X server's keyboard has them (xset q)."""
        out = self.run("xset", "q")
        return {name: re.search(rf"{name}:\s+on", out) is not None
                for name in ("Caps Lock", "Num Lock", "Scroll Lock")}

    def decorate(self, tmp: Path) -> subprocess.Popen:
        """A pattern on the root and a picture window with gradients and noise; the
        picture viewer's process (the caller stops it)."""
        self.run("xsetroot", "-mod", "6", "5", "-fg", "#d04020", "-bg", "#2040a0")
        image = tmp / "picture.xwd"
        image.write_bytes(make_xwd(sample_picture(320, 200)))
        viewer = self.start("xwud", "-in", str(image), "-geometry", "+40+30", "-noclick")
        flat = np.array(PICTURE_FLAT, np.uint8)
        last: list[np.ndarray] = []

        def shown_and_still() -> bool:
            """The picture is on the screen and two looks in a row agree (drawn whole)."""
            screen = self.screen()
            still = bool(last) and np.array_equal(last[-1], screen)
            last[:] = [screen]
            return still and (screen == flat).all(axis=2).sum() > 1000
        if not wait_until(shown_and_still, 30):
            _stop(viewer)
            raise RuntimeError("the picture window did not appear")
        return viewer


PICTURE_FLAT = (30, 160, 90)


def sample_picture(width: int, height: int) -> np.ndarray:
    """Gradients, flat areas, stripes and noise (the same every run)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = (x * 255 // max(1, width - 1)).astype(np.uint8)
    rgb[..., 1] = (y * 255 // max(1, height - 1)).astype(np.uint8)
    rgb[..., 2] = ((x // 8 + y // 8) % 2 * 200).astype(np.uint8)
    rng = np.random.default_rng(7)
    rgb[height // 2:, : width // 3] = rng.integers(0, 256, (height - height // 2,
                                                            width // 3, 3), np.uint8)
    rgb[: height // 3, width * 2 // 3:] = PICTURE_FLAT
    return rgb


def make_xwd(rgb: np.ndarray) -> bytes:
    """An XWD file (ZPixmap, 24-bit TrueColor, 32 bits a pixel) that xwud can show."""
    height, width, _ = rgb.shape
    name = b"hvconsole\x00"
    header_size = 100 + len(name)
    header = struct.pack(">25I", header_size, 7, 2, 24, width, height, 0, 1, 32, 1, 32, 32,
                         width * 4, 4, 0xFF0000, 0xFF00, 0xFF, 8, 256, 0, width, height, 0, 0,
                         0)
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 1], pixels[..., 2], pixels[..., 3] = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return header + name + pixels.tobytes()


def parse_xwd(data: bytes) -> np.ndarray:
    """The pixels of a 24/32-bit TrueColor ZPixmap XWD dump as H x W x 3 RGB."""
    fields = struct.unpack(">25I", data[:100])
    header_size, _version, pixmap_format, _depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask, ncolors = fields[14], fields[15], fields[16], fields[19]
    if pixmap_format != 2 or bits_per_pixel not in (24, 32):
        raise ValueError(f"xwd: format {pixmap_format}, {bits_per_pixel} bits a pixel")
    start = header_size + 12 * ncolors
    size = bits_per_pixel // 8
    rows = np.frombuffer(data[start:start + bytes_per_line * height], np.uint8)
    pixels = rows.reshape(height, bytes_per_line)[:, :width * size].reshape(height, width,
                                                                            size)
    if byte_order != 0:
        pixels = pixels[..., ::-1]
    words = np.zeros((height, width), np.uint32)
    for index in range(size):   # little-endian bytes into one number a pixel
        words |= pixels[..., index].astype(np.uint32) << (8 * index)
    out = np.zeros((height, width, 3), np.uint8)
    for channel, mask in enumerate((red_mask, green_mask, blue_mask)):
        shift = (mask & -mask).bit_length() - 1
        out[..., channel] = ((words & mask) >> shift).astype(np.uint8)
    return out


@dataclass
class VncServer:
    """A running VNC server: where to connect, its X display (if any), how to stop."""

    port: int
    display: XDisplay | None
    root: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    password: str | None = None

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def vnc_password_file(path: Path, password: str) -> Path:
    path.write_bytes(subprocess.run(["vncpasswd", "-f"], input=f"{password}\n".encode(),
                                    capture_output=True, check=True).stdout)
    path.chmod(0o600)
    return path


def start_xvnc(*security: str, password: str | None = None, cert_dir: Path | None = None,
               geometry: str = "800x600", extra: tuple[str, ...] = ()) -> VncServer:
    """TigerVNC's Xvnc on 127.0.0.1. ``security``: its -SecurityTypes (None, VncAuth,
    TLSVnc, X509Vnc, X509Plain…); X509 types take the certificate from ``cert_dir``
    (server-cert.pem, server-key.pem)."""
    root = Path(tempfile.mkdtemp(prefix="hvconsole-xvnc-"))
    port = spare_port()
    argv = ["Xvnc", "-rfbport", str(port), "-interface", "127.0.0.1", "-localhost",
            "-nolisten", "tcp", "-geometry", geometry, "-depth", "24",
            "-SecurityTypes", ",".join(security or ("None",)), "-AlwaysShared",
            "-AcceptSetDesktopSize"]
    if password is not None:
        argv += ["-PasswordFile", str(vnc_password_file(root / "passwd", password))]
    if cert_dir is not None:
        argv += ["-X509Cert", str(cert_dir / "server-cert.pem"),
                 "-X509Key", str(cert_dir / "server-key.pem")]
    argv += extra
    proc, name = _start_x(argv, root / "xvnc.log")
    server = VncServer(port, XDisplay(name), root, [proc], password)
    if not wait_for_port(port, 20):
        server.stop()
        raise RuntimeError(f"Xvnc does not listen on {port}")
    return server


def start_x11vnc(geometry: str = "800x600", password: str | None = None) -> VncServer:
    """x11vnc serving an Xvfb (the way x11vnc shares an existing desktop)."""
    root = Path(tempfile.mkdtemp(prefix="hvconsole-x11vnc-"))
    xvfb, name = _start_x(["Xvfb", "-screen", "0", f"{geometry}x24", "-nolisten", "tcp"],
                          root / "xvfb.log")
    port = spare_port()
    argv = ["x11vnc", "-display", name, "-rfbport", str(port), "-listen", "127.0.0.1",
            "-forever", "-shared", "-noxdamage", "-quiet", "-nopw"]
    if password is not None:
        argv += ["-rfbauth", str(vnc_password_file(root / "passwd", password))]
    x11vnc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                              stderr=open(root / "x11vnc.log", "ab"),
                              env=dict(os.environ, DISPLAY=name))
    server = VncServer(port, XDisplay(name), root, [xvfb, x11vnc], password)
    if not wait_for_port(port, 30):
        server.stop()
        raise RuntimeError(f"x11vnc does not listen: {(root / 'x11vnc.log').read_text()}")
    return server


@dataclass
class QemuVnc(VncServer):
    monitor: Path | None = None

    def hmp(self, command: str) -> str:
        """One human monitor command, its output."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(20)
            sock.connect(str(self.monitor))
            out = b""
            while not out.endswith(b"(qemu) "):
                out += sock.recv(4096)
            sock.sendall(command.encode() + b"\n")
            out = b""
            while not out.endswith(b"(qemu) "):
                out += sock.recv(4096)
        return out.decode("utf-8", "replace")

    def screen(self) -> np.ndarray:
        """What QEMU's display shows (its screendump, a PPM), as H x W x 3 RGB."""
        path = self.root / "screen.ppm"
        path.unlink(missing_ok=True)
        self.hmp(f"screendump {path}")
        from PIL import Image
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB")).copy()


def start_qemu_tls(cert_dir: Path | None, password: str | None = None,
                   verify_clients: bool = False) -> QemuVnc:
    """QEMU with no guest (``-S``) and a VNC server with TLS: X.509 credentials from
    ``cert_dir`` (ca-cert.pem, server-cert.pem, server-key.pem), or anonymous TLS when
    ``cert_dir`` is None. With a password it offers X509Vnc / TLSVnc. ``verify_clients``:
    QEMU wants a client certificate signed by the same CA (vnc_tls_x509_verify=1)."""
    root = Path(tempfile.mkdtemp(prefix="hvconsole-qemu-tls-"))
    port = spare_port()
    display = port - 5900
    if not 0 <= display < 100000:
        raise RuntimeError(f"port {port} is below QEMU's VNC base 5900")
    if cert_dir is None:
        creds = "tls-creds-anon,id=tls0,endpoint=server"
    else:
        verify = "on" if verify_clients else "off"
        creds = f"tls-creds-x509,id=tls0,dir={cert_dir},endpoint=server,verify-peer={verify}"
    vnc = f"127.0.0.1:{display},tls-creds=tls0" + (",password=on" if password else "")
    monitor = root / "monitor.sock"
    argv = ["qemu-system-x86_64", "-S", "-nodefaults", "-vga", "std", "-machine", "pc",
            "-accel", "tcg", "-m", "32", "-display", "none", "-object", creds, "-vnc", vnc,
            "-monitor", f"unix:{monitor},server=on,wait=off"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=open(root / "qemu.log", "ab"))
    server = QemuVnc(port, None, root, [proc], password, monitor)
    if not wait_for_port(port, 30):
        server.stop()
        raise RuntimeError(f"QEMU's VNC does not listen: {(root / 'qemu.log').read_text()}")
    if password:
        server.hmp(f"set_password vnc {password}")
    return server


PLAIN_USER = "hvvnc"


def ensure_plain_user(password: str) -> str:
    """A local user only the VeNCrypt Plain tests log in as (Xvnc checks it with PAM)."""
    try:
        pwd.getpwnam(PLAIN_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
                        PLAIN_USER], check=True, capture_output=True)
    subprocess.run(["chpasswd"], input=f"{PLAIN_USER}:{password}\n", text=True, check=True,
                   capture_output=True)
    return PLAIN_USER


class RecordingClient(RfbClient):
    """An RfbClient that notes which encodings the server really used."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.encodings_seen: set[int] = set()

    async def _rect(self, read, x, y, w, h, encoding):
        if w and h:
            self.encodings_seen.add(encoding)
        await super()._rect(read, x, y, w, h, encoding)


@asynccontextmanager
async def console(port: int, password: str | None = None, **options):
    """A connected console client with its message loop running, closed on exit."""
    async def get_password():
        return password
    client = RecordingClient(TcpTransport("127.0.0.1", port), password=get_password,
                             **options)
    await asyncio.wait_for(client.connect(), 30)
    runner = asyncio.ensure_future(client.run())
    try:
        yield client
    finally:
        client.close()
        try:
            await asyncio.wait_for(runner, 10)
        except Exception:  # noqa: BLE001 - the loop ends with the connection
            pass


async def until(condition, timeout: float = 30.0, what: str = "the condition"):
    """Awaits until ``condition()`` is true (polling); AssertionError naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.03)


async def first_frame(client: RfbClient) -> np.ndarray:
    await until(lambda: client.frames >= 1, what="the first frame")
    return client.framebuffer.rgb().copy()


async def converges(client: RfbClient, screen, timeout: float = 30.0) -> None:
    """Waits until the framebuffer equals ``screen()`` (re-read each time: a server that
    copies the X screen by polling, like x11vnc, lags it a little)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        wanted = await asyncio.to_thread(screen)
        got = client.framebuffer.rgb()
        if got.shape == wanted.shape and (got == wanted).all():
            return
        if loop.time() > deadline:
            diff = (got != wanted).any(axis=2).sum() if got.shape == wanted.shape else "size"
            raise AssertionError(f"framebuffer {got.shape} differs from the server's screen "
                                 f"{wanted.shape}: {diff} pixels")
        client.request_full_update()
        await asyncio.sleep(0.2)
