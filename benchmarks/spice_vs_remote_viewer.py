"""HVConsole's SPICE console beside remote-viewer (virt-viewer, spice-gtk) on the same
guest and workload: CPU seconds per displayed frame for each, and their ratio. The
floor is remote-viewer's figure in the same run: HVConsole should spend no more CPU per
frame shown than it (target ratio 1.0), and show as many frames.

Set-up: a transient test guest (busybox, scripts/build-test-guest.sh) with SPICE graphics
and QXL video on qemu:///system. Its shell is made to redraw the whole text screen
without pause: `od /dev/urandom` is typed on its console through libvirt's send-key (not
through either viewer), so every refresh of QEMU's display changes most of the 720x400
screen. Both viewers run under one private Xvfb, one after the other (alternating order
over --rounds), each as the user starts it: `remote-viewer spice://127.0.0.1:PORT` and
`python -m app spice://127.0.0.1:PORT` (the standalone console). Each gets --warmup
seconds to connect and settle, then is measured for --seconds; --rounds pairs of runs
(HVConsole and remote-viewer one after the other) give the ratio round by round, and
the output has the median and the range of the rounds' ratios (the machine is shared,
so one round's figure alone is noise).

CPU: utime + stime of the viewer's process from /proc/PID/stat (all its threads), over
the measured window only; wall time is not used (the machine is shared).

Displayed frames, measured the same way for both: this script grabs a band of the Xvfb
screen across both viewers' guest display (Xlib's XGetImage) as fast as it can and
counts grabs that differ from the one before, i.e. screen changes a user could have
seen. Grabbing is capped by its own speed: grabs_per_s and changes_per_grab are in the
output (near 1 change a grab, the count is capped and says little). The grabbing costs
Xvfb and this process, not the viewers. For HVConsole the client's own count of frames
received (``client.frames``) over the same window is also reported (client_frames), read
from a file the wrapped standalone console rewrites every 0.2 s. Last, the SPICE client
runs alone (no window, no Qt, plain asyncio) for the same time: its CPU per piece drawn
over HVConsole's (protocol_share) says how much of the console's cost is the protocol
itself rather than Qt, painting and the event loop.

Needs: libvirtd (qemu:///system), the test guest, Xvfb, and remote-viewer (Debian package
virt-viewer: `apt-get install virt-viewer`; without it, only HVConsole is measured and
the output says why).
Run: .venv/bin/python benchmarks/spice_vs_remote_viewer.py --json
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.host_facts import machine, start_xvfb  # noqa: E402
from connectors.console.keymap import SC_SHIFT_L, text_keystrokes  # noqa: E402

URI = "qemu:///system"
WORKLOAD = "od /dev/urandom\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BAND = (0, 150, 1024, 100)          # x, y, width, height of the screen grabbed
ALL_PLANES, Z_PIXMAP = (1 << 64) - 1, 2
GRABS_PER_S = 240
# HVConsole spends no more CPU per displayed frame than remote-viewer (spice-gtk, in C).
TARGET_RATIO = 1.0

# The standalone console, wrapped only to write its client's frame count to a file.
OURS = r"""
import sys, threading, time
import app.console_session as console
path = sys.argv[1]
served = console.ConsoleSession._serve
clients = []
async def serve(self, client):
    clients.append(client)
    return await served(self, client)
console.ConsoleSession._serve = serve
def report():
    while True:
        frames = clients[-1].frames if clients else 0
        with open(path + ".tmp", "w") as fh:
            fh.write(str(frames))
        import os; os.replace(path + ".tmp", path)
        time.sleep(0.2)
threading.Thread(target=report, daemon=True).start()
from app.cli import main
sys.exit(main(sys.argv[2:]))
"""


# The SPICE client alone, no window and no Qt: what the protocol work costs by itself.
CLIENT_ONLY = r"""
import asyncio, sys, time
from connectors.console.spice.client import SpiceClient
from connectors.console.transport import TcpTransport
host, port, warmup, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
async def main():
    client = SpiceClient(TcpTransport(host, port))
    await client.connect()
    runner = asyncio.ensure_future(client.run())
    await asyncio.sleep(warmup)
    cpu0, frames0 = time.process_time(), client.frames
    await asyncio.sleep(seconds)
    print(time.process_time() - cpu0, client.frames - frames0)
    client.close()
    await asyncio.gather(runner, return_exceptions=True)
asyncio.run(main())
"""


def client_only(port: int, warmup: float, seconds: float) -> dict:
    done = subprocess.run([sys.executable, "-c", CLIENT_ONLY, "127.0.0.1", str(port),
                           str(warmup), str(seconds)], cwd=REPO, capture_output=True,
                          text=True, timeout=warmup + seconds + 60)
    if done.returncode != 0:
        return {"viewer": "spice-client-only", "error": done.stderr[-800:]}
    cpu, frames = done.stdout.split()
    return {"viewer": "spice-client-only", "seconds": seconds, "cpu_s": round(float(cpu), 3),
            "client_frames": int(frames)}


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def type_on_console(dom, text: str) -> None:
    """Keys through libvirt (QEMU's scancodes), one press-and-release per character."""
    import libvirt
    for scancode, _keysym, shift in text_keystrokes(text):
        keys = [SC_SHIFT_L, scancode] if shift else [scancode]
        dom.sendKey(libvirt.VIR_KEYCODE_SET_QNUM, 30, keys, len(keys), 0)
        time.sleep(0.03)


def boot_guest(prefix: str):
    import libvirt

    from tests.integration.guest import (build_guest_files, guest_dir, guest_xml,
                                         serial_log_path, wait_for_serial)
    build_guest_files()
    subprocess.run([sys.executable, str(REPO / "scripts" / "probe-accel.py")], check=True,
                   stdout=subprocess.DEVNULL)
    accel = json.loads((guest_dir() / "accel.json").read_text())["accel"]
    conn = libvirt.open(URI)
    name = f"{prefix}spicebench-{uuid.uuid4().hex[:6]}"
    log = serial_log_path(name)
    dom = conn.createXML(guest_xml(name, accel=accel, graphics="spice", video="qxl",
                                   serial_log=log), 0)
    wait_for_serial(log, timeout=300)   # TCG on a busy machine
    port = int(re.search(r"<graphics type='spice' port='(\d+)'", dom.XMLDesc(0)).group(1))
    return conn, dom, port, log


class _XImage(ctypes.Structure):
    """The head of Xlib's XImage: as far as the fields read here."""
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int),
                ("xoffset", ctypes.c_int), ("format", ctypes.c_int),
                ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int),
                ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
                ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


class ScreenChanges:
    """Counts changes of a band of the X screen between consecutive grabs.

    The band (BAND: full width, rows 150-250) lies inside both viewers' guest display
    (each window at the top left, the guest's 720x400 text screen below remote-viewer's
    menu and toolbar), and the workload scrolls every row of it: a grab of it costs a
    tenth of the whole screen's, so the grabbing keeps up with a viewer at 60 frames a
    second (a grab of the whole screen took ~15 ms on a busy machine, and capped the
    count near the viewers' own rate; it also counted each partly painted screen as a
    change of its own). Read with Xlib's XGetImage through ctypes."""

    def __init__(self, display: str) -> None:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XGetImage.restype = ctypes.POINTER(_XImage)
        x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int,
                                  ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                  ctypes.c_ulong, ctypes.c_int]
        x11.XDestroyImage.argtypes = [ctypes.POINTER(_XImage)]
        self.x11 = x11
        self.dpy = x11.XOpenDisplay(display.encode())
        if not self.dpy:
            raise RuntimeError(f"cannot open X display {display}")
        self.root = x11.XDefaultRootWindow(self.dpy)

    def grab(self) -> bytes:
        x, y, w, h = BAND
        image = self.x11.XGetImage(self.dpy, self.root, x, y, w, h, ALL_PLANES, Z_PIXMAP)
        if not image:
            raise RuntimeError("XGetImage failed")
        try:
            return ctypes.string_at(image.contents.data,
                                    image.contents.bytes_per_line * image.contents.height)
        finally:
            self.x11.XDestroyImage(image)

    def close(self) -> None:
        self.x11.XCloseDisplay(ctypes.c_void_p(self.dpy))

    def count(self, seconds: float) -> tuple[int, int]:
        """(changes seen, grabs made) during ``seconds``, GRABS_PER_S at most: four
        grabs to a 60 Hz frame see every change, and grabbing faster only takes CPU
        from the guest and the viewers (a thousand grabs a second cost Xvfb and this
        process most of a core)."""
        previous = self.grab()
        changes = grabs = 0
        start = time.monotonic()
        end = start + seconds
        while (now := time.monotonic()) < end:
            due = start + grabs / GRABS_PER_S
            if due > now:
                time.sleep(due - now)
            current = self.grab()
            grabs += 1
            if current != previous:
                changes += 1
            previous = current
        return changes, grabs


def read_int(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (OSError, ValueError):
        return 0


def measure(name: str, argv: list[str], display: str, warmup: float, seconds: float,
            xvfb_pid: int, frames_file: Path | None = None,
            shots: Path | None = None) -> dict:
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", NO_AT_BRIDGE="1",
               GDK_BACKEND="x11")
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            return {"viewer": name, "error": f"exited with {proc.returncode}: "
                    f"{proc.stderr.read().decode(errors='replace')[-800:]}"}
        screen = ScreenChanges(display)
        cpu0, xvfb0 = cpu_seconds(proc.pid), cpu_seconds(xvfb_pid)
        client0 = read_int(frames_file) if frames_file else None
        try:
            changes, grabs = screen.count(seconds)
        finally:
            screen.close()
        if shots is not None:      # what was on the screen, to check the band's place
            from PIL import ImageGrab
            ImageGrab.grab(xdisplay=display).save(shots / f"{name}.png")
        cpu = cpu_seconds(proc.pid) - cpu0
        if not changes:
            return {"viewer": name, "error": f"showed nothing in {seconds:g} s "
                    f"({cpu:.2f} s of CPU)"}
        result = {"viewer": name, "seconds": seconds, "cpu_s": round(cpu, 3),
                  "frames": changes, "grabs_per_s": round(grabs / seconds, 1),
                  "changes_per_grab": round(changes / grabs, 2),
                  # The X server's CPU (drawing for the viewer, and the grabs)
                  "xvfb_cpu_s": round(cpu_seconds(xvfb_pid) - xvfb0, 3),
                  "cpu_s_per_frame": round(cpu / changes, 5) if changes else None}
        if frames_file is not None:
            client_frames = read_int(frames_file) - client0
            result["client_frames"] = client_frames
            result["cpu_s_per_client_frame"] = (round(cpu / client_frames, 5)
                                                if client_frames else None)
        return result
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def per_frame(run: dict) -> float | None:
    return run["cpu_s"] / run["frames"] if run.get("frames") else None


def spread(values: list[float]) -> dict:
    """Median and range of one figure over the rounds."""
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(values), 5), "min": round(min(values), 5),
            "max": round(max(values), 5)}


def compare(runs: list[dict]) -> dict:
    """Figure, floor and ratio: HVConsole against remote-viewer, round by round (each
    round measures both one after the other on the same guest), then the median."""
    ours = [r for r in runs if r["viewer"] == "hvconsole" and "error" not in r]
    theirs = [r for r in runs if r["viewer"] == "remote-viewer" and "error" not in r]
    pairs = [(a, b) for a, b in zip(ours, theirs, strict=False) if per_frame(a) and per_frame(b)]
    cpu_ratios = [per_frame(a) / per_frame(b) for a, b in pairs]  # type: ignore[operator]
    frame_ratios = [a["frames"] / b["frames"] for a, b in pairs]
    ours_pf = [per_frame(r) for r in ours if per_frame(r)]
    theirs_pf = [per_frame(r) for r in theirs if per_frame(r)]
    result = {
        "cpu_s_per_frame": spread(ours_pf)["median"],
        "floor_cpu_s_per_frame": spread(theirs_pf)["median"],
        "ratio_cpu_per_frame": spread(cpu_ratios)["median"],
        "ratio_cpu_per_frame_spread": spread(cpu_ratios),
        "target_ratio": TARGET_RATIO,
        "frames_per_s": spread([r["frames"] / r["seconds"] for r in ours])["median"],
        "floor_frames_per_s": spread([r["frames"] / r["seconds"] for r in theirs])["median"],
        "ratio_frames_shown": spread(frame_ratios)["median"],
        "ratio_frames_shown_spread": spread(frame_ratios),
    }
    ratio = result["ratio_cpu_per_frame"]
    result["met"] = bool(ratio is not None and ratio <= TARGET_RATIO)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="measured time of each viewer in each round")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="from starting a viewer to measuring it (Python and Qt "
                             "start in 2-3 s on a busy 2-core machine)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefix", default="hvconsole-bench-",
                        help="name prefix of the transient guest")
    parser.add_argument("--shots", type=Path,
                        help="a folder for a picture of the screen after each viewer's run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    remote_viewer = shutil.which("remote-viewer")
    conn, dom, port, log = boot_guest(args.prefix)
    xvfb, display = start_xvfb("1024x768x24")
    runs: list[dict] = []
    try:
        type_on_console(dom, WORKLOAD)
        address = f"spice://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as tmp:
            frames_file = Path(tmp) / "frames"
            ours = [sys.executable, "-c", OURS, str(frames_file), address]
            theirs = [remote_viewer, address] if remote_viewer else None
            for round_no in range(args.rounds):
                order = [("hvconsole", ours, frames_file), ("remote-viewer", theirs, None)]
                if round_no % 2:
                    order.reverse()
                for name, argv, frames in order:
                    if argv is not None:
                        runs.append(measure(name, argv, display, args.warmup, args.seconds,
                                            xvfb.pid, frames, args.shots))
            runs.append(client_only(port, args.warmup, args.seconds))
    finally:
        xvfb.terminate()
        xvfb.wait(10)
        try:
            dom.destroy()
        except Exception:  # noqa: BLE001 - already gone
            pass
        conn.close()
        log.unlink(missing_ok=True)

    summary: dict = {"benchmark": "spice_vs_remote_viewer", **machine(),
                     "date": time.strftime("%Y-%m-%d"), "workload": WORKLOAD.strip(),
                     "seconds": args.seconds, "rounds": args.rounds}
    if remote_viewer:
        summary.update(compare(runs))
    else:
        summary["floor_cpu_s_per_frame"] = ("missing: install the Debian package "
                                            "virt-viewer (apt-get install virt-viewer)")
        summary["met"] = False
    alone = [r for r in runs if r["viewer"] == "spice-client-only" and "error" not in r]
    ours_runs = [r for r in runs if r["viewer"] == "hvconsole" and r.get("client_frames")]
    if alone and ours_runs and alone[0]["client_frames"]:
        # The client without a window over the same length of the same workload: the share
        # of HVConsole's CPU that is protocol work rather than Qt, painting and the loop.
        # Per piece drawn (client frames), since the server sends the faster client more.
        gui = sum(r["cpu_s"] for r in ours_runs) / sum(r["client_frames"] for r in ours_runs)
        bare = alone[0]["cpu_s"] / alone[0]["client_frames"]
        summary["protocol_share"] = round(bare / gui, 2)
        summary["cpu_us_per_piece"] = round(gui * 1e6, 1)
        summary["protocol_cpu_us_per_piece"] = round(bare * 1e6, 1)
    summary["runs"] = runs
    print(json.dumps(summary, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
