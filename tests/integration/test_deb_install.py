"""The Debian package as a new user meets it: built from this checkout by
packaging/build-deb.sh, installed with `apt-get install ./hvconsole_….deb` into a fresh
Debian 12 root (scripts/try-deb.sh, from the cached root of scripts/build-deb-test-root.sh),
run there by a plain user under Xvfb, then removed.

Nothing is mocked: the package's Depends are resolved by Debian's apt against Debian's
packages, the window is drawn by the PySide6 the package carries, libvirt is Debian 12's.
Needs root (debootstrap, chroot, mounts) and, for a cold cache, Debian's mirror.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500),
              pytest.mark.skipif(os.geteuid() != 0, reason="chroot and mounts need root")]

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.hvconsole.HVConsole"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
VM_ICON_BLUE = (0x90, 0xCA, 0xF9)     # every VM state icon's screen (resources/icons/vm-*.svg)
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(["bash", str(ROOT / "packaging" / "build-deb.sh"), str(out)],
                           capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stderr[-3000:]
    (package,) = out.glob("hvconsole_*.deb")
    assert package.name == f"hvconsole_{VERSION}_amd64.deb"
    return package


@pytest.fixture(scope="module")
def unpacked(deb, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(where)], check=True)
    return where


@pytest.fixture(scope="module")
def vnc_port():
    """A VNC server on 127.0.0.1 for the installed program's standalone console: the
    scripted one of the console's unit tests (real TCP, real RFB 3.8 bytes, a 16x8 green
    screen), since a QEMU guest would add a minute for the same handshake."""
    from connectors.console.rfb import messages as m
    from tests.unit.rfb_helpers import bgrx, handshake_38, rect, update
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


@pytest.fixture(scope="module")
def tried(deb, vnc_port, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tried")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "try-deb.sh"), str(deb), str(out)],
                          capture_output=True, text=True, timeout=1200,
                          env=dict(os.environ, TRY_VNC_PORT=str(vnc_port)))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_package_keeps_its_python_modules_private(deb):
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    paths = [line.split()[-1].removeprefix(".") for line in listing.splitlines()]
    python = [p for p in paths if p.endswith((".py", ".so", ".pyc"))]
    assert python and all(p.startswith("/usr/lib/hvconsole/") for p in python), \
        [p for p in python if not p.startswith("/usr/lib/hvconsole/")][:5]
    assert "/usr/lib/hvconsole/app/cli.py" in paths
    assert any(p.startswith("/usr/lib/hvconsole/connectors/console/rfb/_zrle_accel.cpython-311")
               for p in paths), "the ZRLE C decoder is not in the package"
    assert any(p.startswith("/usr/lib/hvconsole/PySide6/QtWidgets.") for p in paths)
    assert _field(deb, "Architecture") == "amd64"      # it carries x86-64 code
    depends = _field(deb, "Depends")
    for debian_package in ("python3-libvirt", "python3-numpy", "python3-pil",
                           "python3-cryptography", "python3-keyring"):
        assert debian_package in depends
    assert "pyside" not in depends.lower()


def test_its_desktop_files_pass_the_desktops_own_checks(unpacked):
    share = unpacked / "usr" / "share"
    entry = share / "applications" / f"{APP_ID}.desktop"
    done = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout
    metainfo = share / "metainfo" / f"{APP_ID}.metainfo.xml"
    done = subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert f'<release version="{VERSION}"' in metainfo.read_text()
    icons = share / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    for size in ICON_SIZES:
        with Image.open(icons / f"{size}x{size}" / "apps" / f"{APP_ID}.png") as png:
            assert png.size == (size, size)
            assert png.getextrema()[3][0] == 0, "the icon's corners should be transparent"
    assert (share / "man" / "man1" / "hvconsole.1.gz").stat().st_size > 500
    assert (share / "mime" / "packages" / f"{APP_ID}.xml").is_file()


def test_installed_on_a_fresh_debian_12_it_runs_for_a_plain_user(tried):
    log = (tried / "install.log").read_text()
    assert f"Setting up hvconsole ({VERSION})" in log, log[-3000:]
    files = (tried / "files.txt").read_text().split()
    assert "/usr/bin/hvconsole" in files
    version = (tried / "version.txt").read_text()
    # Debian 12's libvirt, and the Qt of the PySide6 the package carries.
    assert version.startswith(f"hvconsole {VERSION} (libvirt 9.0.0, Qt 6."), version


def test_its_window_shows_the_test_drivers_host_and_vm(tried):
    shot = tried / "tree.png"
    assert shot.is_file(), (tried / "screenshot.log").read_text()[-3000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    height, width, _ = pixels.shape
    assert (width, height) == (1280, 800)
    tree = pixels[:, : width // 3]
    blue = (np.abs(tree - VM_ICON_BLUE).max(axis=-1) <= 6)
    assert blue.sum() >= 30, "no VM state icon in the tree"
    # Rows of the tree below its header (the window is 1280x800: the header ends above
    # 12 % of the height, the status bar starts below 95 %): the host, its VM, and the
    # Networks and Storage groups, each a band of dark glyph and icon pixels.
    rows = tree[int(height * 0.12): int(height * 0.95)]
    dark = (rows.max(axis=-1) < 100).any(axis=1)
    bands = int(np.count_nonzero(dark[1:] & ~dark[:-1]))
    assert bands >= 4, f"{bands} rows in the tree"
    assert "Traceback" not in (tried / "screenshot.log").read_text()


def test_a_vv_file_double_clicked_opens_hvconsole(tried):
    apps = (tried / "mime-apps.txt").read_text()
    assert f"Default application for “application/x-virt-viewer”: {APP_ID}.desktop" in apps
    # A connection file saved without .vv is still recognised by its first line.
    detected = (tried / "vv-type.txt").read_text()
    assert "standard::content-type: application/x-virt-viewer" in detected, detected
    # ... and the entry's command opens it: the console's screen arrived.
    shot = tried / "console.png"
    assert shot.is_file(), (tried / "console.log").read_text()[-3000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (8, 16, 3)
    assert (pixels == (0, 255, 0)).all()


def test_removing_it_leaves_nothing_behind(tried):
    left = (tried / "left.txt").read_text().split()
    assert left == [], left[:20]
    assert (tried / "status.txt").read_text() == ""


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
def test_man_hvconsole_shows_every_option(unpacked):
    page = subprocess.run(["man", "-l", str(unpacked / "usr/share/man/man1/hvconsole.1.gz")],
                          capture_output=True, text=True, env={"MANWIDTH": "100",
                                                                "PATH": os.environ["PATH"]},
                          check=True).stdout
    for option in ("--connect", "--screenshot", "--show-domain-creator", "--vnc-cert-dir"):
        assert option in page
