"""A pool's volumes as a Qt table, kept current while a page shows them.

libvirt sends no event when a volume is created or deleted (only the pool's lifecycle
and a "refreshed" event), so the list is re-read when the pool's record changes (its
allocation moves with every volume made, grown or deleted: the host re-reads the pool
after each of our actions, and libvirt's pool events reach the same refresh) and when a
VM of the host changes (a disk attached or detached changes a volume's users).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal

from app.qt_types import AnyIndex
from app.row_table import RowTable
from app.spawn import spawn
from app.actions.base import Action, ActionContext
from app.actions.storage import (CreateVolume, DefinePool, DeleteVolume, DownloadVolume,
                                 GrowVolume, UploadVolume, WipeVolume)
from app.formatting import human_bytes
from connectors.libvirt.model import ConnectorError, PoolInfo
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import VolumeInfo, VolumeSpec

if TYPE_CHECKING:
    from app.tasks import Task

log = logging.getLogger(__name__)

VOLUME_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Name", "Format", "Capacity", "Allocation", "Used by")


class VolumesModel(RowTable[VolumeInfo]):
    columns = COLUMNS

    def set_volumes(self, volumes: list[VolumeInfo]) -> None:
        self.set_rows(volumes)

    def volumes(self) -> list[VolumeInfo]:
        return self.rows()

    def volume(self, row: int) -> VolumeInfo | None:
        return self.row_at(row)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        vol = self.volume(index.row())
        if vol is None:
            return None
        column = index.column()
        if role == VOLUME_ROLE:
            return vol
        if role == Qt.ItemDataRole.DisplayRole:
            return (vol.name, vol.format or "—", human_bytes(vol.capacity),
                    human_bytes(vol.allocation), ", ".join(vol.users) or "—")[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = vol.path
            if vol.backing_path:
                tip += f"\nStarts from {vol.backing_path}"
            if vol.users:
                tip += f"\nUsed by {', '.join(vol.users)}: it cannot be deleted or wiped"
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class PoolVolumes(QObject):
    """The volumes of one pool (or none): ``show(conn_id, pool_key)`` picks the pool,
    ``reload()`` reads again. ``failed`` carries the sentence when reading fails."""

    loaded = Signal()
    failed = Signal(str)

    def __init__(self, manager: Any, inventory: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.model = VolumesModel(self)
        self.conn_id: str | None = None
        self.pool_key: str | None = None
        self._last: PoolInfo | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        inventory.batchApplied.connect(self._on_batch)
        self._inventory = inventory

    def show(self, conn_id: str | None, pool_key: str | None) -> None:
        if (conn_id, pool_key) == (self.conn_id, self.pool_key):
            return
        self.conn_id, self.pool_key = conn_id, pool_key
        self._last = None
        self.model.set_volumes([])
        self.reload()

    def pool(self) -> PoolInfo | None:
        if self.conn_id is None or self.pool_key is None:
            return None
        node = self._inventory.node(self.conn_id, self.pool_key)
        return node.obj if node is not None and isinstance(node.obj, PoolInfo) else None

    def reload(self) -> None:
        if self.conn_id is None or self.pool_key is None:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = spawn(self._load(self.conn_id, self.pool_key))

    async def _load(self, conn_id: str, key: str) -> None:
        try:
            await self._read(conn_id, key)
        finally:
            self._task = None
            if self._again:         # asked again meanwhile (maybe for another pool)
                self._again = False
                self.reload()

    async def _read(self, conn_id: str, key: str) -> None:
        host = self.manager.host(conn_id)
        pool = self.pool()
        try:
            if host is None or pool is None or not pool.active:
                volumes: list[VolumeInfo] = []
            else:
                volumes = await host.storage.volumes(key, refresh=False)
        except ConnectorError as err:
            if (conn_id, key) == (self.conn_id, self.pool_key):
                self.failed.emit(str(err))
            return
        if (conn_id, key) == (self.conn_id, self.pool_key):
            self.model.set_volumes(volumes)
            self.loaded.emit()

    def _on_batch(self, keys: set[tuple[str, str]]) -> None:
        if self.conn_id is None or not keys:
            return
        pool = self.pool()
        mine = (self.conn_id, self.pool_key) in keys and pool != self._last
        vm_changed = any(c == self.conn_id and k != self.pool_key for c, k in keys)
        self._last = pool
        if mine or vm_changed:
            self.reload()


class StorageActions:
    """Volume work and new pools as tasks (status bar, Events, cancel): the pool page's
    buttons and the New Pool wizard start these actions (app/actions/storage.py)."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx

    def _run(self, action: Action) -> Task:
        return self.ctx.tasks.run_action(action)

    def define_pool(self, conn_id: str, new: NewPool) -> Task:
        return self._run(DefinePool(self.ctx, conn_id, new))

    def create_volume(self, conn_id: str, pool: PoolInfo, spec: VolumeSpec) -> Task:
        return self._run(CreateVolume(self.ctx, conn_id, pool.key, pool.name, spec))

    def grow_volume(self, conn_id: str, pool: PoolInfo, name: str, capacity: int) -> Task:
        return self._run(GrowVolume(self.ctx, conn_id, pool.key, pool.name, name, capacity))

    def delete_volume(self, conn_id: str, pool: PoolInfo, name: str) -> Task:
        return self._run(DeleteVolume(self.ctx, conn_id, pool.key, pool.name, name))

    def wipe_volume(self, conn_id: str, pool: PoolInfo, name: str) -> Task:
        return self._run(WipeVolume(self.ctx, conn_id, pool.key, pool.name, name))

    def upload(self, conn_id: str, pool: PoolInfo, name: str, local: str) -> Task:
        return self._run(UploadVolume(self.ctx, conn_id, pool.key, pool.name, name, local))

    def download(self, conn_id: str, pool: PoolInfo, name: str, local: str) -> Task:
        return self._run(DownloadVolume(self.ctx, conn_id, pool.key, pool.name, name,
                                        local))
