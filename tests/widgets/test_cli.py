"""``hvconsole`` from a shell: versions, a screenshot run, a damaged settings file."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], tmp_path: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        env[var] = str(tmp_path / sub)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_version_names_hvconsole_libvirt_and_qt(tmp_path):
    import libvirt
    from PySide6.QtCore import qVersion

    result = _run(["--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    packed = libvirt.getVersion()
    libvirt_version = f"{packed // 1_000_000}.{packed // 1000 % 1000}.{packed % 1000}"
    line = result.stdout.strip()
    assert line.startswith("hvconsole 0.")
    assert line.endswith(f"(libvirt {libvirt_version}, Qt {qVersion()})")


def test_version_does_not_load_the_widgets():
    code = ("import sys, io, contextlib; from app.cli import main;"
            "contextlib.redirect_stdout(io.StringIO()).__enter__(); main(['--version']);"
            "sys.stderr.write(str('PySide6.QtWidgets' in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.stderr.strip().endswith("False"), result.stderr


def test_screenshot_of_the_test_driver_is_a_png_of_the_window(tmp_path):
    shot = tmp_path / "window.png"
    result = _run(["--connect", "test:///default", "--screenshot", str(shot)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    width, height = _png_size(shot)
    assert (width, height) == (1280, 800)


def test_screenshot_to_an_unwritable_place_fails_with_a_message(tmp_path):
    shot = tmp_path / "no-such-dir" / "window.png"
    result = _run(["--connect", "test:///default", "--screenshot", str(shot)], tmp_path)
    assert result.returncode != 0
    assert "cannot write the screenshot" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_a_garbage_settings_file_is_moved_aside_and_the_app_starts(tmp_path):
    config_dir = tmp_path / "config" / "hvconsole"
    config_dir.mkdir(parents=True)
    (config_dir / "connections.json").write_bytes(b"\x00{not json at all]]\xff")
    shot = tmp_path / "window.png"
    result = _run(["--screenshot", str(shot)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert _png_size(shot) == (1280, 800)
    aside = [p.name for p in config_dir.iterdir() if p.name.startswith("connections.json.")]
    assert aside and "corrupt" in aside[0]


def test_debug_logs_to_stderr(tmp_path):
    shot = tmp_path / "window.png"
    result = _run(["--debug", "--connect", "test:///default", "--screenshot", str(shot)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr
