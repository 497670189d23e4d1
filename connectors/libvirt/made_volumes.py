"""The volumes a create or clone job made, so that a failure or a cancel deletes them
again (newest first) and leaves nothing behind."""
from __future__ import annotations

import libvirt


class MadeVolumes:
    def __init__(self, made_paths: list[str]) -> None:
        self._made_paths = made_paths      # the job's own list, which its caller reads
        self.volumes: list[libvirt.virStorageVol] = []

    def volume(self, vol: libvirt.virStorageVol) -> libvirt.virStorageVol:
        self.volumes.append(vol)
        self._made_paths.append(vol.path())
        return vol

    def delete_volumes(self) -> None:
        for vol in reversed(self.volumes):
            try:
                vol.delete(0)
            except libvirt.libvirtError:
                pass
