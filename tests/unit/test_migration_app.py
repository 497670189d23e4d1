"""The app's side of migration: at most N migrations at once (a preference), what is
remembered per host, and the commands' reasons.

Real migrations run on two real hosts in tests/integration/test_migration.py; here the
hosts are stand-ins whose migrate_vm waits until the test lets it finish, because what is
tested is the queue (three migrations started together, two run), which real guests
would make a minute slower and no truer.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QSettings, Signal

from app import migration as app_migration
from app.commands import CommandSet
from app.host_settings import Evacuated, HostSettings
from app.migration import MigrationRequest, MigrationService
from app.preferences import Preferences
from app.tasks import TaskManager, TaskState
from connectors.libvirt.migration import MigrationOptions
from connectors.libvirt.migration_run import MigrationOutcome
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until


@dataclass
class StandInHost:
    """A connected host whose migrations end when the test says so."""

    uri: str
    state: ConnState = ConnState.CONNECTED
    info: object = None
    running: list = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def migrate_vm(self, key, dest, options, names, on_progress):
        self.running.append(key)
        try:
            await self.release.wait()
        finally:
            self.running.remove(key)
        return MigrationOutcome(1200, 40, 1 << 20, False, ())


class StandInManager(QObject):
    connectionAdded = Signal(str)  # noqa: N815 (Qt signal names)
    stateChanged = Signal(str)  # noqa: N815

    def __init__(self, hosts):
        super().__init__()
        self.hosts = hosts

    def host(self, conn_id):
        return self.hosts.get(conn_id)

    def server(self, conn_id):
        return self.hosts.get(conn_id)

    def pool(self, conn_id):
        return None

    def state(self, conn_id):
        return self.hosts[conn_id].state, ""

    def label(self, conn_id):
        return conn_id

    def conn_ids(self):
        return list(self.hosts)


class StandInInventory(QObject):
    batchApplied = Signal(object)  # noqa: N815

    def node(self, conn_id, key):
        return None


def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "hvconsole.ini"), QSettings.Format.IniFormat)


def test_at_most_n_migrations_run_at_once_the_others_wait_their_turn(tmp_path, aloop):
    source = StandInHost("qemu+ssh://kvm1/system")
    hosts = {"kvm1": source, "kvm2": StandInHost("qemu+ssh://kvm2/system")}
    preferences = Preferences(settings(tmp_path))
    preferences.set_value(app_migration.MAX_PARALLEL, 2)
    tasks = TaskManager()
    service = MigrationService(StandInManager(hosts), tasks, preferences,
                               HostSettings(settings(tmp_path)))
    started = [service.start(MigrationRequest("kvm1", f"vm-{n}", "kvm2",
                                              MigrationOptions(), f"vm-{n}"))
               for n in range(3)]
    aloop.run_until_complete(wait_until(lambda: len(source.running) == 2))
    waiting = [t for t in started if t.detail.startswith("Waiting")]
    assert [t.detail for t in waiting] == [
        "Waiting: 2 migrations are running (at most 2 at once, see Preferences)"]
    source.release.set()
    aloop.run_until_complete(wait_until(lambda: all(t.done for t in started)))
    assert all(t.state is TaskState.SUCCEEDED for t in started)
    assert started[0].outcome == "moved to kvm2 (1.2 s, paused 40 ms, 1.0 MiB sent)"
    assert service.running == 0


def test_host_settings_survive_and_say_what_maintenance_moved(tmp_path):
    first = HostSettings(settings(tmp_path))
    seen = []
    first.changed.connect(seen.append)
    first.set_maintenance("qemu+ssh://kvm1/system", True)
    first.add_evacuated("qemu+ssh://kvm1/system",
                        Evacuated("uuid-1", "web-01", "qemu+ssh://kvm2/system"))
    first.set_migration_address("qemu:///system", " 10.0.0.1 ")
    again = HostSettings(settings(tmp_path))
    assert again.in_maintenance("qemu+ssh://kvm1/system")
    assert not again.in_maintenance("qemu+ssh://kvm2/system")
    assert again.evacuated("qemu+ssh://kvm1/system") == [
        Evacuated("uuid-1", "web-01", "qemu+ssh://kvm2/system")]
    assert again.migration_address("qemu:///system") == "10.0.0.1"
    again.set_maintenance("qemu+ssh://kvm1/system", False)
    assert HostSettings(settings(tmp_path)).evacuated("qemu+ssh://kvm1/system") == []
    assert seen == ["qemu+ssh://kvm1/system"] * 2 + ["qemu:///system"]


def test_the_commands_say_why_a_vm_cannot_move_or_start(tmp_path, aloop, qapp):
    from app.inventory import Node, NodeKind
    from connectors.libvirt.model import VMInfo, VMState

    hosts = {"kvm1": StandInHost("qemu+ssh://kvm1/system")}
    manager = StandInManager(hosts)
    host_settings = HostSettings(settings(tmp_path))
    service = MigrationService(manager, TaskManager(), Preferences(settings(tmp_path)),
                               host_settings)
    commands = CommandSet(manager, StandInInventory(), TaskManager(), prompter=None)
    opened = []
    commands.migrate.set_handler(lambda nodes, dest: opened.append((nodes, dest)), service)
    vm = VMInfo("uuid-1", "web-01", VMState.SHUTOFF, "", "kvm", "hvm", "x86_64", "",
                1, 1, 1024, 1024, True, False, False)
    node = Node(NodeKind.VM, "kvm1", vm.key, vm)
    commands.set_selection([node])
    assert not commands.migrate.action.isEnabled()
    assert "web-01: add a second server to move VMs to" in commands.migrate.action.toolTip()

    hosts["kvm2"] = StandInHost("qemu+ssh://kvm2/system")
    commands.refresh()
    assert commands.migrate.action.isEnabled()
    commands.migrate.action.trigger()
    assert opened == [([node], None)]

    class Maintenance:
        def in_maintenance(self, conn_id):
            return host_settings.in_maintenance(hosts[conn_id].uri)

    commands.ctx.maintenance = Maintenance()
    assert commands.start.action.isEnabled()
    host_settings.set_maintenance("qemu+ssh://kvm1/system", True)
    commands.refresh()
    assert not commands.start.action.isEnabled()
    assert "web-01: its server is in maintenance mode" in commands.start.action.toolTip()
    host_settings.set_maintenance("qemu+ssh://kvm2/system", True)
    commands.refresh()
    assert "web-01: no other connected server of the same hypervisor can take it" in \
        commands.migrate.action.toolTip()
