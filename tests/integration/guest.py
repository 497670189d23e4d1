"""The tiny real test guest: where its files are, its domain XML, and waiting for it to boot.

The guest is Debian's kernel with a busybox initramfs (built by scripts/build-test-guest.sh),
booted straight from the domain XML. It reports on the serial port, which libvirt writes to
a file, so a test can wait for "HVCONSOLE-GUEST-READY" without a console client. The
accelerator (KVM or TCG) is whatever scripts/probe-accel.py measured to boot faster here:
nested KVM can be far slower than plain emulation.

No Qt and no pytest in here: scripts/probe-accel.py imports it too.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

REPO = Path(__file__).resolve().parents[2]
# scripts/lib/cache.sh's layout: HVCONSOLE_CACHE_DIR moves every cached artefact.
CACHE_DIR = Path(os.environ.get("HVCONSOLE_CACHE_DIR", "/var/cache/hvconsole"))
GUEST_DIR = Path(os.environ.get("HVCONSOLE_GUEST_DIR", str(CACHE_DIR / "test-guest")))
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


def build_guest_files() -> dict:
    """Run the (cached, idempotent) builder and return its guest.json."""
    subprocess.run(["bash", str(REPO / "scripts" / "build-test-guest.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads((GUEST_DIR / "guest.json").read_text())


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
              video: str = "vga", acpi: bool = True, cmdline_extra: str = "",
              serial_append: bool = False) -> str:
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
    """
    if accel not in ("kvm", "qemu"):
        raise ValueError(f"accel must be 'kvm' or 'qemu', not {accel!r}")
    kernel = Path(kernel) if kernel else GUEST_DIR / "vmlinuz"
    initrd = Path(initrd) if initrd else GUEST_DIR / "initrd.gz"
    serial = Path(serial_log) if serial_log else SERIAL_DIR / f"{name}.serial.log"
    devices = [
        f"<serial type='file'><source path={quoteattr(str(serial))}"
        f"{' append=' + quoteattr('on') if serial_append else ''}/>"
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
    <cmdline>{escape(f"{KERNEL_CMDLINE} {cmdline_extra}".strip())}</cmdline>
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
        time.sleep(interval)


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
