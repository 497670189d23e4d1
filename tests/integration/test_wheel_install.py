"""HVConsole installed from a wheel, away from the checkout, has its icons and its demo lab.

The icons and the demo lab used to be found by a path relative to the source tree, which
only a checkout has: a wheel installed elsewhere opened without icons and stopped at start
on the demo's missing file. Here a wheel is built from the checkout and installed into a
new virtual environment; the app runs from a folder outside the checkout, and its window
is checked by pixels.

The new environment borrows the project's already-installed dependencies (PySide6,
libvirt-python, ...) through a path entry to the project venv's site-packages, so the test
does not download Qt again. Only a plain path is added there: the editable install's .pth
hook that points back at the checkout is not run, and the test checks that ``app`` is the
wheel's copy.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Its own wheel, venv and folders; the app it starts only lists the local host (reads):
# it may run beside other tests.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600), pytest.mark.own_guests]

ROOT = Path(__file__).resolve().parents[2]
VM_ICON_BLUE = (0x90, 0xCA, 0xF9)     # every VM state icon's screen (resources/icons/vm-*.svg)
SERVER_GREY = (0x90, 0xA4, 0xAE)      # Add Server's two servers (action-add-server.svg)


# Not part of the wheel's source: the checkout's own build products and environments.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                    ".test-logs", "*.so")


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """A new venv with the wheel built from a copy of this checkout; its bin/ folder.

    Built from a copy: setuptools builds in the source tree's build/ folder, which the
    editable install of the checkout uses too, and other tests' processes write into the
    checkout (byte code) while the build walks it; a copy is also what a release build
    starts from, nothing left over from the developer's own builds."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                            "-q", "-w", str(work / "dist")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("hvconsole-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c",
                           "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import app, resources; print(app.__file__);"
                            "print(resources.DEMO_LAB)"], capture_output=True, text=True,
                           cwd=work, check=True).stdout.split()
    assert all(path.startswith(str(venv)) for path in where), where
    return venv / "bin"


def _run(bindir: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        env[var] = str(tmp_path / sub)
    return subprocess.run([str(bindir / "hvconsole"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=150)


def _count(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 6) -> int:
    return int((np.abs(pixels[..., :3].astype(int) - colour).max(axis=-1) <= tolerance).sum())


def test_the_installed_wheel_opens_the_demo_with_its_icons(installed, tmp_path):
    shot = tmp_path / "demo.png"
    done = _run(installed, tmp_path, "--screenshot", str(shot))   # the demo (+ local host)
    assert done.returncode == 0, done.stderr
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    height, width, _ = pixels.shape
    tree = pixels[:, : width // 3]
    toolbar = pixels[: height // 8, : width // 8]
    # Fourteen demo VMs, each icon's screen about 44 pixels of this blue at 16 px.
    assert _count(tree, VM_ICON_BLUE) >= 12 * 30, "no VM state icons in the tree"
    assert _count(toolbar, SERVER_GREY) >= 40, "no Add Server icon in the toolbar"


def test_a_missing_demo_lab_is_a_sentence_not_a_traceback(installed, tmp_path):
    lab = subprocess.run([str(installed / "python"), "-c",
                          "import resources; print(resources.DEMO_LAB)"],
                         capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    hidden = Path(lab + ".away")
    os.rename(lab, hidden)
    try:
        shot = tmp_path / "nodemo.png"
        done = _run(installed, tmp_path, "--screenshot", str(shot))
    finally:
        os.rename(hidden, lab)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert "The demo inventory cannot be shown: its file" in done.stderr
    assert "is missing from this installation of HVConsole" in done.stderr
    assert shot.is_file()


def test_the_console_script_says_the_version_the_wheel_was_built_as(installed, tmp_path):
    """The version comes from the installed distribution's metadata: the venv has no
    pyproject.toml for app/version.py's source-tree fallback to read."""
    import tomllib
    built_as = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    metadata = subprocess.run(
        [str(installed / "python"), "-c",
         "import importlib.metadata as m, app.version as v, pathlib;"
         "print(m.version('hvconsole'));"
         "print((pathlib.Path(v.__file__).parent.parent / 'pyproject.toml').exists())"],
        capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert metadata == [built_as, "False"]
    done = _run(installed, tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"hvconsole {built_as} (libvirt "), done.stdout
