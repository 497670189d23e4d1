"""Shared by the Properties and Snapshots tests: a connected host, guests kept for a whole
module (a boot costs seconds to a minute on a busy machine), the dialog driven as a user
drives it, and scripted answers to its questions.

No pytest fixtures in here; the test modules make their own from these.
"""
from __future__ import annotations

import asyncio
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from connectors.libvirt import domxml
from connectors.libvirt.host import LibvirtHost
from tests.conftest import wait_until
from tests.integration.conftest import PREFIX, _remove_domain, _test_pool
from tests.integration.guest import REPO, guest_dir, guest_xml, serial_log_path

IO_INITRD_SCRIPT = REPO / "scripts" / "build-test-guest-io.sh"


def io_initrd() -> Path:
    """The test guest's initramfs with virtio disk and NIC, IDE CD and balloon drivers."""
    done = subprocess.run(["bash", str(IO_INITRD_SCRIPT)], capture_output=True, text=True,
                          check=True)
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class Guests:
    """Guests (and volumes, networks, ISO images) made for one test module, all removed
    at its end."""

    conn: object
    accel: str
    names: list[str] = field(default_factory=list)
    volumes: list[object] = field(default_factory=list)
    networks: list[object] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def name(self, suffix: str) -> str:
        name = f"{PREFIX}{suffix}-{uuid.uuid4().hex[:6]}"
        self.names.append(name)
        return name

    def definition(self, name: str, *, disk: bool = False, cdrom: bool = False,
                   balloon: bool = False, vcpus: tuple[int, int] = (1, 1),
                   memory_mib: int = 128) -> domxml.Domain:
        """The test guest's definition (I/O drivers, reporting on its serial port)."""
        options: dict = {}
        if disk:
            pool = _test_pool(self.conn)
            vol = pool.createXML(
                f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>32</capacity>"
                "<target><format type='qcow2'/></target></volume>", 0)
            self.volumes.append(vol)
            options.update(disk_path=vol.path(), disk_format="qcow2")
        xml = guest_xml(name, accel=self.accel, kernel=guest_dir() / "vmlinuz",
                        initrd=io_initrd(), serial_log=serial_log_path(name),
                        memory_mib=memory_mib, report=True, **options)
        dom = domxml.parse(xml)
        dom.set_vcpus(*vcpus)
        if balloon:
            dom.devices_of(domxml.Memballoon)[0].model = "virtio"
        if cdrom:
            dom.add_device(domxml.new_cdrom("hdc", bus="ide"))
        return dom

    def define(self, dom: domxml.Domain):
        return self.conn.defineXML(dom.to_xml())

    def network(self) -> str:
        """An isolated virtual network of this module, running."""
        name = f"{PREFIX}net-{uuid.uuid4().hex[:6]}"
        self.networks.append(self.conn.networkCreateXML(
            f"<network><name>{name}</name></network>"))
        return name

    def iso(self, text: str) -> str:
        """An ISO image in the test pool whose hvconsole.txt says ``text``; its path."""
        pool = _test_pool(self.conn)
        name = f"{PREFIX}cd-{uuid.uuid4().hex[:6]}.iso"
        source = Path(f"/tmp/{name}.d")
        source.mkdir()
        (source / "hvconsole.txt").write_text(text + "\n")
        target = Path(pool.XMLDesc(0).split("<path>")[1].split("</path>")[0]) / name
        subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "HVCONSOLE", "-o",
                        str(target), str(source)], check=True, capture_output=True)
        (source / "hvconsole.txt").unlink()
        source.rmdir()
        self.files.append(target)
        pool.refresh(0)
        return str(target)

    def close(self) -> None:
        import libvirt
        for name in self.names:
            _remove_domain(self.conn, name)
        for vol in self.volumes:
            try:
                vol.delete(0)
            except libvirt.libvirtError:
                pass
        pool = _test_pool(self.conn)
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):
            if any(vol.name().startswith(n) for n in self.names):
                try:
                    vol.delete(0)
                except libvirt.libvirtError:
                    pass
        for path in self.files:
            path.unlink(missing_ok=True)
        pool.refresh(0)
        for net in self.networks:
            try:
                net.destroy()
            except libvirt.libvirtError:
                pass
        for name in self.names:
            serial_log_path(name).unlink(missing_ok=True)


def in_thread(aloop, fn, *args, **kwargs):
    """A blocking wait (for the guest's serial port) in a thread while the loop runs:
    libvirt's keepalive and events are answered meanwhile."""
    return aloop.run_until_complete(asyncio.to_thread(fn, *args, **kwargs))


def connect(aloop, uri: str) -> LibvirtHost:
    host = LibvirtHost(uri, lambda _event: None)
    aloop.run_until_complete(host.connect())
    return host


def vm_key(aloop, host: LibvirtHost, name: str) -> str:
    aloop.run_until_complete(wait_until(
        lambda: any(v.name == name for v in host.vms()), 20))
    return next(v.key for v in host.vms() if v.name == name)


@dataclass
class ScriptedPrompts:
    """The Properties dialog's questions, answered as a test says; every summary shown
    is kept (``summaries``)."""

    delete_volume: bool = False
    shrink: bool = False
    disk_choices: list = field(default_factory=list)
    summaries: list[list[str]] = field(default_factory=list)

    def confirm_removal(self, label: str, volume: str | None) -> tuple[bool, bool]:
        return True, self.delete_volume and volume is not None

    def confirm_shrink(self, target: str, old: int, new: int) -> bool:
        return self.shrink

    def choose_new_disk(self, session):
        return self.disk_choices.pop(0) if self.disk_choices else None

    def confirm_changes(self, name: str, changes, running: bool) -> bool:
        from widgets.dialogs.properties.summary import summary_lines
        self.summaries.append(summary_lines(changes, running))
        return True


def open_dialog(aloop, host: LibvirtHost, key: str, prompts: ScriptedPrompts):
    from app.properties.data import load
    from widgets.dialogs.properties.dialog import PropertiesDialog
    data = aloop.run_until_complete(load(host, key))
    dialog = PropertiesDialog(data, host, prompts)
    dialog.show()
    return dialog


def apply(aloop, dialog):
    """Press Apply and wait for the outcome (None: nothing was written)."""
    return aloop.run_until_complete(dialog.apply_changes(close=False))


def choose(combo, data) -> None:
    """Pick the item holding ``data`` as a user does (``activated`` follows)."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
