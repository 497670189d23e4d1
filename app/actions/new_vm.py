"""Creating and cloning a VM as actions: one Task each (Events row, status bar progress),
cancellable until the VM is defined.

The work is the connector's (create_ops.py, clone_ops.py) in the host's worker pool; its
job object carries progress and cancel across threads. ``run_job`` polls it into the
Task, and a cancel of the Task asks the job to stop and waits until the connector has
removed what it made, so the task ends "cancelled" only when nothing is left behind.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol

from app.actions.base import Action
from connectors.libvirt.clone_ops import CloneJob, CloneSpec
from connectors.libvirt.create_ops import CreateCancelled, CreateJob, CreateSpec
from connectors.libvirt.host_facts import HostFacts
from connectors.libvirt.model import ActionError

if TYPE_CHECKING:
    from app.tasks import Task

POLL_S = 0.2
Progress = Callable[[str, float], None]


class CreatingHost(Protocol):
    """What New VM and Clone need of a connection (connectors.libvirt.host.LibvirtHost)."""

    uri: str

    async def new_vm_facts(self) -> HostFacts: ...
    async def volume_head(self, pool: str, volume: str) -> bytes: ...
    async def create_vm(self, spec: CreateSpec, job: CreateJob) -> str: ...
    async def clone_vm(self, spec: CloneSpec, job: CloneJob) -> str: ...


class Job(Protocol):
    phase: str
    defined: bool
    key: str

    @property
    def fraction(self) -> float: ...
    def cancel(self) -> bool: ...


async def run_job(task: Task | None, job: Job, work: Awaitable[str],
                  progress: Progress | None = None) -> str:
    """Awaits ``work`` while reporting ``job``'s progress; a cancel asks the job to stop
    and waits for its clean-up. Once the VM is defined a cancel is refused: the work runs
    to its end."""
    inner = asyncio.ensure_future(work)
    while True:
        try:
            done, _ = await asyncio.wait({inner}, timeout=POLL_S)
        except asyncio.CancelledError:
            if job.cancel():
                try:
                    await asyncio.shield(inner)
                except (CreateCancelled, ActionError):
                    pass
                raise
            continue                    # defined already: finish the job
        if task is not None:
            task.set_progress(int(job.fraction * 100))
        if progress is not None:
            progress(job.phase, job.fraction)
        if done:
            return inner.result()


class CreateVM(Action):
    def __init__(self, host: CreatingHost, host_label: str, spec: CreateSpec,
                 progress: Progress | None = None) -> None:
        self.host, self.spec, self.progress = host, spec, progress
        self.job = CreateJob()
        self.key = ""
        self.title = f"Creating VM {spec.name}"
        self.target = f"{host_label} » {spec.name}"

    async def run(self, task: Task) -> str | None:
        self.key = await run_job(task, self.job, self.host.create_vm(self.spec, self.job),
                                 self.progress)
        return "created and started" if self.spec.start else "created"


class CloneVM(Action):
    def __init__(self, host: CreatingHost, host_label: str, source_name: str,
                 spec: CloneSpec, progress: Progress | None = None) -> None:
        self.host, self.spec, self.progress = host, spec, progress
        self.job = CloneJob()
        self.key = ""
        kind = "Linked clone of" if spec.linked else "Cloning"
        self.title = f"{kind} {source_name} to {spec.name}"
        self.target = f"{host_label} » {source_name}"

    async def run(self, task: Task) -> str | None:
        self.key = await run_job(task, self.job, self.host.clone_vm(self.spec, self.job),
                                 self.progress)
        return "cloned and started" if self.spec.start else "cloned"
