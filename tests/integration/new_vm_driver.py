"""Driving the New VM wizard as a user does, against a real host (the app's own stack,
tests/integration/app_stack.py): fill the pages, press Next and Create, wait for the
task. Also the test artefacts the wizard needs: the bootable test ISO (built and cached
by scripts/build-test-iso.sh), an HTTP install tree on 127.0.0.1, and a libvirt
network whose dnsmasq serves iPXE a script, the kernel and the initrd by TFTP.
"""
from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.new_vm.session import NewVmSession
from connectors.libvirt.create_ops import Source
from tests.conftest import wait_until
from tests.integration.guest import KERNEL_CMDLINE, REPO, guest_dir
from widgets.dialogs.new_vm import NewVmWizard

TREE_PATH = "debian/dists/bullseye/main/installer-amd64"
NETBOOT = "current/images/netboot/debian-installer/amd64"


@dataclass(frozen=True)
class BuiltIso:
    iso: Path
    kernel: Path
    initrd: Path
    volume_id: str


def build_test_iso() -> BuiltIso:
    done = subprocess.run(["bash", str(REPO / "scripts" / "build-test-iso.sh")],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-test-iso.sh failed:\n{done.stderr[-3000:]}")
    facts = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return BuiltIso(Path(facts["iso"]), Path(facts["kernel"]), Path(facts["initrd"]),
                   facts["volume_id"])


def accel() -> str:
    return json.loads((guest_dir() / "accel.json").read_text())["accel"]


class InstallTree:
    """A Debian-style install tree with the test kernel and initrd, on 127.0.0.1."""

    def __init__(self, root: Path, test_iso: BuiltIso) -> None:
        netboot = root / TREE_PATH / NETBOOT
        netboot.mkdir(parents=True)
        os.symlink(test_iso.kernel, netboot / "linux")
        os.symlink(test_iso.initrd, netboot / "initrd.gz")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                    directory=str(root))
        handler.log_message = lambda *_a: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.base}/{TREE_PATH}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PxeNetwork:
    """An isolated libvirt network (no route out) whose dnsmasq hands iPXE — the boot
    ROM QEMU's NICs carry (Debian's ipxe-qemu) — the file boot.ipxe by TFTP: a script
    that fetches the test kernel and initrd the same way and boots them."""

    def __init__(self, conn, test_iso: BuiltIso, prefix: str) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"{prefix}pxe-{tag}"
        self.root = Path(f"/var/lib/hvconsole-test/tftp-{tag}")
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(test_iso.kernel, self.root / "vmlinuz")
        shutil.copy(test_iso.initrd, self.root / "initrd.gz")
        (self.root / "boot.ipxe").write_text(
            "#!ipxe\n"
            f"kernel vmlinuz {KERNEL_CMDLINE}\n"
            "initrd initrd.gz\n"
            "boot\n")
        for path in [self.root, *self.root.iterdir()]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        for parent in self.root.parents:
            if str(parent) in ("/", "/var", "/var/lib"):
                continue
            os.chmod(parent, os.stat(parent).st_mode | 0o005)
        xml = f"""<network><name>{self.name}</name><bridge name='hvct{tag}'/>
  <ip address='198.18.{int(tag[:2], 16) % 200}.1' netmask='255.255.255.0'>
    <tftp root='{self.root}'/>
    <dhcp><range start='198.18.{int(tag[:2], 16) % 200}.10'
                 end='198.18.{int(tag[:2], 16) % 200}.50'/>
      <bootp file='boot.ipxe'/></dhcp></ip></network>"""
        self.network = conn.networkCreateXML(xml)

    def close(self) -> None:
        import libvirt
        try:
            self.network.destroy()
        except libvirt.libvirtError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class WizardDriver:
    """One wizard on one host of an AppStack."""

    def __init__(self, qtbot, aloop, stack, conn_id: str) -> None:
        """``qtbot`` None: the caller closes the wizard (module-scoped fixtures)."""
        QApplication.instance().setQuitOnLastWindowClosed(False)
        self.aloop = aloop
        host = stack.manager.host(conn_id)
        self.session = NewVmSession(host, stack.tasks, stack.manager.label(conn_id))
        self.wizard = NewVmWizard(self.session, taken=lambda: frozenset(
            vm.name for vm in stack.inventory.vms(conn_id)))
        if qtbot is not None:
            qtbot.addWidget(self.wizard)
        self.wizard.show()
        self.created: list[tuple[str, bool]] = []
        self.wizard.created.connect(lambda key, console: self.created.append((key, console)))
        self.run(self.wizard.load_task)
        assert self.session.error == "", self.session.error

    def made(self) -> list[str]:
        """Paths of the volumes the last creation made (to remove after the test)."""
        job = self.session.job
        return list(job.made) if job is not None else []

    def close(self) -> None:
        self.wizard.close()
        self.wizard.deleteLater()

    def run(self, awaitable, timeout: float | None = None):
        if timeout is not None:
            awaitable = asyncio.wait_for(awaitable, timeout)
        return self.aloop.run_until_complete(awaitable)

    def until(self, predicate, timeout: float = 30.0) -> None:
        self.run(wait_until(predicate, timeout))

    def settle(self) -> None:
        """Until the chosen image or tree has been looked at and the page re-checked."""
        page = self.wizard.source_page
        self.until(lambda: not page._media_timer.isActive() and not self.wizard.plan.checking
                   and all(t.done() for t in self.wizard.pending), 60)
        self.run(asyncio.sleep(0.05))

    @property
    def problem(self) -> str:
        return self.wizard.currentPage().problem.text()

    # ---- page 1 ----

    def source(self, source: Source) -> None:
        self.wizard.source_page.radios[source].setChecked(True)

    def image_here(self, picker: str, path: str, pool: str) -> None:
        picker_widget = getattr(self.wizard.source_page, picker)
        picker_widget.here.setChecked(True)
        picker_widget.path.setText(str(path))
        picker_widget.pool.setCurrentIndex(picker_widget.pool.findData(pool))
        self.settle()

    def url(self, url: str, pool: str) -> None:
        page = self.wizard.source_page
        page.url.setText(url)
        page.url_pool.setCurrentIndex(page.url_pool.findData(pool))
        self.settle()

    def next(self) -> None:
        page = self.wizard.currentPage()
        self.until(lambda: page.isComplete(), 10)
        self.wizard.next()

    # ---- pages 2-5 ----

    def through_to_summary(self, *, name: str, accel: str, memory_mib: int = 256,
                           disk_pool: str | None = None, disk: bool = True,
                           network: tuple[str, str] | None = None, firmware: str = "bios",
                           secure_boot: bool = False, tpm: bool = False,
                           start: bool = True, console: bool = False,
                           hypervisor: tuple[str, str] | None = None,
                           graphics: str = "vnc") -> None:
        self.next()                                       # -> OS
        if self.wizard.plan.os is None:                   # nothing said which: the user picks
            assert self.wizard.os_page.choose("linux2022")
        self.next()                                       # -> Resources
        res = self.wizard.resources_page
        res.hypervisor.setCurrentIndex(
            res.hypervisor.findData(":".join(hypervisor or (accel, "hvm"))))
        assert res.hypervisor.currentIndex() >= 0
        # The hypervisor's own CPU model: nested KVM here aborts on the host's (MSR 0x10a).
        res.cpu.setCurrentIndex(res.cpu.findData("default"))
        res.memory.setValue(memory_mib)
        res.vcpus.setValue(1)
        if firmware == "efi":
            res.firmware.setCurrentIndex(res.firmware.findData("efi"))
        res.secure_boot.setChecked(secure_boot)
        res.tpm.setChecked(tpm)
        self.next()                                       # -> Storage, network, display
        hw = self.wizard.hardware_page
        if hw.disk.isVisible():
            hw.disk.setChecked(disk)
        if disk_pool is not None:
            hw.disk_pool.setCurrentIndex(hw.disk_pool.findData(disk_pool))
        hw.disk_size.setValue(1)
        kind, net_name = network or ("none", "")
        hw.net_kind.setCurrentIndex(hw.net_kind.findData(kind))
        if kind == "network":
            hw.net_name.setCurrentIndex(hw.net_name.findData(net_name))
        hw.video.setCurrentIndex(hw.video.findData("vga"))
        hw.graphics.setCurrentIndex(hw.graphics.findData(graphics))
        self.next()                                       # -> Summary
        summary = self.wizard.summary_page
        summary.name.setText(name)
        if summary.start_now.isEnabled():
            summary.start_now.setChecked(start)
        summary.open_console.setChecked(console)
        self.until(lambda: summary.isComplete(), 10)

    def create(self, timeout: float = 300) -> str:
        """Create; the new VM's key (the wizard closed), or AssertionError with the
        wizard's sentence."""
        self.wizard.button(self.wizard.WizardButton.FinishButton).click()
        self.until(lambda: not self.wizard.creating, timeout)
        assert self.created, f"not created: {self.problem}"
        return self.created[-1][0]

    def create_fails(self, timeout: float = 300) -> str:
        self.wizard.button(self.wizard.WizardButton.FinishButton).click()
        self.until(lambda: not self.wizard.creating, timeout)
        assert not self.created
        return self.problem
