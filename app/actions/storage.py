"""Actions on storage pools, volumes and virtual networks: each one piece of work on one
object, with its Events row ("Deleting volume disk1.qcow2", "kvm1 » images »
disk1.qcow2"). The pool and network commands start them, and so do the Storage and
Networking pages and the New Pool / New Network wizards.

The work is the host's (``LibvirtHost.storage`` / ``.networking``); refusals come back as
ConnectorErrors worded for the user. Transfers report progress from their
``TransferJob`` and are cancelled with their task.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from app.contracts import Host
from app.formatting import human_bytes
from connectors.libvirt.net_xml import NetworkSpec, StaticHost
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import VolumeSpec
from connectors.libvirt.transfer import TransferJob

from .base import Action, ActionContext

if TYPE_CHECKING:
    from app.tasks import Task

POOL_OP_VERBS = {"start": "Starting", "stop": "Stopping", "refresh": "Refreshing",
                 "autostart": "Turning on autostart of",
                 "no-autostart": "Turning off autostart of"}
NETWORK_OP_VERBS = {"start": "Starting", "stop": "Stopping",
                    "autostart": "Turning on autostart of",
                    "no-autostart": "Turning off autostart of"}


class OnHost(Action):
    """An action on something of one server: ``where`` is the path after the server's
    name in the Events row's target ("images", "images » disk1.qcow2")."""

    def __init__(self, ctx: ActionContext, conn_id: str, title: str, where: str) -> None:
        self.ctx = ctx
        self.conn_id = conn_id
        self.title = title
        self.target = f"{ctx.host_label(conn_id)} » {where}"

    def host(self) -> Host:
        return self.ctx.host(self.conn_id)


# ---- pools ----

class PoolOp(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, key: str, name: str,
                 op: str) -> None:
        super().__init__(ctx, conn_id, f"{POOL_OP_VERBS[op]} pool {name}", name)
        self.key, self.op = key, op

    async def run(self, task: Task) -> str | None:
        await self.host().storage.pool_op(self.key, self.op)
        return None


class DeletePoolAction(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, key: str, name: str,
                 with_data: bool) -> None:
        super().__init__(ctx, conn_id, f"Deleting pool {name}"
                         + (" and its data" if with_data else ""), name)
        self.key, self.with_data = key, with_data

    async def run(self, task: Task) -> str | None:
        await self.host().storage.delete_pool(self.key, self.with_data)
        return None if self.with_data else "definition removed, volumes kept"


class DefinePool(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, new: NewPool) -> None:
        super().__init__(ctx, conn_id, f"Creating pool {new.spec.name}", new.spec.name)
        self.new = new

    async def run(self, task: Task) -> str | None:
        await self.host().storage.define_pool(self.new)
        return None


# ---- volumes ----

class CreateVolume(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, pool_key: str, pool: str,
                 spec: VolumeSpec) -> None:
        super().__init__(ctx, conn_id, f"Creating volume {spec.name}",
                         f"{pool} » {spec.name}")
        self.pool_key, self.spec = pool_key, spec

    async def run(self, task: Task) -> str | None:
        await self.host().storage.create_volume(self.pool_key, self.spec)
        return None


class VolumeAct(OnHost):
    verb = ""

    def __init__(self, ctx: ActionContext, conn_id: str, pool_key: str, pool: str,
                 volume: str) -> None:
        super().__init__(ctx, conn_id, f"{self.verb} volume {volume}", f"{pool} » {volume}")
        self.pool_key, self.volume = pool_key, volume


class DeleteVolume(VolumeAct):
    verb = "Deleting"

    async def run(self, task: Task) -> str | None:
        await self.host().storage.delete_volume(self.pool_key, self.volume)
        return None


class WipeVolume(VolumeAct):
    verb = "Wiping"
    cancellable = False         # libvirt's wipe runs on to its end on the host

    async def run(self, task: Task) -> str | None:
        await self.host().storage.wipe_volume(self.pool_key, self.volume)
        return None


class GrowVolume(VolumeAct):
    verb = "Growing"

    def __init__(self, ctx: ActionContext, conn_id: str, pool_key: str, pool: str,
                 volume: str, capacity: int) -> None:
        super().__init__(ctx, conn_id, pool_key, pool, volume)
        self.capacity = capacity
        self.title += f" to {human_bytes(capacity)}"

    async def run(self, task: Task) -> str | None:
        await self.host().storage.grow_volume(self.pool_key, self.volume, self.capacity)
        return None


class Transfer(VolumeAct):
    """Upload or download: progress from the job twice a second; cancelling the task
    cancels the job, and what was half made is removed."""

    def __init__(self, ctx: ActionContext, conn_id: str, pool_key: str, pool: str,
                 volume: str, local: str) -> None:
        super().__init__(ctx, conn_id, pool_key, pool, volume)
        self.local = local
        self.job = TransferJob()

    async def run(self, task: Task) -> str | None:
        task.set_progress(0)
        work = asyncio.ensure_future(self.transfer())
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=0.5)
                task.set_progress(int(self.job.fraction * 100))
            await work
        except asyncio.CancelledError:
            self.job.cancel()
            work.cancel()
            raise
        return f"{human_bytes(self.job.moved)} moved"

    async def transfer(self) -> None:
        raise NotImplementedError


class UploadVolume(Transfer):
    verb = "Uploading"

    def __init__(self, ctx: ActionContext, conn_id: str, pool_key: str, pool: str,
                 volume: str, local: str) -> None:
        super().__init__(ctx, conn_id, pool_key, pool, volume, local)
        self.title = f"Uploading {volume}"

    async def transfer(self) -> None:
        await self.host().storage.upload(self.pool_key, self.volume, self.local, self.job)


class DownloadVolume(Transfer):
    verb = "Downloading"

    def __init__(self, ctx: ActionContext, conn_id: str, pool_key: str, pool: str,
                 volume: str, local: str) -> None:
        super().__init__(ctx, conn_id, pool_key, pool, volume, local)
        self.title = f"Downloading {volume}"

    async def transfer(self) -> None:
        await self.host().storage.download(self.pool_key, self.volume, self.local,
                                           self.job)


# ---- networks ----

class NetworkOp(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, key: str, name: str,
                 op: str) -> None:
        super().__init__(ctx, conn_id, f"{NETWORK_OP_VERBS[op]} network {name}", name)
        self.key, self.op = key, op

    async def run(self, task: Task) -> str | None:
        await self.host().networking.network_op(self.key, self.op)
        return None


class DeleteNetworkAction(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, key: str, name: str) -> None:
        super().__init__(ctx, conn_id, f"Deleting network {name}", name)
        self.key = key

    async def run(self, task: Task) -> str | None:
        await self.host().networking.delete(self.key)
        return None


class DefineNetwork(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, spec: NetworkSpec, start: bool,
                 autostart: bool) -> None:
        super().__init__(ctx, conn_id, f"Creating network {spec.name}", spec.name)
        self.spec, self.start, self.autostart = spec, start, autostart

    async def run(self, task: Task) -> str | None:
        await self.host().networking.define(self.spec, self.start, self.autostart)
        return None


class UpdateDhcp(OnHost):
    def __init__(self, ctx: ActionContext, conn_id: str, key: str, name: str, start: str,
                 end: str, hosts: tuple[StaticHost, ...]) -> None:
        super().__init__(ctx, conn_id, f"Changing DHCP of network {name}", name)
        self.key, self.start, self.end, self.hosts = key, start, end, hosts

    async def run(self, task: Task) -> str | None:
        await self.host().networking.update_dhcp(self.key, self.start, self.end,
                                                 self.hosts)
        return None
