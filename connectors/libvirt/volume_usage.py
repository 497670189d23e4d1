"""Which VMs use which volume: read from the VMs' disks, so a volume in use is named with
its user and never deleted by mistake.

The host's live records already hold every VM's disks as the domain XML model read them
(``DiskInfo.source``: a file path, a block device, or "pool/volume" for a disk that names
its pool), so the index costs no call to the host and is as fresh as the tree.
A volume is matched by its path and by pool/name.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.libvirt.model import VMInfo


@dataclass(frozen=True)
class VolumeUser:
    vm: str             # the VM's name
    target: str         # the disk's target ("vda"), for the sentence that names it
    running: bool

    @property
    def label(self) -> str:
        return f"{self.vm} ({self.target})" if self.target else self.vm


class VolumeUsage:
    """path or "pool/volume" -> the VMs whose disks name it."""

    def __init__(self, vms: Iterable[VMInfo]) -> None:
        self._users: dict[str, list[VolumeUser]] = {}
        for vm in vms:
            for disk in vm.disks:
                if disk.source:
                    self._users.setdefault(disk.source, []).append(
                        VolumeUser(vm.name, disk.target, vm.state.is_active))

    def users(self, path: str, pool: str = "", name: str = "") -> tuple[VolumeUser, ...]:
        found = list(self._users.get(path, ())) if path else []
        if pool and name:
            found += self._users.get(f"{pool}/{name}", ())
        return tuple(found)

    def vms_under(self, folder: str) -> tuple[str, ...]:
        """VMs with a disk inside this directory (a pool's target path)."""
        prefix = folder.rstrip("/") + "/"
        return tuple(sorted({u.vm for source, users in self._users.items()
                             if source.startswith(prefix) for u in users}))


def in_use_sentence(volume: str, users: tuple[VolumeUser, ...]) -> str:
    names = ", ".join(u.label for u in users)
    verb = "uses" if len(users) == 1 else "use"
    return (f"{names} {verb} {volume}: remove the disk from the VM (or delete the VM) "
            "first.")
