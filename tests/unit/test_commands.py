"""Which commands a user may give for each VM state, and what giving them does.

The commands run against the real app objects (ConnectionManager, InventoryModel,
EventsLog, TaskManager) and libvirt's test driver with the demo lab (in-process, no
daemon). Hand-built records are only used where the test driver cannot produce a state
(crashed, suspended by the guest, a Dom0): enabling depends on the record, not on the
host. The prompter is a scripted test double for the human answering a dialog.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.commands import CommandSet, DeleteChoice
from app.config import ConnectionsStore
from app.connection_manager import ConnectionManager, demo_uri
from app.events_log import CATEGORY_ROLE, EventsLog
from app.inventory import InventoryModel, Node, NodeKind
from app.tasks import TaskManager, TaskState
from connectors.libvirt.model import ConnState, VMInfo, VMState
from tests.conftest import wait_until


def vm(name="web-01", state=VMState.SHUTOFF, dom0=False, key=None):
    return VMInfo(key=key or f"uuid-{name}", name=name, state=state, state_reason="",
                  domain_type="kvm", os_type="hvm", arch="x86_64",
                  virtualization="Hardware-assisted (KVM)", vcpus=1, max_vcpus=2,
                  memory_kib=1048576, max_memory_kib=2097152, persistent=True,
                  autostart=False, managed_save=state is VMState.SUSPENDED,
                  is_control_domain=dom0)


def vm_node(v, conn):
    return Node(NodeKind.VM, conn, v.key, v)


class Prompter:
    def __init__(self, confirm=True, delete=None):
        self.answer = confirm
        self.delete = delete
        self.asked = []
        self.verbs = []
        self.servers = []

    def confirm(self, title, text, verb):
        self.asked.append(text)
        self.verbs.append(verb)
        return self.answer

    def ask_delete(self, targets):
        self.asked.append([t.vm.name for t in targets])
        self.servers.append([t.server for t in targets])
        return self.delete

    def show_error(self, title, text):
        self.asked.append(text)


ALLOWED = {
    "start": {VMState.SHUTOFF, VMState.CRASHED},
    "shutdown": {VMState.RUNNING},
    "reboot": {VMState.RUNNING},
    "force_shutdown": {s for s in VMState if s.is_active},
    "force_reboot": {VMState.RUNNING, VMState.PAUSED},
    "pause": {VMState.RUNNING},
    "resume": {VMState.PAUSED, VMState.SUSPENDED},
    "suspend": {VMState.RUNNING, VMState.PAUSED},
    "delete": set(VMState),
}


class Lab:
    """The demo lab connected through the real manager, with the commands on top."""

    def __init__(self, aloop, tmp_path, prompter):
        self.aloop = aloop
        self.log = EventsLog()
        self.inventory = InventoryModel()
        self.manager = ConnectionManager(self.inventory, self.log,
                                         store=ConnectionsStore(tmp_path / "c.json"))
        self.tasks = TaskManager(self.log)
        self.prompter = prompter
        self.commands = CommandSet(self.manager, self.inventory, self.tasks, prompter)
        self.conn = self.manager.open(demo_uri(), save=False, demo=True)
        self.wait(lambda: self.inventory.host_state(self.conn)[0] is ConnState.CONNECTED,
                  timeout=15)

    def wait(self, predicate, timeout=10):
        self.aloop.run_until_complete(wait_until(predicate, timeout=timeout))

    def node(self, name):
        for v in self.inventory.vms(self.conn):
            if v.name == name:
                return self.inventory.node(self.conn, v.key)
        raise LookupError(name)

    def state(self, name):
        return self.node(name).obj.state

    def actions(self):
        """The events log rows the tasks wrote, oldest first."""
        rows = [(self.log.index(r, 0).data(CATEGORY_ROLE), self.log.index(r, 2).data(),
                 self.log.index(r, 3).data()) for r in range(self.log.rowCount())]
        return [(source, message) for category, source, message in reversed(rows)
                if category == "action"]

    def target(self, name):
        return f"{self.commands.ctx.host_label(self.conn)} » {name}"


@pytest.fixture
def make(qapp, aloop, tmp_path):
    labs = []

    def build(prompter=None):
        lab = Lab(aloop, tmp_path, prompter or Prompter())
        labs.append(lab)
        return lab
    yield build
    for lab in labs:
        aloop.run_until_complete(lab.manager.close_all())


@pytest.mark.parametrize("state", list(VMState))
def test_each_command_is_enabled_only_in_its_states(make, state):
    lab = make()
    lab.commands.set_selection([vm_node(vm(state=state), lab.conn)])
    for name, states in ALLOWED.items():
        action = getattr(lab.commands, name).action
        assert action.isEnabled() == (state in states), (name, state)
        if not action.isEnabled():
            assert f"web-01: {state.value}" in action.toolTip()


def test_nothing_runs_on_a_disconnected_host_or_on_dom0(make, aloop):
    lab = make()
    aloop.run_until_complete(lab.manager.disconnect_server(lab.conn))
    for state in VMState:
        lab.commands.set_selection([vm_node(vm(state=state), lab.conn)])
        assert not any(c.action.isEnabled() for c in lab.commands.vm_commands if c)
        assert "not connected" in lab.commands.start.action.toolTip()
    aloop.run_until_complete(lab.manager.reconnect(lab.conn))
    for state in VMState:
        lab.commands.set_selection([vm_node(vm("Domain-0", state=state, dom0=True),
                                            lab.conn)])
        assert not any(c.action.isEnabled() for c in lab.commands.vm_commands if c)


def test_multi_selection_runs_on_each_vm_that_can(make):
    lab = make()
    off1, off2, on = lab.node("ci-runner-2"), lab.node("legacy-erp"), lab.node("web-01")
    assert on.obj.state is VMState.RUNNING and off1.obj.state is VMState.SHUTOFF
    lab.commands.set_selection([off1, on, off2])
    assert lab.commands.start.action.isEnabled() and lab.commands.shutdown.action.isEnabled()
    lab.commands.start.action.trigger()
    lab.wait(lambda: lab.state("ci-runner-2") is VMState.RUNNING
             and lab.state("legacy-erp") is VMState.RUNNING)
    lab.wait(lambda: sum(m.endswith(": done") for _, m in lab.actions()) == 2)
    # One row per VM, rewritten in place when its task ended; the VM it could not run
    # on is said too, and the group's own row ends with the totals.
    server = lab.commands.ctx.host_label(lab.conn)
    lab.wait(lambda: (server, "Start 2 VMs: 2 done, 1 skipped") in lab.actions())
    assert sorted(lab.actions()) == sorted([
        (server, "Start 2 VMs: 2 done, 1 skipped"),
        (lab.target("web-01"), "Start 2 VMs: skipped: running; it must be shut off"),
        (lab.target("ci-runner-2"), "Starting VM ci-runner-2: done"),
        (lab.target("legacy-erp"), "Starting VM legacy-erp: done")])


def test_resume_restores_a_suspended_vm_and_unpauses_a_paused_one(make):
    lab = make()
    suspended, paused = lab.node("win11-desktop"), lab.node("db-replica")
    assert suspended.obj.state is VMState.SUSPENDED and paused.obj.state is VMState.PAUSED
    lab.commands.set_selection([suspended, paused])
    lab.commands.resume.action.trigger()
    lab.wait(lambda: lab.state("win11-desktop") is VMState.RUNNING
             and lab.state("db-replica") is VMState.RUNNING)


def test_declined_force_shutdown_does_nothing(make, aloop):
    prompter = Prompter(confirm=False)
    lab = make(prompter)
    lab.commands.set_selection([lab.node("web-01")])
    lab.commands.force_shutdown.action.trigger()
    aloop.run_until_complete(wait_until(lambda: True))
    assert "Force shut down web-01?" in prompter.asked[0]
    assert prompter.verbs == ["Force Shut Down"], "the button says what it does"
    assert lab.actions() == [] and lab.tasks.active() == []
    assert lab.state("web-01") is VMState.RUNNING


def test_failure_lands_in_the_log_with_the_hosts_words(make):
    lab = make()
    off = lab.node("backup-srv")
    # A picture that is out of date: the tree thinks it runs, the host knows better.
    stale = Node(NodeKind.VM, lab.conn, off.key, replace(off.obj, state=VMState.RUNNING))
    task, = lab.commands.pause.run_on([stale])
    lab.wait(lambda: task.done)
    assert task.state is TaskState.FAILED
    assert task.error and not task.error.startswith("Unexpected error")
    source, message = lab.actions()[-1]
    assert source == lab.target("backup-srv") and "failed" in message
    assert lab.log.index(0, 1).data() == "Error"


def test_delete_asks_first_then_deletes(make):
    prompter = Prompter(delete=None)
    lab = make(prompter)
    victim = lab.node("legacy-erp")
    dom0 = vm_node(vm("Domain-0", dom0=True), lab.conn)
    lab.commands.set_selection([victim, dom0])
    lab.commands.delete.action.trigger()
    assert prompter.asked == [["legacy-erp"]], "Dom0 is never offered for deletion"
    assert prompter.servers == [["Demo lab"]]
    assert lab.actions() == []
    prompter.delete = DeleteChoice(delete_storage=False)
    lab.commands.delete.action.trigger()
    lab.wait(lambda: lab.inventory.node(lab.conn, victim.key) is None)
    lab.wait(lambda: any(m == "Deleting VM legacy-erp: done" for _, m in lab.actions()))
    assert "legacy-erp" not in [v.name for v in lab.manager.host(lab.conn).vms()]


def test_host_commands_follow_the_connection_state(make):
    lab = make()
    host_node = lab.inventory.node(lab.conn, lab.conn)
    commands = lab.commands
    commands.set_selection([host_node])
    assert commands.disconnect_host.action.isEnabled()
    assert not commands.reconnect_host.action.isEnabled()
    commands.disconnect_host.action.trigger()
    lab.wait(lambda: commands.reconnect_host.action.isEnabled())
    assert lab.manager.host(lab.conn).state is ConnState.DISCONNECTED
    assert not commands.disconnect_host.action.isEnabled()
    assert commands.remove_host.action.isEnabled()
    commands.reconnect_host.action.trigger()
    lab.wait(lambda: lab.manager.host(lab.conn).state is ConnState.CONNECTED)
    assert commands.disconnect_host.action.isEnabled()
    assert not commands.reconnect_host.action.isEnabled()
    assert not commands.add_server.action.isEnabled()
    opened = []
    commands.add_server.set_handler(lambda: opened.append(1))
    commands.add_server.action.trigger()
    assert opened == [1]


def test_every_command_has_an_icon_and_distinct_shortcuts(qapp, tmp_path):
    inventory = InventoryModel()
    manager = ConnectionManager(inventory, EventsLog(),
                                store=ConnectionsStore(tmp_path / "c.json"))
    commands = CommandSet(manager, inventory, TaskManager(), Prompter())
    assert all(not c.action.icon().isNull() for c in commands.all())
    keys = [c.action.shortcut().toString() for c in commands.all()
            if not c.action.shortcut().isEmpty()]
    assert len(keys) == len(set(keys)) and "Ctrl+B" in keys


def test_shut_down_says_requested_then_what_the_vm_did(make):
    """The test driver's guest stops at once; the task still first says only that the
    shutdown was requested, then "shut off" once the tree shows it off: one row."""
    lab = make()
    web = lab.node("web-01")
    outcomes = []
    task, = lab.commands.shutdown.run_on([web])
    task.finished.connect(lambda: outcomes.append(task.outcome))
    task.outcomeChanged.connect(lambda: outcomes.append(task.outcome))
    lab.wait(lambda: outcomes[-1:] == ["shut off"])
    assert outcomes == ["shutdown requested", "shut off"]
    assert lab.state("web-01") is VMState.SHUTOFF
    assert lab.actions() == [(lab.target("web-01"), "Shutting down VM web-01: shut off")]


def test_shut_down_of_a_guest_that_stays_up_never_claims_success(make, aloop):
    """A VM that is still running when patience runs out: the row says so, with what to
    do; no "done". (The running state is the tree's own record of a VM the test driver
    cannot make ignore the button: the command's request goes to the real test driver.)"""
    lab = make()
    lab.commands.shutdown.patience_s = 0.2
    lab.commands.shutdown.give_up_s = 60
    web = lab.node("web-01")
    lab.manager.host(lab.conn).vm_action = _accept_and_ignore
    task, = lab.commands.shutdown.run_on([web])
    lab.wait(lambda: "still running" in task.outcome)
    source, message = lab.actions()[-1]
    assert message == ("Shutting down VM web-01: shutdown requested; web-01 is still "
                       "running after 0.2 seconds (the guest may ignore the power button; "
                       "Force Shut Down turns it off)")
    assert lab.log.index(0, 1).data() == "Warning"
    assert lab.state("web-01") is VMState.RUNNING


async def _accept_and_ignore(key, action):
    """A guest that ignores ACPI, as libvirt reports it: the call succeeds, nothing else."""


def test_forget_saved_password_is_offered_only_when_something_is_saved(make, tmp_path):
    """Asked of a real (encrypted file) vault through RemoteAccess, as the window wires it."""
    from app.remote_access import RemoteAccess
    from app.vault import EncryptedFileVault, secret_key
    from connectors.libvirt.uri import validate_uri

    lab = make()
    vault = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)
    vault.unlock("file-password")

    async def nobody(*_args):
        return None
    remote = RemoteAccess(lab.manager, lab.log, nobody, nobody, vault=vault)
    forget = lab.commands.forget_password
    forget.set_handler(remote.forget_password, remote.has_saved_password)
    host_node = lab.inventory.node(lab.conn, lab.conn)
    lab.commands.set_selection([host_node])
    lab.wait(lambda: "checking" not in forget.action.toolTip())
    assert not forget.action.isEnabled()
    assert forget.action.toolTip() == ("Delete the password remembered for this server from "
                                       "the keyring: Demo lab: nothing is saved (Ctrl+Shift+K)")

    parsed = validate_uri(lab.manager.host(lab.conn).uri)
    vault.set(secret_key("passphrase", "", parsed), "s3cret")
    lab.commands.set_selection([])
    lab.commands.set_selection([host_node])         # selecting it again asks again
    lab.wait(lambda: forget.action.isEnabled())
    forget.action.trigger()
    lab.wait(lambda: not forget.action.isEnabled())
    assert vault.get(secret_key("passphrase", "", parsed)) is None
    assert "nothing is saved" in forget.action.toolTip()


def test_every_refused_vm_is_named_with_its_reason(make):
    """The tooltip accounts for each selected VM, not only the first one's reason."""
    lab = make()
    running, paused = lab.node("web-01"), lab.node("db-replica")
    dom0 = vm_node(vm("Domain-0", state=VMState.RUNNING, dom0=True), lab.conn)
    lab.commands.set_selection([running, paused, dom0])
    verdict = lab.commands.start.evaluate(lab.commands.selection)
    assert not verdict.enabled
    reasons = {r.node.obj.name: r.reason for r in verdict.refused}
    assert reasons == {"web-01": "running; it must be shut off",
                       "db-replica": "paused; it must be shut off",
                       "Domain-0": "the host's control domain"}
    tip = lab.commands.start.action.toolTip()
    assert "web-01: running; it must be shut off" in tip
    assert "db-replica: paused" in tip and "Domain-0: the host's control domain" in tip
    # Enabled for some: the tooltip still says which are left out.
    lab.commands.set_selection([running, lab.node("legacy-erp")])
    assert lab.commands.start.action.isEnabled()
    assert "(not for web-01: running; it must be shut off)" in \
        lab.commands.start.action.toolTip()
