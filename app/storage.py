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
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal

from app.spawn import spawn
from app.formatting import human_bytes
from connectors.libvirt.model import ConnectorError, PoolInfo
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import VolumeInfo, VolumeSpec
from connectors.libvirt.transfer import TransferJob

log = logging.getLogger(__name__)

VOLUME_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Name", "Format", "Capacity", "Allocation", "Used by")


class VolumesModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._volumes: list[VolumeInfo] = []

    def set_volumes(self, volumes: list[VolumeInfo]) -> None:
        self.beginResetModel()
        self._volumes = list(volumes)
        self.endResetModel()

    def volumes(self) -> list[VolumeInfo]:
        return list(self._volumes)

    def volume(self, row: int) -> VolumeInfo | None:
        return self._volumes[row] if 0 <= row < len(self._volumes) else None

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._volumes)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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


class StorageActions(QObject):
    """Volume work as tasks (status bar, Events, cancel): the pool page's buttons and the
    New Pool wizard call these; each names its pool and volume in the task's title."""

    def __init__(self, manager: Any, tasks: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.tasks = tasks

    def _host(self, conn_id: str) -> Any:
        host = self.manager.host(conn_id)
        if host is None:
            raise LookupError("that server is no longer in HVConsole")
        return host

    def _target(self, conn_id: str, pool: str, volume: str = "") -> str:
        label = self.manager.label(conn_id)
        return f"{label} » {pool}" + (f" » {volume}" if volume else "")

    def define_pool(self, conn_id: str, new: NewPool) -> Any:
        return self.tasks.run(f"Creating pool {new.spec.name}",
                              self._target(conn_id, new.spec.name),
                              lambda: self._host(conn_id).storage.define_pool(new))

    def create_volume(self, conn_id: str, pool: PoolInfo, spec: VolumeSpec) -> Any:
        return self.tasks.run(f"Creating volume {spec.name}",
                              self._target(conn_id, pool.name, spec.name),
                              lambda: self._host(conn_id).storage.create_volume(pool.key,
                                                                                spec))

    def grow_volume(self, conn_id: str, pool: PoolInfo, name: str, capacity: int) -> Any:
        return self.tasks.run(
            f"Growing volume {name} to {human_bytes(capacity)}",
            self._target(conn_id, pool.name, name),
            lambda: self._host(conn_id).storage.grow_volume(pool.key, name, capacity))

    def delete_volume(self, conn_id: str, pool: PoolInfo, name: str) -> Any:
        return self.tasks.run(f"Deleting volume {name}", self._target(conn_id, pool.name, name),
                              lambda: self._host(conn_id).storage.delete_volume(pool.key, name))

    def wipe_volume(self, conn_id: str, pool: PoolInfo, name: str) -> Any:
        return self.tasks.run(f"Wiping volume {name}", self._target(conn_id, pool.name, name),
                              lambda: self._host(conn_id).storage.wipe_volume(pool.key, name))

    def upload(self, conn_id: str, pool: PoolInfo, name: str, local: str) -> Any:
        job = TransferJob()

        async def work(task: Any) -> None:
            with _Progress(task, job):
                await self._host(conn_id).storage.upload(pool.key, name, local, job)
        return self.tasks.run(f"Uploading {name}", self._target(conn_id, pool.name, name),
                              work)

    def download(self, conn_id: str, pool: PoolInfo, name: str, local: str) -> Any:
        job = TransferJob()

        async def work(task: Any) -> None:
            with _Progress(task, job):
                await self._host(conn_id).storage.download(pool.key, name, local, job)
        return self.tasks.run(f"Downloading {name}", self._target(conn_id, pool.name, name),
                              work)


class _Progress:
    """Copies a transfer's fraction into its task's progress twice a second."""

    def __init__(self, task: Any, job: TransferJob) -> None:
        self.task, self.job = task, job
        self.timer = QTimer()
        self.timer.setInterval(500)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.task.set_progress(int(self.job.fraction * 100))

    def __enter__(self) -> _Progress:
        self.task.set_progress(0)
        self.timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.timer.stop()
        if self.job.cancelled is False and self.job.total:
            self._tick()
