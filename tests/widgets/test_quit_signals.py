"""Ctrl-C and SIGTERM end ``hvconsole`` (the main window and a standalone console) the way
closing the window does: exit status 0 and no traceback. Real processes, Qt offscreen."""
from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = "SIGINT and SIGTERM close the window"


def _start(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen, queue.Queue]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        env[var] = str(tmp_path / sub)
    proc = subprocess.Popen([sys.executable, "-m", "app", "--debug", *args], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _wait_for(lines: queue.Queue, marker: str, timeout: float = 60) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError("the process ended before it was ready:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return seen


def _rest(lines: queue.Queue) -> str:
    out = []
    while (line := lines.get(timeout=30)) is not None:
        out.append(line)
    return "".join(out)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("target", ["main window", "standalone console"])
def test_a_signal_closes_the_window_cleanly(tmp_path, sig, target):
    args = (["--connect", "test:///default"] if target == "main window"
            else [f"vnc://127.0.0.1:{_closed_port()}"])
    proc, lines = _start(args, tmp_path)
    try:
        before = "".join(_wait_for(lines, READY))
        proc.send_signal(sig)
        status = proc.wait(timeout=30)
        after = _rest(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 0, before + after
    assert "Traceback" not in after and "KeyboardInterrupt" not in after, after
