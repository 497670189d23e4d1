"""VM → Clone…: the choices (name, pool, full or linked), what is refused, and the task.

The copy is the pool's own (clone_ops.py); the task shows its progress and can be
cancelled until the clone is defined (a disk being copied finishes first: the pool's
copy cannot stop halfway; what was copied is then deleted).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app.actions.new_vm import CloneVM, CreatingHost
from app.tasks import Task, TaskManager
from connectors.libvirt.clone_ops import CloneSpec
from connectors.libvirt.host_facts import HostFacts
from connectors.libvirt.model import ActionError, VMInfo, VMState

from .running import CreationRunner
from .validation import NAME


@dataclass
class ClonePlan:
    name: str = ""
    pool: str = ""                   # "": each copy beside its original
    linked: bool = False
    start: bool = False


def clone_problems(plan: ClonePlan, vm: VMInfo, facts: HostFacts) -> list[str]:
    found: list[str] = []
    if vm.state is not VMState.SHUTOFF:
        found.append(f"{vm.name} is {vm.state.value}: shut it down first, so its disks do "
                     "not change while they are copied.")
    name = plan.name.strip()
    if not name:
        found.append("Give the clone a name.")
    elif not NAME.match(name) or len(name) > 64:
        found.append("A name starts with a letter or digit and holds only letters, digits "
                     "and . _ + - (at most 64).")
    elif name in facts.names:
        found.append(f"A VM named {name} already exists on this host.")
    if plan.pool:
        pool = facts.pool(plan.pool)
        if pool is None or not pool.active:
            found.append(f"The storage pool {plan.pool} is not active: start it, or copy "
                         "the disks beside the originals.")
        elif not plan.linked:
            need = sum(v.capacity for p in facts.pools for v in p.volumes
                       if any(d.source == v.path for d in vm.disks if d.device == "disk"
                              and not d.readonly))
            if need > pool.available:
                found.append(f"The storage pool {plan.pool} has too little free space for "
                             "copies of the disks.")
    return found


def suggested_clone_name(vm: VMInfo, taken: frozenset[str]) -> str:
    name, n = f"{vm.name}-clone", 2
    while name in taken:
        name = f"{vm.name}-clone{n}"
        n += 1
    return name


class CloneSession(CreationRunner):
    ready = Signal(str)

    def __init__(self, host: CreatingHost, tasks: TaskManager, host_label: str, vm: VMInfo,
                 parent: QObject | None = None) -> None:
        super().__init__(tasks, parent)
        self.host, self.host_label, self.vm = host, host_label, vm
        self.facts: HostFacts | None = None
        self.error = ""

    async def load(self) -> None:
        try:
            self.facts = await self.host.new_vm_facts()
        except ActionError as err:
            self.error = str(err)
        self.ready.emit(self.error)

    def clone(self, plan: ClonePlan) -> Task:
        spec = CloneSpec(self.vm.key, plan.name.strip(), plan.pool or None, plan.linked,
                         plan.start)
        action = CloneVM(self.host, self.host_label, self.vm.name, spec, self.progress.emit)
        return self.run(action, "The clone was cancelled; what it had copied was deleted.")
