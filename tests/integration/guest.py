"""The tiny real test guest: where its files are, its domain XML, and waiting for it to boot.

The guest is Debian's kernel with a busybox initramfs (built by scripts/build-test-guest.sh),
booted straight from the domain XML. It reports on the serial port, which libvirt writes to
a file, so a test can wait for "HVCONSOLE-GUEST-READY" without a console client. The
accelerator (KVM or TCG) is whatever scripts/probe-accel.py measured to boot faster here:
nested KVM can be far slower than plain emulation.

No Qt and no pytest in here: scripts/probe-accel.py imports it too.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

REPO = Path(__file__).resolve().parents[2]
# scripts/lib/cache.sh's layout: HVCONSOLE_CACHE_DIR moves every cached artefact.
CACHE_DIR = Path(os.environ.get("HVCONSOLE_CACHE_DIR", "/var/cache/hvconsole"))
SERIAL_DIR = Path(os.environ.get("HVCONSOLE_SERIAL_DIR", "/var/log/hvconsole-test"))
READY_MARKER = "HVCONSOLE-GUEST-READY"
POWER_BUTTON_MARKER = "HVCONSOLE-GUEST-POWER-BUTTON"
KERNEL_CMDLINE = "console=tty0 console=ttyS0,115200 quiet nokaslr panic=-1"


@dataclass(frozen=True)
class GuestFiles:
    """What a domain needs to boot the test guest, and how it boots fastest here."""

    kernel: Path
    initrd: Path
    kernel_version: str
    accel: str  # libvirt domain type: "kvm" or "qemu"


@functools.lru_cache(maxsize=1)
def guest_dir() -> Path:
    """This checkout's test guest folder: the builder (cached, idempotent) is run once
    per process and says where it keeps this version of the guest (a folder per version
    of what builds it, so checkouts side by side do not rebuild over each other)."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "build-test-guest.sh")],
                          check=True, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("info="):
            return Path(line[len("info="):]).parent
    raise RuntimeError(f"build-test-guest.sh did not say where the guest is:\n{done.stdout}")


def build_guest_files() -> dict:
    """Run the (cached, idempotent) builder and return its guest.json."""
    return json.loads((guest_dir() / "guest.json").read_text())


def serial_log_path(name: str) -> Path:
    """A fresh serial log file for a domain, in a directory QEMU (libvirt-qemu) can write."""
    SERIAL_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(SERIAL_DIR, 0o1777)
    path = SERIAL_DIR / f"{name}.serial.log"
    path.unlink(missing_ok=True)
    return path


def guest_xml(name: str, *, accel: str, kernel: str | os.PathLike | None = None,
              initrd: str | os.PathLike | None = None, memory_mib: int = 128, vcpus: int = 1,
              graphics: str | None = "vnc", disk_path: str | os.PathLike | None = None,
              disk_format: str = "raw", serial_log: str | os.PathLike | None = None,
              tablet: bool = False, vnc_password: str | None = None,
              video: str = "vga", acpi: bool = True, report: bool = False,
              cmdline_extra: str = "", serial_append: bool = False) -> str:
    """Domain XML for the test guest.

    ``accel`` is the domain type ("kvm" or "qemu"). ``graphics`` is "vnc", "spice" or None;
    VNC and SPICE listen on 127.0.0.1 with an automatic port. ``serial_log`` is where the
    guest's serial port is written (default: SERIAL_DIR/<name>.serial.log);
    ``vnc_password`` sets the display's password (VNC or SPICE); ``video`` is the video
    model ("vga", "qxl", "virtio", "cirrus", "bochs"); ``cmdline_extra`` is added to the
    kernel command line (``hvconsole.counter``: see scripts/test-guest-init.sh);
    ``serial_append`` opens the serial log for appending (libvirt truncates it for every new
    QEMU otherwise, the destination's of a migration too). ACPI is on so
    that `virsh shutdown` presses the power button the guest's init listens to;
    ``acpi=False`` makes a guest that ignores it (the call succeeds, the guest runs on).
    ``report`` makes the guest report its disks, NICs' carriers, CD and a counter on the
    serial port (scripts/test-guest-init.sh: report()), kept across QEMU restarts (a
    snapshot's revert) by appending to the log.
    """
    if accel not in ("kvm", "qemu"):
        raise ValueError(f"accel must be 'kvm' or 'qemu', not {accel!r}")
    kernel = Path(kernel) if kernel else guest_dir() / "vmlinuz"
    initrd = Path(initrd) if initrd else guest_dir() / "initrd.gz"
    serial = Path(serial_log) if serial_log else SERIAL_DIR / f"{name}.serial.log"
    append = " append='on'" if report or serial_append else ""
    cmdline = " ".join(part for part in (KERNEL_CMDLINE, "hvconsole.report" if report else "",
                                         cmdline_extra) if part)
    devices = [
        f"<serial type='file'><source path={quoteattr(str(serial))}{append}/>"
        "<target port='0'/></serial>",
        "<input type='keyboard' bus='ps2'/>",
        "<input type='mouse' bus='ps2'/>",
        _video_xml(video),
        "<memballoon model='none'/>",
    ]
    if tablet:
        devices.append("<input type='tablet' bus='usb'/>")
    if graphics in ("vnc", "spice"):
        passwd = f" passwd={quoteattr(vnc_password)}" if vnc_password is not None else ""
        devices.append(f"<graphics type='{graphics}' autoport='yes' listen='127.0.0.1'{passwd}>"
                       "<listen type='address' address='127.0.0.1'/></graphics>")
    elif graphics is not None:
        raise ValueError(f"graphics must be 'vnc', 'spice' or None, not {graphics!r}")
    if disk_path is not None:
        devices.append(f"<disk type='file' device='disk'><driver name='qemu' type='{disk_format}'/>"
                       f"<source file={quoteattr(str(disk_path))}/>"
                       "<target dev='vda' bus='virtio'/></disk>")
    body = "\n    ".join(devices)
    return f"""<domain type='{accel}'>
  <name>{escape(name)}</name>
  <description>HVConsole integration test guest (safe to delete)</description>
  <memory unit='MiB'>{int(memory_mib)}</memory>
  <vcpu>{int(vcpus)}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(kernel))}</kernel>
    <initrd>{escape(str(initrd))}</initrd>
    <cmdline>{escape(cmdline)}</cmdline>
  </os>
  {"<features><acpi/></features>" if acpi else ""}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    {body}
  </devices>
</domain>
"""


def _video_xml(model: str) -> str:
    if model == "vga":
        return "<video><model type='vga' vram='16384' heads='1'/></video>"
    if model == "qxl":
        return ("<video><model type='qxl' ram='65536' vram='65536' vgamem='16384' "
                "heads='1'/></video>")
    if model in ("virtio", "cirrus", "bochs"):
        return f"<video><model type='{model}' heads='1'/></video>"
    raise ValueError(f"video must be 'vga', 'qxl', 'virtio', 'cirrus' or 'bochs', not {model!r}")


def serial_size(path: str | os.PathLike) -> int:
    """How much of the serial log exists now: pass it as ``after`` to wait for new output."""
    try:
        return Path(path).stat().st_size
    except FileNotFoundError:
        return 0


def wait_for_serial(path: str | os.PathLike, marker: str = READY_MARKER,
                    timeout: float = 60.0, *, after: int = 0, interval: float = 0.1) -> float:
    """Block until ``marker`` appears in the serial log past byte ``after``; return the
    seconds it took.

    A reboot keeps the same log (only a new QEMU process truncates it), hence ``after``.
    Raises TimeoutError with the log's tail, which usually says what went wrong.
    """
    path = Path(path)
    start = time.monotonic()
    while True:
        try:
            if marker.encode() in path.read_bytes()[after:]:
                return time.monotonic() - start
        except FileNotFoundError:
            pass
        if time.monotonic() - start > timeout:
            try:
                tail = path.read_bytes()[-2000:].decode(errors="replace")
            except FileNotFoundError:
                tail = "(no serial log written)"
            raise TimeoutError(f"{marker!r} not in {path} within {timeout:.0f} s; "
                               f"serial log ends with:\n{tail}")
        pause(interval)


# Linux input key codes (virDomainSendKey, VIR_KEYCODE_SET_LINUX) of what typing a shell
# loop needs: lower-case letters, digits, space, ';' and Enter, none of them shifted.
KEYCODES = {**dict(zip("qwertyuiop", range(16, 26), strict=True)),
            **dict(zip("asdfghjkl", range(30, 39), strict=True)),
            **dict(zip("zxcvbnm", range(44, 51), strict=True)),
            **dict(zip("1234567890", range(2, 12), strict=True)),
            " ": 57, ";": 39, "\n": 28}
# Typed at the guest's shell: the date four times a second, so its VGA console scrolls
# (a screen that never stops changing, for consoles under load or over a bad link).
SCROLLING_COMMAND = "while true; do date; usleep 250000; done\n"


def type_on_console(domain, text: str) -> None:
    """Types ``text`` on the guest's keyboard (libvirt's send-key, no console client):
    only the characters of KEYCODES."""
    import libvirt
    for char in text:
        domain.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 30, [KEYCODES[char]], 1, 0)
        time.sleep(0.03)


# Set by tests/integration/conftest.py: waits with the test session's event loop running.
pause_hook: Callable[[float], bool] | None = None


def pause(seconds: float) -> None:
    """Waits the way the app would: with the test session's event loop running when there
    is one (``pause_hook``). Once HVConsole's hosts have registered libvirt's event loop
    on asyncio, every libvirt connection of the process (the fixtures' too) answers
    libvirtd's keepalive pings only while that loop runs; a plain sleep through a 30 s TCG
    boot made libvirtd drop the fixture's connection ("client socket is closed") on a busy
    machine. Scripts (probe-accel.py) have no loop: a plain sleep."""
    if pause_hook is None or not pause_hook(seconds):
        time.sleep(seconds)


@dataclass
class LiveGuest:
    """A test guest defined in libvirt by the guest_factory fixture.

    ``domain`` is a virDomain on the fixture's own connection; ``volume`` is the
    virStorageVol of its disk when it was made with one.
    """

    name: str
    domain: object
    serial_log: Path
    persistent: bool
    volume: object | None = None

    def start(self) -> None:
        """Start the (persistent, shut off) guest; its serial log starts empty."""
        self.serial_log.unlink(missing_ok=True)
        self.domain.create()

    def wait_ready(self, timeout: float = 90.0, after: int = 0) -> float:
        return wait_for_serial(self.serial_log, READY_MARKER, timeout, after=after)

    def state(self) -> int:
        """libvirt's VIR_DOMAIN_* state code."""
        return self.domain.state()[0]
