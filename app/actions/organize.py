"""Writing a VM's tags, folder, custom fields and description: one action per VM, so a
bulk "add tag web" on 200 VMs is a task group with a result per VM (app/task_group.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.libvirt.domxml.organize import OrgChange
from connectors.libvirt.model import VMInfo

from .base import ActionContext
from .vm import VMAct

if TYPE_CHECKING:
    from app.tasks import Task


class OrganizeVMAction(VMAct):
    """``change`` is applied to what the VM holds when it is written (so each VM keeps
    its other tags); ``description`` None leaves the description alone."""

    def __init__(self, ctx: ActionContext, conn_id: str, vm: VMInfo, change: OrgChange,
                 description: str | None = None) -> None:
        super().__init__(ctx, conn_id, vm, "Organizing")
        self.change = change
        self.description = description

    async def run(self, task: Task) -> str | None:
        host = self.ctx.host(self.conn_id)
        if self.change != OrgChange():
            org = await host.change_organization(self.vm.key, self.change)
            words = describe(org.tags, org.folder)
        else:
            words = ""
        if self.description is not None and self.description.strip() != \
                self.vm.description.strip():
            await host.set_description(self.vm.key, self.description)
        return words or None


def describe(tags: tuple[str, ...], folder: str) -> str:
    """ "tags web, eu; folder /prod/web": the outcome as the Events row words it."""
    parts = []
    if tags:
        parts.append("tags " + ", ".join(tags))
    if folder:
        parts.append("folder " + folder)
    return "; ".join(parts)
