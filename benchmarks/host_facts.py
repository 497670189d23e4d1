"""What the benchmarks say about the machine they ran on, and the private X server some
of them draw on: shared so that every benchmark's JSON names the machine the same way."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def machine() -> dict:
    """The processor count and model (/proc/cpuinfo's first "model name")."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model}


def start_xvfb(screen: str = "1920x1080x24") -> tuple[subprocess.Popen, str]:
    """A private Xvfb on a free display number (it writes the number it took); the
    process and its DISPLAY. RuntimeError when it does not start."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen,
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, f":{number}"
