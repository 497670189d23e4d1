"""A host's storage pools and volumes, as async calls: ``LibvirtHost.storage``.

Each call runs the blocking work of storage_ops.py in the host's worker pool (bounded by
the call timeout; transfers in a thread of their own, cancelled through their job) and
words libvirt's failures as sentences that name the pool or volume ("Could not start
pool images: ..."). Volume users come from the host's live VM records, so a volume a VM
uses is refused for delete and wipe with the VM named, without asking the host.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import libvirt

from connectors.libvirt import storage_ops
from connectors.libvirt.capabilities import HostCapabilities, read_host_capabilities
from connectors.libvirt.model import ActionError, ObjectKind, PoolInfo, VMInfo
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import PoolDetails, PoolSource, VolumeInfo, VolumeSpec
from connectors.libvirt.transfer import TransferCancelled, TransferJob
from connectors.libvirt.volume_usage import VolumeUsage

T = TypeVar("T")
Ref = tuple[ObjectKind, str]


class ActionRunner(Protocol):
    """What the storage and network facades need of their host (LibvirtHost)."""

    @property
    def generation(self) -> int: ...
    def vms(self) -> list[VMInfo]: ...
    def pools(self) -> list[PoolInfo]: ...
    async def run_action(self, fn: Callable[[libvirt.virConnect], T], failed: str,
                         doing: str, refresh: Iterable[Ref] = ()) -> T: ...
    async def run_long(self, fn: Callable[[libvirt.virConnect], T], failed: str) -> T: ...
    async def refresh_objects(self, refs: Iterable[Ref]) -> None: ...


_OP_WORDS = {"start": "start", "stop": "stop", "refresh": "refresh",
             "autostart": "turn on autostart for", "no-autostart": "turn off autostart for"}


class HostStorage:
    def __init__(self, host: ActionRunner) -> None:
        self._host = host
        self._caps: tuple[int, HostCapabilities] | None = None

    def _name(self, key: str) -> str:
        for found in self._host.pools():
            if found.key == key:
                return found.name
        return key

    def usage(self) -> VolumeUsage:
        return VolumeUsage(self._host.vms())

    async def capabilities(self) -> HostCapabilities:
        """The host's capabilities (pool types among them), asked once per connection."""
        generation = self._host.generation
        if self._caps is None or self._caps[0] != generation:
            caps = await self._host.run_action(read_host_capabilities,
                                               "Could not read the host's capabilities",
                                               "reading its capabilities")
            self._caps = (generation, caps)
        return self._caps[1]

    # ---- pools ----

    async def define_pool(self, new: NewPool) -> str:
        """The new pool's UUID; ActionError (nothing left defined) when refused."""
        name = new.spec.name
        key = await self._host.run_action(lambda c: storage_ops.define_pool(c, new),
                                          f"Could not create pool {name}",
                                          f"while creating pool {name}")
        await self._host.refresh_objects([(ObjectKind.POOL, key)])
        return key

    async def pool_op(self, key: str, op: str) -> None:
        name = self._name(key)
        await self._host.run_action(lambda c: storage_ops.pool_op(c, key, op),
                                    f"Could not {_OP_WORDS[op]} pool {name}",
                                    f"while asked to {_OP_WORDS[op]} pool {name}",
                                    [(ObjectKind.POOL, key)])

    async def delete_pool(self, key: str, delete_data: bool) -> None:
        name, usage = self._name(key), self.usage()
        await self._host.run_action(
            lambda c: storage_ops.delete_pool(c, key, delete_data, usage),
            f"Could not delete pool {name}", f"while deleting pool {name}",
            [(ObjectKind.POOL, key)])

    async def details(self, key: str) -> PoolDetails:
        return await self._host.run_action(lambda c: storage_ops.details(c, key),
                                           f"Could not read pool {self._name(key)}",
                                           "reading a pool")

    async def find_sources(self, pool_type: str, host: str, port: int = 0,
                           initiator: str = "") -> list[PoolSource]:
        where = host or "this host"
        return await self._host.run_action(
            lambda c: storage_ops.find_sources(c, pool_type, host, port, initiator),
            f"Could not look for {pool_type} sources on {where}",
            f"while looking for sources on {where}")

    # ---- volumes ----

    async def volumes(self, key: str, refresh: bool = True) -> list[VolumeInfo]:
        usage = self.usage()
        return await self._host.run_action(
            lambda c: storage_ops.list_volumes(c, key, usage, refresh),
            f"Could not list the volumes of pool {self._name(key)}", "listing volumes")

    async def create_volume(self, key: str, spec: VolumeSpec) -> str:
        pool = self._name(key)
        return await self._host.run_action(
            lambda c: storage_ops.create_volume(c, key, spec),
            f"Could not create volume {spec.name} in pool {pool}",
            f"while creating volume {spec.name}", [(ObjectKind.POOL, key)])

    async def delete_volume(self, key: str, name: str) -> None:
        usage = self.usage()
        await self._host.run_action(lambda c: storage_ops.delete_volume(c, key, name, usage),
                                    f"Could not delete volume {name}",
                                    f"while deleting volume {name}", [(ObjectKind.POOL, key)])

    async def wipe_volume(self, key: str, name: str) -> None:
        usage = self.usage()
        await self._host.run_long(lambda c: storage_ops.wipe_volume(c, key, name, usage),
                                  f"Could not wipe volume {name}")
        await self._host.refresh_objects([(ObjectKind.POOL, key)])

    async def grow_volume(self, key: str, name: str, capacity: int) -> None:
        usage = self.usage()
        await self._host.run_action(
            lambda c: storage_ops.grow_volume(c, key, name, capacity, usage),
            f"Could not grow volume {name}", f"while growing volume {name}",
            [(ObjectKind.POOL, key)])

    async def upload(self, key: str, name: str, local: str, job: TransferJob) -> str:
        """A new volume ``name`` holding the local file; its path on the host. Cancelling
        the awaiting task cancels the transfer, and the half-made volume is deleted."""
        try:
            return await self._host.run_long(
                lambda c: storage_ops.upload_new(c, key, name, local, job),
                f"Could not upload {local} to pool {self._name(key)}")
        except asyncio.CancelledError:
            job.cancel()
            raise
        except TransferCancelled:
            raise ActionError(f"The upload of {name} was cancelled; the volume was "
                              "removed.") from None
        finally:
            await self._refresh_quietly(key)

    async def download(self, key: str, name: str, local: str, job: TransferJob) -> None:
        if os.path.lexists(local):      # transfer.download refuses it too, without words
            raise ActionError(f"{local} already exists: HVConsole never writes over a "
                              "file.")
        try:
            await self._host.run_long(
                lambda c: storage_ops.download(c, key, name, local, job),
                f"Could not download {name} to {local}")
        except asyncio.CancelledError:
            job.cancel()
            raise
        except TransferCancelled:
            raise ActionError(f"The download of {name} was cancelled; nothing was "
                              "kept.") from None

    async def _refresh_quietly(self, key: str) -> None:
        try:
            await self._host.refresh_objects([(ObjectKind.POOL, key)])
        except ActionError:
            pass
