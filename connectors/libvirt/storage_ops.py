"""What the user does to storage pools and volumes, as blocking calls on one connection
(run them in the host's worker pool: connectors.libvirt.host_storage does).

Each function either does all of its job or leaves the host as it found it: a pool
whose build or start fails right after it was defined is undefined again, an upload
that fails or is cancelled deletes the volume it created. Refusals that are ours, not
libvirt's (a volume a VM uses, shrinking), raise ActionError with the sentence to show;
libvirt's own failures stay libvirtError for the caller to word.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import libvirt

from connectors.libvirt import transfer
from connectors.libvirt.model import ActionError
from connectors.libvirt.storage_xml import (PoolDetails, PoolSource, PoolSpec, VolumeInfo,
                                            VolumeSpec, parse_pool, parse_sources,
                                            parse_volume, source_query_xml)
from connectors.libvirt.volume_usage import VolumeUsage, in_use_sentence

POOL_OPS = ("start", "stop", "refresh", "autostart", "no-autostart")


@dataclass(frozen=True)
class NewPool:
    """The New Pool wizard's answer: the definition, and what to do with it at once."""

    spec: PoolSpec
    build: bool = False         # dir: make the directory; fs: format; logical: vgcreate
    overwrite: bool = False     # fs/logical build: erase what the device holds
    start: bool = True
    autostart: bool = True


def pool(conn: libvirt.virConnect, key: str) -> libvirt.virStoragePool:
    return conn.storagePoolLookupByUUIDString(key)


def details(conn: libvirt.virConnect, key: str) -> PoolDetails:
    return parse_pool(pool(conn, key).XMLDesc(0))


def define_pool(conn: libvirt.virConnect, new: NewPool) -> str:
    """Defines, builds, starts and marks the pool for autostart as asked; its UUID. A
    failure after the definition undefines it again, so a refused pool leaves nothing."""
    problems = new.spec.problems()
    if problems:
        raise ActionError(" ".join(problems))
    defined = conn.storagePoolDefineXML(new.spec.pool_xml(), 0)
    try:
        if new.build:
            flags = (libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE if new.overwrite else
                     libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
            if new.spec.type == "dir":
                flags = 0
            defined.build(flags)
        if new.start:
            defined.create(0)
        if new.autostart:
            defined.setAutostart(1)
    except BaseException:
        try:
            if defined.isActive():
                defined.destroy()
            defined.undefine()
        except libvirt.libvirtError:
            pass
        raise
    return defined.UUIDString()


def pool_op(conn: libvirt.virConnect, key: str, op: str) -> None:
    found = pool(conn, key)
    if op == "start":
        found.create(0)
    elif op == "stop":
        found.destroy()
    elif op == "refresh":
        found.refresh(0)
    elif op in ("autostart", "no-autostart"):
        found.setAutostart(1 if op == "autostart" else 0)
    else:
        raise ValueError(f"unknown pool operation {op!r}")


def delete_pool(conn: libvirt.virConnect, key: str, delete_data: bool,
                usage: VolumeUsage) -> None:
    """Removes the pool's definition; with ``delete_data`` its volumes and what holds them
    first (the directory, the volume group), refused while a VM uses one of them."""
    found = pool(conn, key)
    name = found.name()
    if delete_data:
        if not found.isActive():
            found.create(0)
        found.refresh(0)
        volumes = found.listAllVolumes(0)
        for vol in volumes:
            users = usage.users(vol.path(), name, vol.name())
            if users:
                raise ActionError(in_use_sentence(f"{vol.name()} in pool {name}", users))
        for vol in volumes:
            vol.delete(0)
        found.destroy()
        found.delete(0)
    elif found.isActive():
        found.destroy()
    if found.isPersistent():
        found.undefine()


def find_sources(conn: libvirt.virConnect, pool_type: str, host: str, port: int = 0,
                 initiator: str = "") -> list[PoolSource]:
    """NFS exports of a server, iSCSI targets of a portal, volume groups of the host."""
    query = source_query_xml(pool_type, host, port, initiator)
    # libvirt takes None (no source spec) though its annotation says str.
    text = conn.findStoragePoolSources(pool_type, cast(str, query), 0)
    return parse_sources(text)


# ---- volumes ---------------------------------------------------------------------------

def list_volumes(conn: libvirt.virConnect, key: str, usage: VolumeUsage,
                 refresh: bool = True) -> list[VolumeInfo]:
    found = pool(conn, key)
    if not found.isActive():
        return []
    if refresh:
        found.refresh(0)
    pool_name = found.name()
    volumes = []
    for vol in found.listAllVolumes(0):
        # libvirt-python annotates info() as str; it is [type, capacity, allocation].
        _kind, capacity, allocation = cast("list[int]", vol.info())[:3]
        path = vol.path()
        info = parse_volume(vol.XMLDesc(0), vol.name(), vol.key(), path, capacity,
                            allocation)
        users = tuple(u.label for u in usage.users(path, pool_name, info.name))
        volumes.append(VolumeInfo(info.name, info.key, info.path, info.format,
                                  info.capacity, info.allocation, info.backing_path, users))
    return sorted(volumes, key=lambda v: v.name.lower())


def create_volume(conn: libvirt.virConnect, key: str, spec: VolumeSpec) -> str:
    """The new volume's path. The spec is checked against the pool's free space first."""
    found = pool(conn, key)
    pool_type = parse_pool(found.XMLDesc(0)).type
    # libvirt-python annotates info() as str: [state, capacity, allocation, available].
    available = cast("list[int]", found.info())[3]
    problems = spec.problems(pool_type, available)
    if problems:
        raise ActionError(" ".join(problems))
    flags = libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA if spec.prealloc_flag_needed \
        else 0
    return found.createXML(spec.volume_xml(), flags).path()


def _volume(conn: libvirt.virConnect, key: str, name: str
            ) -> tuple[libvirt.virStoragePool, libvirt.virStorageVol]:
    found = pool(conn, key)
    return found, found.storageVolLookupByName(name)


def _refuse_if_used(found: libvirt.virStoragePool, vol: libvirt.virStorageVol,
                    usage: VolumeUsage, doing: str) -> None:
    users = usage.users(vol.path(), found.name(), vol.name())
    if users:
        raise ActionError(f"Cannot {doing} {vol.name()}: "
                          + in_use_sentence(vol.name(), users))


def delete_volume(conn: libvirt.virConnect, key: str, name: str, usage: VolumeUsage) -> None:
    found, vol = _volume(conn, key, name)
    _refuse_if_used(found, vol, usage, "delete")
    vol.delete(0)


def wipe_volume(conn: libvirt.virConnect, key: str, name: str, usage: VolumeUsage) -> None:
    """Overwrites the volume's data with zeros (its size and format stay)."""
    found, vol = _volume(conn, key, name)
    _refuse_if_used(found, vol, usage, "wipe")
    vol.wipe(0)


def grow_volume(conn: libvirt.virConnect, key: str, name: str, capacity: int,
                usage: VolumeUsage) -> None:
    """Grows the volume to ``capacity`` bytes; shrinking is refused (it loses data)."""
    found, vol = _volume(conn, key, name)
    current = cast("list[int]", vol.info())[1]
    if capacity <= current:
        raise ActionError(f"{name} already holds {current} bytes; a volume can only grow "
                          "(shrinking it would cut off the data at its end).")
    if any(u.running for u in usage.users(vol.path(), found.name(), name)):
        raise ActionError(f"Cannot grow {name} while a running VM uses it: shut the VM "
                          "down first.")
    vol.resize(capacity, 0)


def upload_new(conn: libvirt.virConnect, key: str, name: str, local: str,
               job: transfer.TransferJob) -> str:
    """A new volume in the pool holding a copy of the local file (an ISO, a disk image):
    sparse, with progress and cancel through ``job``. A failed or cancelled upload
    deletes the volume it made. Returns the volume's path on the host."""
    size = os.stat(local).st_size
    if size <= 0:
        raise ActionError(f"{local} is empty: there is nothing to upload.")
    found = pool(conn, key)
    available = cast("list[int]", found.info())[3]
    if size > available:
        raise ActionError(f"The pool {found.name()} has {available} bytes free; "
                          f"{os.path.basename(local)} needs {size}.")
    vol = found.createXML(VolumeSpec(name, size, "raw").volume_xml(), 0)
    try:
        transfer.upload(conn, vol, local, job)
    except BaseException:
        try:
            vol.delete(0)
        except libvirt.libvirtError:
            pass
        raise
    found.refresh(0)       # the pool probes the format it now holds (qcow2, iso, raw)
    return str(found.storageVolLookupByName(name).path())


def download(conn: libvirt.virConnect, key: str, name: str, local: str,
             job: transfer.TransferJob) -> None:
    _found, vol = _volume(conn, key, name)
    transfer.download(conn, vol, local, job)
