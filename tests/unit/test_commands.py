"""Which commands a user may give for each VM state, and what giving them does.

ConnectionManager and LibvirtHost are built by other parts of the project; until the
real ones can be wired here, `Hosts` stands in for the only thing commands read from them
(a host's connection state and its vm_action/delete_vm calls, which it records). The
prompter is a scripted test double for the human answering a dialog.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pytest

from app.commands import CommandSet, DeleteChoice
from app.tasks import TaskManager, TaskState
from connectors.libvirt.model import ActionError, ConnState, VMAction, VMInfo, VMState
from tests.conftest import wait_until


class Kind(enum.Enum):
    HOST = "host"
    VM = "vm"


@dataclass(eq=False)
class Node:
    kind: Kind
    conn_id: str
    key: str
    obj: object = None
    parent: object = None
    children: list = field(default_factory=list)


def vm(name="web-01", state=VMState.SHUTOFF, dom0=False, key=None):
    return VMInfo(key=key or f"uuid-{name}", name=name, state=state, state_reason="",
                  domain_type="kvm", os_type="hvm", arch="x86_64",
                  virtualization="Hardware-assisted (KVM)", vcpus=1, max_vcpus=2,
                  memory_kib=1048576, max_memory_kib=2097152, persistent=True,
                  autostart=False, managed_save=state is VMState.SUSPENDED,
                  is_control_domain=dom0)


def vm_node(v, conn="c1"):
    return Node(Kind.VM, conn, v.key, v)


class FakeHost:
    def __init__(self, state=ConnState.CONNECTED, fail=None):
        self.state = state
        self.uri = "test:///default"
        self.info = None
        self.calls = []
        self.fail = fail

    async def vm_action(self, key, action):
        self.calls.append((key, action))
        if self.fail:
            raise ActionError(self.fail)

    async def delete_vm(self, key, delete_storage):
        self.calls.append((key, "delete", delete_storage))
        return ["volume /x.qcow2 is in use; kept"] if delete_storage else []


class Hosts:
    def __init__(self, **hosts):
        self.hosts = hosts

    def host(self, conn_id):
        return self.hosts[conn_id]


class Log:
    def __init__(self):
        self.rows = []

    def add(self, severity, category, source, message):
        self.rows.append((severity, category, source, message))


class Prompter:
    def __init__(self, confirm=True, delete=None):
        self.answer = confirm
        self.delete = delete
        self.asked = []

    def confirm(self, title, text):
        self.asked.append(text)
        return self.answer

    def ask_delete(self, vms):
        self.asked.append([v.name for v in vms])
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


def make(qapp, host_state=ConnState.CONNECTED, prompter=None, fail=None):
    log = Log()
    hosts = Hosts(c1=FakeHost(host_state, fail))
    commands = CommandSet(hosts, None, TaskManager(log), prompter or Prompter())
    return commands, hosts.hosts["c1"], log


@pytest.mark.parametrize("state", list(VMState))
def test_each_command_is_enabled_only_in_its_states(qapp, state):
    commands, _, _ = make(qapp)
    commands.set_selection([vm_node(vm(state=state))])
    for name, states in ALLOWED.items():
        action = getattr(commands, name).action
        assert action.isEnabled() == (state in states), (name, state)
        if not action.isEnabled():
            assert "web-01 is" in action.toolTip()


@pytest.mark.parametrize("state", list(VMState))
def test_nothing_runs_on_a_disconnected_host_or_on_dom0(qapp, state):
    commands, host, _ = make(qapp, ConnState.RECONNECTING)
    commands.set_selection([vm_node(vm(state=state))])
    assert not any(c.action.isEnabled() for c in commands.vm_commands if c)
    assert "not connected" in commands.start.action.toolTip()
    host.state = ConnState.CONNECTED
    commands.set_selection([vm_node(vm("Domain-0", state=state, dom0=True))])
    assert not any(c.action.isEnabled() for c in commands.vm_commands if c)


def test_multi_selection_runs_on_each_vm_that_can(qapp, aloop):
    commands, host, log = make(qapp)
    off1, off2, on = vm("a"), vm("b"), vm("c", VMState.RUNNING)
    commands.set_selection([vm_node(off1), vm_node(on), vm_node(off2)])
    assert commands.start.action.isEnabled() and commands.shutdown.action.isEnabled()
    commands.start.action.trigger()
    aloop.run_until_complete(wait_until(lambda: len(host.calls) == 2))
    assert sorted(host.calls) == [("uuid-a", VMAction.START), ("uuid-b", VMAction.START)]
    aloop.run_until_complete(wait_until(lambda: sum("done" in r[3] for r in log.rows) == 2))
    assert ("info", "action", "test:///default » a", "Starting VM a: started") in log.rows


def test_resume_restores_a_suspended_vm_and_unpauses_a_paused_one(qapp, aloop):
    commands, host, _ = make(qapp)
    commands.set_selection([vm_node(vm("s", VMState.SUSPENDED)),
                            vm_node(vm("p", VMState.PAUSED))])
    commands.resume.action.trigger()
    aloop.run_until_complete(wait_until(lambda: len(host.calls) == 2))
    assert sorted(host.calls) == [("uuid-p", VMAction.RESUME), ("uuid-s", VMAction.START)]


def test_declined_force_shutdown_does_nothing(qapp, aloop):
    prompter = Prompter(confirm=False)
    commands, host, log = make(qapp, prompter=prompter)
    commands.set_selection([vm_node(vm(state=VMState.RUNNING))])
    commands.force_shutdown.action.trigger()
    aloop.run_until_complete(wait_until(lambda: True))
    assert "Force shut down web-01?" in prompter.asked[0]
    assert host.calls == [] and log.rows == []


def test_failure_lands_in_the_log_with_the_hosts_words(qapp, aloop):
    commands, host, log = make(qapp, fail="Requested operation is not valid")
    commands.set_selection([vm_node(vm(state=VMState.RUNNING))])
    task, = commands.pause.start(commands.selection)
    aloop.run_until_complete(wait_until(lambda: task.done))
    assert task.state is TaskState.FAILED
    assert task.error == "Requested operation is not valid"
    assert log.rows[-1][0] == "error" and "not valid" in log.rows[-1][3]


def test_delete_asks_and_logs_warnings(qapp, aloop):
    prompter = Prompter(delete=None)
    commands, host, log = make(qapp, prompter=prompter)
    commands.set_selection([vm_node(vm()), vm_node(vm("dom0", dom0=True))])
    commands.delete.action.trigger()
    assert prompter.asked == [["web-01"]] and host.calls == []
    prompter.delete = DeleteChoice(delete_storage=True)
    commands.delete.action.trigger()
    aloop.run_until_complete(wait_until(lambda: any(r[0] == "warning" for r in log.rows)))
    assert host.calls == [("uuid-web-01", "delete", True)]


def test_host_commands_follow_the_connection_state(qapp):
    commands, host, _ = make(qapp)
    node = Node(Kind.HOST, "c1", "c1")
    commands.set_selection([node])
    assert commands.disconnect_host.action.isEnabled()
    assert not commands.reconnect_host.action.isEnabled()
    host.state = ConnState.DISCONNECTED
    commands.refresh()
    assert commands.reconnect_host.action.isEnabled()
    assert not commands.disconnect_host.action.isEnabled()
    assert commands.remove_host.action.isEnabled()
    assert not commands.add_server.action.isEnabled()
    opened = []
    commands.add_server.set_handler(lambda: opened.append(1))
    commands.add_server.action.trigger()
    assert opened == [1]


def test_every_command_has_an_icon_and_distinct_shortcuts(qapp):
    commands, _, _ = make(qapp)
    assert all(not c.action.icon().isNull() for c in commands.all())
    keys = [c.action.shortcut().toString() for c in commands.all()
            if not c.action.shortcut().isEmpty()]
    assert len(keys) == len(set(keys)) and "Ctrl+B" in keys
