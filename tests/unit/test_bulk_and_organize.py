"""A user's story on libvirt's real test driver (in-process, through the real
ConnectionManager and LibvirtHost): shut down 50 VMs at once with one confirmation, one of
them refusing; tag and file VMs, and see a change made outside the app arrive by itself.

test:///default is one driver instance per process, so the VMs made here are reachable
from a second libvirt connection (standing in for virsh, which runs in another process and
so cannot see this instance) and are removed at the end.
"""
from __future__ import annotations

import uuid

import libvirt
import pytest

from app import connection_manager as manager_mod
from app import events_log as events_mod
from app import inventory as inventory_mod
from app.commands import CommandSet, DeleteChoice
from app.organize.fields import FieldDef, FieldKind
from app.tasks import TaskManager
from connectors.libvirt.domxml import organize
from connectors.libvirt.domxml.organize import ORGANIZE_NS, ORGANIZE_PREFIX, OrgChange
from connectors.libvirt.model import ConnState, VMInfo, VMState
from tests.conftest import wait_until

PREFIX = "org-data-bulk-"


class Prompter:
    """The human: answers Yes, and remembers every question."""

    def __init__(self):
        self.asked: list[tuple[str, str]] = []
        self.delete: DeleteChoice | None = None

    def confirm(self, title, text, verb):
        self.asked.append((title, text))
        return True

    def ask_delete(self, targets):
        self.asked.append(("Delete", ", ".join(t.vm.name for t in targets)))
        return self.delete

    def show_error(self, title, text):
        self.asked.append((title, text))


def _xml(name: str) -> str:
    return (f"<domain type='test'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>"
            "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os></domain>")


@pytest.fixture
def outside():
    """A second connection to the same in-process driver, and the VMs made through it."""
    libvirt.registerErrorHandler(lambda *_args: None, None)
    conn = libvirt.open("test:///default")
    try:
        yield conn
    finally:
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
        conn.close()


def _vm_nodes(inventory, prefix=PREFIX):
    return sorted((n for n in inventory_mod.iter_nodes(inventory)
                   if n is not None and isinstance(n.obj, VMInfo)
                   and n.obj.name.startswith(prefix)), key=lambda n: n.obj.name)


def _messages(log):
    col = log.columnCount() - 1
    return [str(log.index(r, col).data()) for r in range(log.rowCount())]


class Stack:
    def __init__(self):
        self.log = events_mod.EventsLog()
        self.inventory = inventory_mod.InventoryModel()
        self.manager = manager_mod.ConnectionManager(self.inventory, self.log)
        self.prompter = Prompter()
        self.commands = CommandSet(self.manager, self.inventory, TaskManager(self.log),
                                   self.prompter)

    async def open(self):
        conn_id = self.manager.open("test:///default", save=False)
        await wait_until(lambda: self.manager.host(conn_id).state is ConnState.CONNECTED, 10)
        return conn_id


def test_shut_down_fifty_vms_with_one_question_one_refusing(qapp, aloop, outside):
    for i in range(50):
        outside.defineXML(_xml(f"{PREFIX}{i:02d}")).create()
    outside.lookupByName(f"{PREFIX}07").suspend()          # paused: Shut Down refuses it
    stack = Stack()

    async def story():
        conn_id = await stack.open()
        try:
            await wait_until(lambda: len(_vm_nodes(stack.inventory)) == 50
                             and _vm_nodes(stack.inventory)[7].obj.state is VMState.PAUSED)
            nodes = _vm_nodes(stack.inventory)
            # One more is shut off from outside after it was selected: libvirt refuses it.
            outside.lookupByName(f"{PREFIX}13").destroy()
            tasks = stack.commands.shutdown.run_on(nodes)
            assert len(stack.prompter.asked) == 1
            title, text = stack.prompter.asked[0]
            assert title == "Shut Down"
            assert text.startswith("Shut down 49 VMs on ")
            assert "1 other selected VM is left out:\norg-data-bulk-07: paused; it must " \
                   "be running" in text
            group = stack.commands.shutdown.last_group
            assert group is not None and group.total == 49 and len(tasks) == 49
            await wait_until(lambda: group.done, 30)
            results = {r.target.split(" » ")[1]: r for r in group.results()}
            assert results[f"{PREFIX}07"].state == "skipped"
            assert results[f"{PREFIX}13"].state == "failed"
            assert "not running" in results[f"{PREFIX}13"].text
            assert [name for name, r in results.items() if r.state == "done"] == [
                f"{PREFIX}{i:02d}" for i in range(50) if i not in (7, 13)]
            await wait_until(lambda: all(
                n.obj.state is VMState.SHUTOFF for n in _vm_nodes(stack.inventory)
                if n.obj.name != f"{PREFIX}07"), 10)
            assert any(m.startswith("Shut Down 49 VMs: 48 done, 1 failed, 1 skipped")
                       for m in _messages(stack.log)), _messages(stack.log)
        finally:
            await stack.manager.remove(conn_id)

    aloop.run_until_complete(story())


def test_cancel_stops_what_has_not_started(qapp, aloop, outside):
    for i in range(20):
        outside.defineXML(_xml(f"{PREFIX}c{i:02d}"))
    stack = Stack()

    def running():
        return {n.obj.name for n in _vm_nodes(stack.inventory)
                if n.obj.state is VMState.RUNNING}

    async def story():
        conn_id = await stack.open()
        try:
            await wait_until(lambda: len(_vm_nodes(stack.inventory)) == 20)
            nodes = _vm_nodes(stack.inventory)
            # Cancelled at once: nothing has started, nothing runs.
            stack.commands.start.run_on(nodes[:10])
            group = stack.commands.start.last_group
            assert group.cancel_pending() == 10
            await wait_until(lambda: group.done, 10)
            assert group.counts()["cancelled"] == 10
            assert {t.outcome for t in group.tasks} == {"not started: cancelled"}
            # Cancelled once some have started: those finish, the rest never start.
            stack.commands.start.run_on(nodes[10:])
            group = stack.commands.start.last_group
            await wait_until(lambda: any(group.was_started(t) for t in group.tasks))
            left = group.cancel_pending()
            await wait_until(lambda: group.done, 20)
            counts = group.counts()
            assert counts["cancelled"] == left and counts["done"] == 10 - left
            assert counts["done"] >= 1
            started = {t.target.split(" » ")[1] for t in group.tasks
                       if t.outcome == "done"}
            await wait_until(lambda: running() == started, 10)
        finally:
            await stack.manager.remove(conn_id)

    aloop.run_until_complete(story())


def test_tags_written_by_the_app_and_by_someone_else_both_show(qapp, aloop, outside):
    web = outside.defineXML(_xml(f"{PREFIX}web"))
    web.create()                                    # running: live and config written
    outside.defineXML(_xml(f"{PREFIX}db"))
    stack = Stack()

    async def story():
        conn_id = await stack.open()
        try:
            await wait_until(lambda: len(_vm_nodes(stack.inventory)) == 2)
            db, web_node = _vm_nodes(stack.inventory)
            change = OrgChange(add_tags=("prod",), folder="/prod/web")
            stack.commands.organize.apply([db, web_node], change)
            assert "add tag prod; move to folder /prod/web" in stack.prompter.asked[0][1]
            await wait_until(lambda: stack.commands.organize.last_group.done, 10)
            for flags in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
                stored = organize.from_text(web.metadata(
                    libvirt.VIR_DOMAIN_METADATA_ELEMENT, ORGANIZE_NS, flags))
                assert (stored.tags, stored.folder) == (("prod",), "/prod/web")
            await wait_until(lambda: all(
                n.obj.tags == ("prod",) and n.obj.folder == "/prod/web"
                for n in _vm_nodes(stack.inventory)))
            # Someone else (another console, a script) adds a tag: it arrives by itself.
            text = organize.to_text(organize.organization(["prod", "eu"], "/prod/web"))
            web.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, text, ORGANIZE_PREFIX,
                            ORGANIZE_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE
                            | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            await wait_until(lambda: _vm_nodes(stack.inventory)[1].obj.tags
                             == ("eu", "prod"), 1.0)
            # One VM alone: no question; the description is libvirt's own.
            stack.commands.organize.apply([_vm_nodes(stack.inventory)[0]],
                                          OrgChange(remove_tags=("prod",)), "Database")
            await wait_until(lambda: _vm_nodes(stack.inventory)[0].obj.tags == ()
                             and _vm_nodes(stack.inventory)[0].obj.description
                             == "Database")
            assert len(stack.prompter.asked) == 1
            # A defined field checks its values, whoever sets them (a search's bulk
            # action too): a wrong one is said and nothing is written.
            stack.commands.organize.field_definitions = lambda: [
                FieldDef("expires", FieldKind.DATE)]
            db_node = _vm_nodes(stack.inventory)[0]
            assert stack.commands.organize.apply(
                [db_node], OrgChange(set_fields=(("expires", "soon"),))) == []
            assert stack.prompter.asked[-1] == (
                "Organize", "expires is a date (YYYY-MM-DD); “soon” is not one.")
            stack.commands.organize.apply([db_node], OrgChange(
                set_fields=(("expires", " 2027-01-31 "),)))
            await wait_until(lambda: _vm_nodes(stack.inventory)[0].obj.custom_fields
                             == (("expires", "2027-01-31"),))
        finally:
            await stack.manager.remove(conn_id)

    aloop.run_until_complete(story())


def test_deleting_several_vms_asks_with_its_own_dialog_only(qapp, aloop, outside):
    for name in ("del-a", "del-b"):
        outside.defineXML(_xml(f"{PREFIX}{name}"))
    stack = Stack()
    stack.prompter.delete = DeleteChoice(delete_storage=False)

    async def story():
        conn_id = await stack.open()
        try:
            await wait_until(lambda: len(_vm_nodes(stack.inventory)) == 2)
            stack.commands.delete.run_on(_vm_nodes(stack.inventory))
            assert stack.prompter.asked == [("Delete", f"{PREFIX}del-a, {PREFIX}del-b")]
            group = stack.commands.delete.last_group
            await wait_until(lambda: group.done)
            assert group.summary == "Delete 2 VMs: 2 done"
            await wait_until(lambda: _vm_nodes(stack.inventory) == [])
        finally:
            await stack.manager.remove(conn_id)

    aloop.run_until_complete(story())
