"""Deleting a VM: stop it, undefine it with everything libvirt keeps beside it, and
optionally delete its disk volumes (blocking; run in the host's worker pool).

A disk outside any storage pool stays where it is: it may be shared, and libvirt cannot
delete it; the user is told so in a warning instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import libvirt

from connectors.libvirt import readers

# Older libvirt versions and some drivers reject the newer flags: each set is tried in
# turn, from the most thorough, then plain undefine().
_UNDEFINE_FLAG_SETS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
)
_UNSUPPORTED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG,
                libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)


@dataclass
class Deleted:
    warnings: list[str] = field(default_factory=list)  # what could not be removed
    pools: set[str] = field(default_factory=set)        # UUIDs of pools that lost a volume


def delete_domain(conn: libvirt.virConnect, key: str, driver: str,
                  delete_storage: bool) -> Deleted:
    """Stops and undefines the domain with UUID ``key``; libvirtError if that fails."""
    done = Deleted()
    dom = conn.lookupByUUIDString(key)
    info = readers.read_vm(dom, driver)
    if dom.isActive():
        dom.destroy()
    if info.persistent:          # a transient domain is gone once destroyed
        try:
            if dom.hasManagedSaveImage(0):
                dom.managedSaveRemove(0)
        except libvirt.libvirtError as err:
            if readers.is_missing(err):
                raise
        _undefine(dom)
    if delete_storage:
        for disk in info.disks:
            if disk.device != "disk" or disk.readonly or not disk.source:
                continue
            warning = _delete_volume(conn, disk.source, done.pools)
            if warning:
                done.warnings.append(warning)
    return done


def _undefine(dom: libvirt.virDomain) -> None:
    for flags in _UNDEFINE_FLAG_SETS:
        try:
            dom.undefineFlags(flags)
            return
        except libvirt.libvirtError as err:
            if err.get_error_code() not in _UNSUPPORTED:
                raise
    dom.undefine()


def _delete_volume(conn: libvirt.virConnect, source: str, touched_pools: set[str]) -> str:
    """Deletes the volume behind a disk source; returns a warning, or "" when done."""
    try:
        if source.startswith("/"):
            volume = conn.storageVolLookupByPath(source)
        else:
            pool_name, _, volume_name = source.partition("/")
            volume = conn.storagePoolLookupByName(pool_name).storageVolLookupByName(
                volume_name)
    except libvirt.libvirtError:
        return (f"{source} is not in a storage pool, so it was left in place; "
                "delete it by hand if nothing else uses it.")
    try:
        pool = volume.storagePoolLookupByVolume()
        touched_pools.add(pool.UUIDString())
    except libvirt.libvirtError:
        pass
    try:
        volume.delete(0)
    except libvirt.libvirtError as err:
        return f"Could not delete {source}: {readers.error_text(err)}"
    return ""
