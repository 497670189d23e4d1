"""Organize…: the tags, folder, custom fields and description of one VM, or changes to
many at once (add or remove tags, move to a folder, set a field), from the VM menu, the
tree's context menu or a search's results (``apply``).

The editor is the window's (app/ has no widgets): it is handed in with ``set_handler``
and calls ``apply`` with what the user chose, so the work goes widget → command →
actions → connector like every other command's.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from app.actions.organize import OrganizeVMAction
from app.organize.fields import FieldDef, FieldError, check_value
from connectors.libvirt.domxml.organize import OrgChange
from connectors.libvirt.model import ConnState

from .base import OpensDialog, Verdict, is_vm
from .vm import vm_of

if TYPE_CHECKING:
    from app.inventory import Node
    from app.tasks import Task


class OrganizeOpener(Protocol):
    def __call__(self, nodes: list[Node]) -> None:
        """Shows the editor for these VMs (one: the full editor; several: bulk changes)."""


def change_words(change: OrgChange, description: str | None = None) -> str:
    """What a change does, for the confirmation: "add tag web; move to folder /prod"."""
    parts = []
    if change.replace_tags is not None:
        parts.append("set tags to " + (", ".join(change.replace_tags) or "none"))
    if change.add_tags:
        parts.append("add tag" + ("s " if len(change.add_tags) > 1 else " ")
                     + ", ".join(change.add_tags))
    if change.remove_tags:
        parts.append("remove tag" + ("s " if len(change.remove_tags) > 1 else " ")
                     + ", ".join(change.remove_tags))
    if change.folder is not None:
        parts.append(f"move to folder {change.folder}" if change.folder
                     else "take out of their folder")
    for name, value in change.set_fields:
        parts.append(f"set {name} to {value}" if value else f"clear {name}")
    if change.replace_fields is not None:
        parts.append("set the custom fields")
    if description is not None:
        parts.append("set the description")
    return "; ".join(parts)


class OrganizeVMs(OpensDialog[OrganizeOpener]):
    text = "&Organize…"
    icon_name = "action-organize"
    shortcut = "Ctrl+Shift+O"
    tooltip = "Tags, folder, custom fields and description"
    nothing = "select a VM"

    def about(self, node: Node) -> bool:
        return is_vm(node)

    def refusal(self, node: Node) -> str:
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its server is not connected"
        if vm_of(node).is_control_domain:
            return "the host's control domain"
        if self.ctx.manager.host(node.conn_id) is None:
            # XAPI has tags, folders and other_config of its own (XenCenter's): to come.
            return "tags and folders of XenServer / XCP-ng pools are not supported yet"
        return ""

    def start(self, verdict: Verdict) -> list[Task]:
        if verdict.enabled and self._handler is not None:
            self._handler(list(verdict.runnable))
        return []

    # The custom fields defined in the preferences (the window hands them in): values
    # set through ``apply`` are checked against them, whoever calls it.
    field_definitions: Callable[[], list[FieldDef]] | None = None

    def checked(self, change: OrgChange) -> OrgChange:
        """``change`` with each value of a defined field normalised (a date as
        YYYY-MM-DD); FieldError for a value not of its field's kind."""
        defs = {d.name: d for d in (self.field_definitions() if self.field_definitions
                                    else [])}

        def fix(fields: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
            return tuple((name, check_value(defs[name], value) if name in defs else value)
                         for name, value in fields)
        return replace(change, set_fields=fix(change.set_fields),
                       replace_fields=None if change.replace_fields is None
                       else fix(change.replace_fields))

    def apply(self, nodes: Sequence[Node], change: OrgChange,
              description: str | None = None) -> list[Task]:
        """Writes ``change`` (and the description, unless None) to each VM that can take
        it: one task, or for several VMs one confirmation and one task group. A field
        value of the wrong kind is shown as an error and nothing is written."""
        try:
            change = self.checked(change)
        except FieldError as err:
            self.ctx.prompter.show_error(self.verb, str(err))
            return []
        verdict = self.decide(nodes)
        actions = [OrganizeVMAction(self.ctx, n.conn_id, vm_of(n), change, description)
                   for n in verdict.runnable]
        if self.is_bulk(verdict):
            return self.start_group(verdict, actions, change_words(change, description))
        return self.ctx.tasks.run_actions(actions)
