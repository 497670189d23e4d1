"""Cloning a shut-off VM: a new name, a new UUID, new MAC addresses, and its own copy of
every writable disk, made by the pool itself (virStorageVolCreateXMLFrom: no bytes
through this computer, whatever the connection), optionally into another pool; or, as
a linked clone, a qcow2 overlay per disk whose backing file is the original's disk.

UEFI variables are copied too: libvirt has no call for that, so the NVRAM file is
copied as a volume, through a pool on its folder — an existing one, else a transient
pool that is gone when the copy is done (as virt-clone makes one). File-backed serial
ports and logs that name the VM are renamed with it, so the two never write one file.

The pool's copy cannot be stopped halfway: a cancel takes effect when the disk being
copied is done, and everything copied so far is deleted. Progress is the new volume's
allocation, read by a helper thread while the copy runs. Blocking: the host's worker
pool, without the call timeout.
"""
from __future__ import annotations

import os
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import cast

import libvirt

from connectors.libvirt import domxml
from connectors.libvirt.create_ops import CreateCancelled, CreateFailed
from connectors.libvirt.made_volumes import MadeVolumes
from connectors.libvirt.readers import error_text


@dataclass(frozen=True)
class CloneSpec:
    source_key: str                  # the original's UUID
    name: str
    pool: str | None = None          # None: each copy beside its original
    linked: bool = False
    start: bool = False


@dataclass
class CloneJob:
    phase: str = "Preparing"
    step: int = 0
    steps: int = 1
    done_bytes: int = 0
    total_bytes: int = 0
    defined: bool = False
    key: str = ""
    made: list[str] = field(default_factory=list)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> bool:
        if self.defined:
            return False
        self._cancel.set()
        return True

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def fraction(self) -> float:
        if self.total_bytes:
            return min(1.0, self.done_bytes / self.total_bytes)
        return min(1.0, self.step / max(1, self.steps))

    def _check(self) -> None:
        if self._cancel.is_set():
            raise CreateCancelled("The clone was cancelled; what it had copied was deleted.")


@dataclass(frozen=True)
class _DiskCopy:
    target: str
    source: libvirt.virStorageVol
    pool: libvirt.virStoragePool
    name: str
    format: str
    capacity: int


def _fmt(vol: libvirt.virStorageVol) -> str:
    found = ET.fromstring(vol.XMLDesc(0)).find("target/format")
    value = found.get("type", "raw") if found is not None else "raw"
    return "raw" if value in ("iso", "none") else value


def _new_volume_name(old: str, old_vm: str, new_vm: str, taken: set[str]) -> str:
    name = old.replace(old_vm, new_vm) if old_vm in old else f"{new_vm}-{old}"
    stem, dot, ext = name.partition(".")
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{stem}-{n}{dot}{ext}"
        n += 1
    taken.add(candidate)
    return candidate


def _plan(conn: libvirt.virConnect, dom: domxml.Domain, old_name: str, spec: CloneSpec
          ) -> list[_DiskCopy]:
    copies: list[_DiskCopy] = []
    taken: dict[str, set[str]] = {}
    for disk in dom.disks:
        if disk.device != "disk" or disk.readonly or disk.shareable:
            continue                 # CDs and shared disks stay shared
        path = disk.source_path
        if not path:
            continue
        try:
            if disk.type == "volume" and disk.source_pool and disk.source_volume:
                src = conn.storagePoolLookupByName(disk.source_pool).storageVolLookupByName(
                    disk.source_volume)
            else:
                src = conn.storageVolLookupByPath(path)
        except libvirt.libvirtError:
            raise CreateFailed(f"The disk {disk.target_dev} ({path}) is in no storage pool, "
                               "so libvirt cannot copy it: move it into a pool, or remove "
                               "it from the VM first.") from None
        pool = (conn.storagePoolLookupByName(spec.pool) if spec.pool
                else src.storagePoolLookupByVolume())
        names = taken.setdefault(pool.name(), set(pool.listVolumes()))
        fmt = "qcow2" if spec.linked else _fmt(src)
        copies.append(_DiskCopy(disk.target_dev or "", src, pool,
                                _new_volume_name(src.name(), old_name, spec.name,
                                                 names), fmt,
                                cast("list[int]", src.info())[1]))
    return copies


def _volume_xml(name: str, capacity: int, fmt: str,
                backing: tuple[str, str] | None = None) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(capacity)
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", type=fmt)
    if backing is not None:
        store = ET.SubElement(vol, "backingStore")
        ET.SubElement(store, "path").text = backing[0]
        ET.SubElement(store, "format", type=backing[1])
    return ET.tostring(vol, encoding="unicode")


def _watch(pool: libvirt.virStoragePool, name: str, job: CloneJob, base: int,
           stop: threading.Event) -> None:
    while not stop.wait(0.3):
        try:
            job.done_bytes = base + cast("list[int]",
                                         pool.storageVolLookupByName(name).info())[2]
        except libvirt.libvirtError:
            pass


class _Made(MadeVolumes):
    def __init__(self, job: CloneJob) -> None:
        super().__init__(job.made)
        self.job = job
        self.pools: list[libvirt.virStoragePool] = []       # transient, to destroy

    def undo(self) -> None:
        self.delete_volumes()
        self.release_pools()

    def release_pools(self) -> None:
        for pool in self.pools:
            try:
                pool.destroy()
            except libvirt.libvirtError:
                pass
        self.pools.clear()


def _copy_nvram(conn: libvirt.virConnect, path: str, new_name: str, made: _Made) -> str:
    """The new NVRAM file's path; the original must exist (else the clone gets a fresh
    one from the firmware's template)."""
    try:
        src = conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        folder = os.path.dirname(path)
        xml = (f"<pool type='dir'><name>hvconsole-nvram-{uuid.uuid4().hex[:8]}</name>"
               f"<target><path>{folder}</path></target></pool>")
        pool = conn.storagePoolCreateXML(xml, 0)
        made.pools.append(pool)
        src = pool.storageVolLookupByName(os.path.basename(path))
    pool = src.storagePoolLookupByVolume()
    name = f"{new_name}_VARS.fd"
    vol = made.volume(pool.createXMLFrom(
        _volume_xml(name, cast("list[int]", src.info())[1], "raw"), src, 0))
    return vol.path()


def clone_domain(conn: libvirt.virConnect, spec: CloneSpec, job: CloneJob) -> str:
    """Makes the clone; returns its UUID. CreateCancelled / CreateFailed leave nothing."""
    made = _Made(job)
    try:
        return _clone(conn, spec, job, made)
    except libvirt.libvirtError as err:
        if not job.defined:
            made.undo()
        raise CreateFailed(f"Could not clone to {spec.name}: {error_text(err)}") from None
    except BaseException:
        if not job.defined:       # a clone that is defined but did not start stays
            made.undo()
        raise


def _clone(conn: libvirt.virConnect, spec: CloneSpec, job: CloneJob, made: _Made) -> str:
    original = conn.lookupByUUIDString(spec.source_key)
    old_name = original.name()
    if original.isActive():
        raise CreateFailed(f"Shut down {old_name} first: a running VM's disks change "
                           "while they are copied.")
    try:
        conn.lookupByName(spec.name)
        raise CreateFailed(f"A VM named {spec.name} already exists on this host.")
    except libvirt.libvirtError:
        pass
    dom = domxml.parse(original.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE
                                        | libvirt.VIR_DOMAIN_XML_SECURE))
    dom.name = spec.name
    dom.uuid = None
    copies = _plan(conn, dom, old_name, spec)
    job.steps = len(copies) + 2
    job.total_bytes = 0 if spec.linked else sum(c.capacity for c in copies)
    done = 0
    for copy in copies:
        job._check()
        job.phase = f"{'Linking' if spec.linked else 'Copying'} disk {copy.target}"
        if spec.linked:
            vol = made.volume(copy.pool.createXML(_volume_xml(
                copy.name, copy.capacity, "qcow2", (copy.source.path(), _fmt(copy.source))),
                0))
        else:
            stop = threading.Event()
            watcher = threading.Thread(target=_watch, args=(copy.pool, copy.name, job,
                                                            done, stop), daemon=True)
            watcher.start()
            try:
                vol = made.volume(copy.pool.createXMLFrom(
                    _volume_xml(copy.name, copy.capacity, copy.format), copy.source, 0))
            finally:
                stop.set()
                watcher.join()
            done += copy.capacity
            job.done_bytes = done
        disk = dom.disk(copy.target)
        if disk is not None:
            disk.set_file(vol.path())
            disk.driver_type = copy.format
            disk.drop("backingStore")
        job.step += 1
    job._check()
    for nic in dom.interfaces:
        nic.mac = domxml.random_mac(dom.type or "kvm")
    for graphics in dom.graphics:
        if graphics.port is not None and graphics.port > 0 and not graphics.autoport:
            graphics.set_autoport()
    for char in dom.devices:
        if isinstance(char, domxml.CharDevice):
            if char.source_path and old_name in char.source_path:
                char.source_path = char.source_path.replace(old_name, spec.name)
            if char.log_file and old_name in char.log_file:
                char.log_file = char.log_file.replace(old_name, spec.name)
    nvram = dom.os.nvram
    if nvram:
        job.phase = "Copying the UEFI variables"
        try:
            dom.os.nvram = _copy_nvram(conn, nvram, spec.name, made)
        except libvirt.libvirtError:
            dom.os.nvram = None          # never started: libvirt makes one from the template
        made.release_pools()
    job._check()
    job.phase = "Defining the clone"
    new = conn.defineXML(dom.to_xml())
    job.defined = True
    job.key = new.UUIDString()
    job.step += 1
    if spec.start:
        job.phase = "Starting the clone"
        try:
            new.create()
        except libvirt.libvirtError as err:
            raise CreateFailed(f"The clone {spec.name} was made but did not start: "
                               f"{error_text(err)}") from None
    job.step += 1
    job.phase = "Done"
    return job.key
