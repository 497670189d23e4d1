"""The user's edits as a list of changes, each saying when it takes effect and what must
happen on the host for it.

A running VM has two definitions: the one it runs with and the one it starts with next
time. Every change goes into the latter (one validated define for all of them); those
libvirt can make to the running VM too (a vCPU, the balloon, a hot-plugged disk or NIC,
a NIC's link, the disc in a drive) also get a live step, and say "now"; the rest say
"after the next shutdown". A shut-off VM's changes all take effect at once.

Steps run in phases: BEFORE the define (make new volumes, rename), the DEFINE, LIVE steps
on the running VM, then AFTER steps (start with the host, grow disks, delete the volumes
of removed disks).
"""
from __future__ import annotations

import enum
from functools import partial
from dataclasses import dataclass, field
from typing import Any, Callable

from connectors.libvirt import device_ops, domain_ops, domxml
from connectors.libvirt.domxml import Device, Disk, Graphics, Interface

from app.properties import describe
from app.properties.session import EditSession
from app.properties.words import on_off, quoted, size_bytes, size_kib


class When(enum.Enum):
    NOW = "now"
    AFTER_SHUTDOWN = "after the next shutdown"


class Phase(enum.IntEnum):
    BEFORE = 0
    LIVE = 2
    AFTER = 3


Job = Callable[[Any], object]        # job(connection) in the host's worker pool


@dataclass(frozen=True)
class Step:
    phase: Phase
    job: Job
    failed: str                      # "Could not …": libvirt's reason follows
    undo: Job | None = None          # for BEFORE steps, when a later step is refused


@dataclass
class Change:
    area: str                        # the page: "Memory", "Disks", …
    text: str                        # one line of the summary
    when: When
    config: bool = True              # part of the definition written by the define
    steps: list[Step] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return f"{self.area}: {self.text}"


def plan(s: EditSession) -> list[Change]:
    """Everything the edits amount to, in the order the pages list them."""
    planner = _Planner(s)
    return planner.changes()


def needs_define(changes: list[Change]) -> bool:
    return any(c.config for c in changes)


class _Planner:
    def __init__(self, s: EditSession) -> None:
        self.s = s
        self.key = s.data.vm.key
        self.running = s.running
        self.out: list[Change] = []

    def add(self, area: str, text: str, *, live: bool = False, config: bool = True,
            steps: list[Step] | None = None) -> Change:
        when = When.NOW if (live or not self.running) else When.AFTER_SHUTDOWN
        change = Change(area, text, when, config, list(steps or ()))
        self.out.append(change)
        return change

    def changes(self) -> list[Change]:
        s = self.s
        if s.xml_text is not None:
            self.add("XML", "the whole definition as edited on the XML page")
        else:
            self.general()
            self.cpu()
            self.memory()
            self.boot()
            self.devices()
            self.leftovers()
        self.extras()
        return self.out

    # ---- General ----

    def general(self) -> None:
        o, e, key = self.s.original, self.s.edited, self.key
        if o.name != e.name:
            old, new = o.name or "", e.name or ""
            self.add("General", f"rename {quoted(old)} to {quoted(new)}", steps=[Step(
                Phase.BEFORE, lambda c: domain_ops.rename(c, key, new),
                f"Could not rename {old}", lambda c: domain_ops.rename(c, key, old))])
        if (o.title or "") != (e.title or ""):
            title = e.title or None
            self.add("General", f"title {quoted(e.title)}", live=self.running,
                     steps=self._live(lambda c: domain_ops.set_title_live(c, key, title),
                                      "Could not change the running VM's title"))
        if (o.description or "") != (e.description or ""):
            text = e.description or None
            self.add("General", "description changed" if text else "description removed",
                     live=self.running, steps=self._live(
                         lambda c: domain_ops.set_description_live(c, key, text),
                         "Could not change the running VM's description"))
        if o.os_id != e.os_id:
            self.add("General", f"operating system {e.os_id or 'not set'}", live=True)

    # ---- CPU and memory ----

    def cpu(self) -> None:
        o, e, key, live = self.s.original, self.s.edited, self.key, self.s.live
        if o.vcpus != e.vcpus:
            count = e.vcpus
            now = live is not None and count <= live.max_vcpus
            self.add("CPU", f"{o.vcpus} → {count} vCPUs", live=now, steps=self._live(
                lambda c: domain_ops.set_vcpus_live(c, key, count),
                "Could not change the running VM's vCPUs") if now else [])
        if o.max_vcpus != e.max_vcpus:
            self.add("CPU", f"at most {o.max_vcpus} → {e.max_vcpus} vCPUs")
        oc, ec = o.cpu, e.cpu
        old_mode = _cpu_mode(oc)
        new_mode = _cpu_mode(ec)
        if old_mode != new_mode:
            self.add("CPU", f"CPU {old_mode} → {new_mode}")
        old_top = oc.topology if oc else None
        new_top = ec.topology if ec else None
        if old_top != new_top:
            words = (f"{_count(new_top.sockets, 'socket')} × {_count(new_top.cores, 'core')}"
                     f" × {_count(new_top.threads, 'thread')}" if new_top
                     else "the hypervisor's default")
            self.add("CPU", f"topology {words}")

    def memory(self) -> None:
        o, e, key, live = self.s.original, self.s.edited, self.key, self.s.live
        if o.memory_kib != e.memory_kib:
            self.add("Memory", f"memory {size_kib(o.memory_kib)} → {size_kib(e.memory_kib)}")
        if o.current_memory_kib != e.current_memory_kib:
            kib = e.current_memory_kib or 0
            balloon = has_balloon(live) if live is not None else False
            now = live is not None and balloon and kib <= (live.memory_kib or 0)
            self.add("Memory", f"current allocation {size_kib(o.current_memory_kib)} → "
                               f"{size_kib(kib)}", live=now,
                     steps=self._live(lambda c: domain_ops.set_memory_live(c, key, kib),
                                      "Could not change the running VM's memory")
                     if now else [])

    # ---- Boot ----

    def boot(self) -> None:
        o, e = self.s.original, self.s.edited
        oo, eo = o.os_if_any, e.os_if_any
        if oo is None or eo is None:
            return
        old_order = [describe.device_label(d) for d in o.boot_order()] or oo.boot_devices
        new_order = [describe.device_label(d) for d in e.boot_order()] or eo.boot_devices
        if old_order != new_order:
            self.add("Boot", "boot order " + (", ".join(new_order) or "the default"))
        if bool(oo.bootmenu) != bool(eo.bootmenu):
            self.add("Boot", f"boot menu {on_off(eo.bootmenu)}")
        if (oo.firmware or "bios") != (eo.firmware or "bios") or \
                oo.secure_boot != eo.secure_boot:
            words = "UEFI" if eo.firmware == "efi" else "BIOS"
            if eo.firmware == "efi" and eo.secure_boot:
                words += " with Secure Boot"
            self.add("Boot", f"firmware {words}")
        for label, before, after in (("kernel", oo.kernel, eo.kernel),
                                     ("initrd", oo.initrd, eo.initrd),
                                     ("kernel command line", oo.cmdline, eo.cmdline)):
            if (before or "") != (after or ""):
                self.add("Boot", f"{label} {quoted(after)}")

    # ---- devices ----

    def devices(self) -> None:
        s = self.s
        kept: set[int] = set()
        for dev in s.edited.devices:
            old = s.origin(dev)
            if old is None:
                self.added(dev)
                continue
            kept.add(id(old.element))
            self.changed(old, dev)
        for old in s.original.devices:
            if id(old.element) not in kept:
                self.removed(old)

    def added(self, dev: Device) -> None:
        s, key = self.s, self.key
        area = _area(dev)
        text = f"add {describe.device_label(dev)}"
        steps: list[Step] = []
        if isinstance(dev, Disk):
            volume = s.new_volume(dev)
            if volume is not None:
                text += (f": a new {size_bytes(volume.capacity)} {volume.fmt} volume "
                         f"{volume.name} in pool {volume.pool}")
                steps.append(self._make_volume(dev, volume))
            else:
                text += f": {dev.source_path}"
            text += f" ({dev.bus}, cache {dev.cache or 'default'})"
        now = self.running and describe.hot_pluggable(dev)
        if now:
            steps.append(Step(Phase.LIVE, lambda c: device_ops.attach(
                c.lookupByUUIDString(key), dev.to_xml(), live=True, config=False),
                f"Could not add the {describe.device_label(dev)} to the running VM"))
        self.add(area, text, live=now, steps=steps)

    def _make_volume(self, disk: Disk, volume: Any) -> Step:
        def make(c: Any) -> str:
            path = domain_ops.create_volume(c, volume.pool, volume.name, volume.capacity,
                                            volume.fmt)
            disk.set_file(path)          # the pool's real path, before the define
            disk.driver_type = volume.fmt
            return path

        def undo(c: Any) -> None:
            if disk.source_file:
                domain_ops.delete_volume(c, disk.source_file)

        return Step(Phase.BEFORE, make, f"Could not make the volume {volume.name}", undo)

    def removed(self, old: Device) -> None:
        s, key = self.s, self.key
        text = f"remove {describe.device_label(old)}"
        now = self.running and describe.hot_pluggable(old)
        steps: list[Step] = []
        live_dev = _live_counterpart(old, s.original, s.live) if now else None
        if now and live_dev is not None:
            label = describe.device_label(old)
            steps.append(Step(Phase.LIVE, lambda c: _detach(c, key, live_dev, label),
                              f"Could not remove the {label} from the running VM"))
        elif now:
            now = False                  # not in the running VM: nothing to unplug
        target = old.target_dev if isinstance(old, Disk) else None
        path = s.delete_volumes.get(target or "")
        if path and (now or not self.running):
            text += f" and delete its volume {path}"
            steps.append(Step(Phase.AFTER, lambda c: _delete_if_unused(c, key, path),
                              f"Could not delete the volume {path}"))
        elif path:
            text += (f" (its volume {path} is kept: the running VM uses it until it "
                     "shuts down)")
        self.add(_area(old), text, live=now, steps=steps)

    def changed(self, old: Device, new: Device) -> None:
        s, key = self.s, self.key
        label = describe.device_label(old)
        if isinstance(new, Disk) and new.device in ("cdrom", "floppy"):
            self.media(old, new)
        diffs = describe.differences(old, new)
        live_fields: dict[str, tuple[str, str]] = {}
        if self.running and isinstance(new, Interface):
            live_fields = {k: v for k, v in diffs.items() if k in ("link", "connection")}
        elif self.running and isinstance(new, Graphics):
            live_fields = {k: v for k, v in diffs.items() if k == "password"}
        later = {k: v for k, v in diffs.items() if k not in live_fields}
        if live_fields:
            live_dev = _live_counterpart(old, s.original, s.live)
            if live_dev is not None:
                updated = _apply_fields(live_dev, new, live_fields)
                words = ", ".join(describe.described(k, *v) for k, v in live_fields.items())
                self.add(_area(new), f"{label}: {words}", live=True, steps=[Step(
                    Phase.LIVE, lambda c: device_ops.update(
                        c.lookupByUUIDString(key), updated.to_xml(), live=True,
                        config=False), f"Could not change the running VM's {label}")])
            else:
                later.update(live_fields)
        if later:
            words = ", ".join(describe.described(k, *v) for k, v in later.items())
            self.add(_area(new), f"{label}: {words}")

    def media(self, old: Device, new: Disk) -> None:
        s, key = self.s, self.key
        target = new.target_dev or ""
        if target not in s.media:
            return
        wanted = s.media[target]
        label = describe.device_label(new)
        text = (f"insert {wanted} into the {label}" if wanted else
                f"eject the disc from the {label}"
                + (" (forced if the guest has locked the tray)" if self.running else ""))
        steps: list[Step] = []
        live_cd = _live_counterpart(old, s.original, s.live) if self.running else None
        if live_cd is not None:
            updated = domxml.device_from_xml(live_cd.to_xml())
            assert isinstance(updated, Disk)
            if wanted:
                updated.insert_media(wanted)
            else:
                updated.eject()
            steps.append(Step(Phase.LIVE, lambda c: _change_media(c, key, updated),
                              f"Could not change the disc in the running VM's {label}"))
        self.add("CD/DVD", text, live=self.running, steps=steps)

    # ---- what the pages do not name, and what is not in the XML ----

    def leftovers(self) -> None:
        if self.out:
            return
        if describe.canonical(self.s.original.element) != \
                describe.canonical(self.s.edited.element):
            self.add("XML", "other changes to the definition")

    def extras(self) -> None:
        s, key = self.s, self.key
        if s.autostart != s.data.facts.autostart:
            on = s.autostart
            self.add("General", f"start with the host {on_off(on)}", live=True,
                     config=False, steps=[Step(
                         Phase.AFTER, lambda c: domain_ops.set_autostart(c, key, on),
                         "Could not change whether the VM starts with the host")])
        for target, new_bytes in sorted(s.resizes.items()):
            if s.edited.disk(target) is None:
                continue
            size = s.disk_size(target)
            old = size.capacity if size else 0
            shrink = new_bytes < old
            verb = "shrink" if shrink else "grow"
            shrink = shrink and target in s.shrink_confirmed   # else the connector refuses
            self.add("Disks", f"{verb} disk {target} from {size_bytes(old)} to "
                              f"{size_bytes(new_bytes)}", live=True, config=False,
                     steps=[Step(Phase.AFTER,
                                 partial(_resize_disk, key, target, new_bytes, shrink),
                                 f"Could not {verb} disk {target}")])

    def _live(self, job: Job, failed: str) -> list[Step]:
        return [Step(Phase.LIVE, job, failed)] if self.running else []


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _cpu_mode(cpu: domxml.Cpu | None) -> str:
    if cpu is None or not (cpu.mode or cpu.model):
        return "the hypervisor's default"
    mode = cpu.mode or "custom"
    return f"model {cpu.model}" if mode == "custom" else mode


def has_balloon(dom: domxml.Domain) -> bool:
    found = dom.devices_of(domxml.Memballoon)
    return bool(found) and (found[0].model or "none") != "none"


def _area(dev: Device) -> str:
    if isinstance(dev, Disk):
        return "CD/DVD" if dev.device in ("cdrom", "floppy") else "Disks"
    if isinstance(dev, Interface):
        return "Network"
    if isinstance(dev, (Graphics, domxml.Video)):
        return "Display"
    return {"tpm": "TPM", "rng": "RNG", "serial": "Serial", "console": "Serial",
            "hostdev": "USB"}.get(dev.kind, "Devices")


def _live_counterpart(old: Device, original: domxml.Domain,
                      live: domxml.Domain | None) -> Device | None:
    """The running VM's own element for a device of the definition: the same disk
    target, the same MAC, else the same place among the devices of its kind."""
    if live is None:
        return None
    if isinstance(old, Disk) and old.target_dev:
        return live.disk(old.target_dev)
    if isinstance(old, Interface) and old.mac:
        return live.interface(old.mac)
    if isinstance(old, domxml.Hostdev) and old.usb_ids:
        return next((h for h in live.hostdevs if h.usb_ids == old.usb_ids), None)
    mine = [d for d in original.devices if d.kind == old.kind]
    theirs = [d for d in live.devices if d.kind == old.kind]
    index = next((i for i, d in enumerate(mine) if d.element is old.element), None)
    return theirs[index] if index is not None and index < len(theirs) else None


def _apply_fields(live_dev: Device, new: Device, fields: dict[str, Any]) -> Device:
    """A copy of the running VM's device with the fields the user changed."""
    copy = domxml.device_from_xml(live_dev.to_xml())
    if isinstance(copy, Interface) and isinstance(new, Interface):
        if "link" in fields:
            copy.link_up = new.link_up
        if "connection" in fields:
            if new.type == "bridge" and new.source_bridge:
                copy.set_bridge(new.source_bridge)
            elif new.source_network:
                copy.set_network(new.source_network, new.source_portgroup)
    if isinstance(copy, Graphics) and isinstance(new, Graphics) and "password" in fields:
        copy.set_password(new.passwd, new.passwd_valid_to)
    return copy


def _detach(conn: Any, key: str, dev: Device, label: str) -> str | None:
    outcome = device_ops.detach_live(conn, conn.lookupByUUIDString(key), dev)
    if outcome is device_ops.Removal.REMOVED:
        return None
    if outcome is device_ops.Removal.REFUSED:
        raise RemovalRefused(f"The guest refused to release the {label}; it stays in the "
                             "running VM and is gone after the next shutdown.")
    raise RemovalPending(f"The guest has not released the {label} yet; it goes when the "
                         "guest lets go, and after the next shutdown at the latest.")


class RemovalRefused(Exception):
    pass


class RemovalPending(Exception):
    pass


def _delete_if_unused(conn: Any, key: str, path: str) -> None:
    dom = conn.lookupByUUIDString(key)
    if dom.isActive():
        live = domxml.parse(dom.XMLDesc(0))
        if any(d.source_file == path or d.source_dev == path for d in live.disks):
            raise RemovalPending(f"The volume {path} is kept: the running VM still uses "
                                 "it.")
    domain_ops.delete_volume(conn, path)


def _change_media(conn: Any, key: str, cd: Disk) -> str | None:
    forced = device_ops.change_media(conn.lookupByUUIDString(key), cd.to_xml())
    if forced:
        return (f"The guest had locked the tray of {cd.target_dev}; the disc was ejected "
                "anyway.")
    return None


def _resize_disk(key: str, target: str, new_bytes: int, shrink: bool, conn: Any) -> None:
    domain_ops.resize_disk(conn, key, target, new_bytes, shrink=shrink)
