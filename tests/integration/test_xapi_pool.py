"""A XenServer / XCP-ng pool in HVConsole, against scripts/xapi-simulator.py run as its own
process on 127.0.0.1 (no real pool can run on these machines; the simulator follows the
public XenAPI reference, and the README says XAPI support is tested against it).

Each story drives the application's own stack (ConnectionManager, InventoryModel,
TaskManager and the VM commands) the way the window does; only the human is scripted:
the password typed, the answer to the certificate question.
"""
from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from app.certificates import TrustedCertificates
from app.commands import DeleteChoice
from app.inventory import NodeKind
from app.tasks import TaskState
from connectors.libvirt.model import ConnState, ServerInfo, VMAction, VMInfo, VMState
from connectors.xapi.session import PinBook, Session
from connectors.xapi.uri import normalise_fingerprint
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.xapi_sim_helpers import PASSWORD, SimProcess, start_process

pytestmark = [pytest.mark.integration]


class Human:
    """Types ``password`` when asked, answers the certificate question with ``trust``."""

    def __init__(self, password: str = PASSWORD, trust: bool = True) -> None:
        self.password = password
        self.trust = trust
        self.shown: list[str] = []
        self.asked = 0

    async def credentials(self, uri, requests):
        self.asked += 1
        return ["root", self.password]

    async def certificate(self, uri, shown) -> bool:
        self.shown.append(shown.fingerprint)
        return self.trust


def pool_stack(tmp_path: Path, human: Human) -> AppStack:
    stack = AppStack()
    stack.manager.certificates = TrustedCertificates(tmp_path / "trusted.json")
    stack.manager.set_auth_handler(human.credentials)
    stack.manager.set_certificate_handler(human.certificate)
    return stack


@pytest.fixture
def sim(tmp_path):
    process = start_process(tmp_path / "pool.db", "--generate-pool", "2,12",
                            "--member-listen", "127.0.0.1:0", "--op-seconds", "0.5",
                            "--cert", str(tmp_path / "sim.pem"))
    yield process
    if process.process.poll() is None:
        process.stop()


def uri_of(address: str) -> str:
    return f"xapi://root@{address}"


def pinned(sim: SimProcess, address: str | None = None) -> str:
    return f"{uri_of(address or sim.address)}?fingerprint=" \
           f"{normalise_fingerprint(sim.fingerprint)}"


def connect(aloop, stack: AppStack, uri: str) -> str:
    conn_id = aloop.run_until_complete(stack.open(uri))
    aloop.run_until_complete(stack.manager.wait_attempt(conn_id, 30))
    stack.inventory.flush()
    return conn_id


def outside_session(sim: SimProcess) -> Session:
    """Another XenAPI client (an admin's xe, XenCenter elsewhere) on the same pool."""
    host, port = sim.address.rsplit(":", 1)
    pins = PinBook({f"{host}:{port}": normalise_fingerprint(sim.fingerprint)})
    session = Session(host, int(port), "root", PASSWORD, pins)
    session.login()
    return session


def tree(stack: AppStack, conn_id: str) -> dict[str, list[str]]:
    """What the pool's row shows: each child row's name → the names of its children."""
    host = stack.inventory.host_node(conn_id)
    return {child.name: [grand.name for grand in child.children] for child in host.children}


def test_a_wrong_password_is_refused_and_the_right_one_connects(qapp, aloop, tmp_path, sim):
    wrong = Human(password="not-" + PASSWORD)
    stack = pool_stack(tmp_path, wrong)
    conn_id = connect(aloop, stack, pinned(sim))
    state, reason = stack.manager.state(conn_id)
    assert state is ConnState.DISCONNECTED
    assert "authentication failed" in reason
    wrong.password = PASSWORD
    aloop.run_until_complete(stack.manager.reconnect(conn_id))
    assert stack.manager.state(conn_id)[0] is ConnState.CONNECTED
    aloop.run_until_complete(stack.close())


def test_the_certificate_is_asked_about_once_and_a_changed_one_is_refused(
        qapp, aloop, tmp_path, sim):
    human = Human(trust=False)
    stack = pool_stack(tmp_path, human)
    conn_id = connect(aloop, stack, uri_of(sim.address))
    state, reason = stack.manager.state(conn_id)
    assert state is ConnState.DISCONNECTED and "not trusted" in reason
    assert human.shown == [normalise_fingerprint(sim.fingerprint)]

    human.trust = True
    aloop.run_until_complete(stack.manager.reconnect(conn_id))
    assert stack.manager.state(conn_id)[0] is ConnState.CONNECTED
    trusted = stack.manager.certificates.load()
    assert trusted == {sim.address: normalise_fingerprint(sim.fingerprint)}
    aloop.run_until_complete(stack.manager.disconnect_server(conn_id))

    # The same address now shows another certificate: refused, with no question asked.
    port = sim.address.rsplit(":", 1)[1]
    sim.stop()
    changed = start_process(tmp_path / "pool.db", "--listen", f"127.0.0.1:{port}",
                            "--new-cert", "--cert", str(tmp_path / "other.pem"))
    try:
        asked_before = len(human.shown)
        fresh = pool_stack(tmp_path, human)
        conn_id = connect(aloop, fresh, uri_of(changed.address))
        state, reason = fresh.manager.state(conn_id)
        assert state is ConnState.DISCONNECTED
        assert "CHANGED" in reason and normalise_fingerprint(sim.fingerprint) in reason
        assert len(human.shown) == asked_before
        aloop.run_until_complete(fresh.close())
    finally:
        changed.stop()


def test_a_member_address_leads_to_the_master_and_the_pool_fills_the_tree(
        qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    member = sim.lines["member"]["address"]
    conn_id = connect(aloop, stack, pinned(sim, member))
    assert stack.manager.state(conn_id)[0] is ConnState.CONNECTED
    pool = stack.manager.pool(conn_id)
    assert f"{pool.session.host}:{pool.session.port}" == sim.address

    shown = tree(stack, conn_id)
    servers = [n for n in stack.inventory.host_node(conn_id).children
               if n.kind is NodeKind.SERVER]
    assert sorted(s.name for s in servers) == ["xapi-sim-host-0", "xapi-sim-host-1"]
    assert [s.obj.is_master for s in servers] == [True, False]
    # Resident VMs under their host, the others under the pool; no templates, no dom0.
    for server in servers:
        for vm_node in server.children:
            assert isinstance(vm_node.obj, VMInfo)
            assert vm_node.obj.server_key == server.key and vm_node.obj.state.is_active
    halted = [n.obj for n in stack.inventory.host_node(conn_id).children
              if isinstance(n.obj, VMInfo)]
    assert halted and all(not vm.state.is_active for vm in halted)
    all_vms = [vm for vm in pool.vms() if not vm.is_control_domain]
    assert len(stack.inventory.vms(conn_id)) == len(all_vms) == 12
    assert sorted(shown["Networks"]) == ["Host internal management network",
                                         "Pool-wide network associated with eth0"]
    assert "Shared NFS storage" in shown["Storage"]
    assert not any("Control domain" in name or "template" in name.lower()
                   for names in shown.values() for name in names)
    name = stack.inventory.host_name(conn_id)
    assert name == "xapi-sim pool"
    aloop.run_until_complete(stack.close())


def test_a_vm_started_from_outside_moves_under_its_host(qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    pool = stack.manager.pool(conn_id)
    halted = next(vm for vm in pool.vms() if vm.state is VMState.SHUTOFF)
    target = next(s for s in pool.servers() if not s.is_master)
    admin = outside_session(sim)
    vm_ref = admin.call("VM.get_by_uuid", halted.key)
    host_ref = admin.call("host.get_by_uuid", target.key)
    admin.call("VM.start_on", vm_ref, host_ref, False, False)

    def under_target() -> bool:
        node = stack.inventory.node(conn_id, halted.key)
        return node is not None and node.parent is not None and \
            node.parent.key == target.key and node.obj.state is VMState.RUNNING
    aloop.run_until_complete(wait_until(under_target, 10))
    admin.logout()
    aloop.run_until_complete(stack.close())


def test_commands_run_as_tasks_with_xapi_progress_and_cancel(qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    pool = stack.manager.pool(conn_id)
    vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
              and not v.is_control_domain)
    node = stack.inventory.node(conn_id, vm.key)
    # What XAPI allows decides: Force Shut Down yes, Resume not (it is running).
    assert stack.commands.force_shutdown.evaluate([node]).runnable
    refused = stack.commands.resume.evaluate([node]).refused
    assert refused and "running" in refused[0].reason

    seen: list[int | None] = []
    [task] = stack.commands.force_shutdown.run_on([node])
    task.changed.connect(lambda: seen.append(task.progress))
    aloop.run_until_complete(wait_until(lambda: task.done, 20))
    assert task.state is TaskState.SUCCEEDED, task.summary
    assert max(p for p in seen if p is not None) == 100 and len(set(seen)) >= 3
    aloop.run_until_complete(wait_until(
        lambda: stack.inventory.node(conn_id, vm.key).obj.state is VMState.SHUTOFF, 10))

    # Start it again and cancel half-way: XAPI's task is cancelled, the VM stays off.
    node = stack.inventory.node(conn_id, vm.key)
    [task] = stack.commands.start.run_on([node])
    aloop.run_until_complete(wait_until(lambda: (task.progress or 0) > 0, 10))
    task.cancel()
    aloop.run_until_complete(wait_until(lambda: task.done, 20))
    assert task.state is TaskState.CANCELLED
    aloop.run_until_complete(asyncio.sleep(1.0))
    stack.inventory.flush()
    assert stack.inventory.node(conn_id, vm.key).obj.state is VMState.SHUTOFF
    aloop.run_until_complete(stack.close())


def test_an_expired_session_is_renewed_with_the_kept_password(qapp, aloop, tmp_path):
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "1,4",
                        "--session-timeout", "1", "--op-seconds", "0.2")
    try:
        human = Human()
        stack = pool_stack(tmp_path, human)
        conn_id = connect(aloop, stack, pinned(sim))
        pool = stack.manager.pool(conn_id)
        logins = pool.session.logins
        aloop.run_until_complete(asyncio.sleep(2.5))
        vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
                  and not v.is_control_domain)
        aloop.run_until_complete(pool.vm_action(vm.key, VMAction.PAUSE))
        assert pool.session.logins > logins
        assert human.asked == 1         # renewed with the kept password, nobody asked
        assert stack.manager.state(conn_id)[0] is ConnState.CONNECTED
        aloop.run_until_complete(stack.close())
    finally:
        sim.stop()


def test_a_restarted_pool_is_reconnected_with_a_fresh_inventory(qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    assert len(stack.inventory.vms(conn_id)) == 12
    port = sim.address.rsplit(":", 1)[1]
    sim.process.send_signal(signal.SIGKILL)
    sim.process.wait(10)
    aloop.run_until_complete(wait_until(
        lambda: stack.manager.state(conn_id)[0] is ConnState.RECONNECTING, 40))
    # It comes back at the same address with the same certificate, holding 20 VMs now.
    again = start_process(tmp_path / "pool.db", "--generate-pool", "2,20", "--seed", "7",
                          "--listen", f"127.0.0.1:{port}", "--cert",
                          str(tmp_path / "sim.pem"))
    try:
        aloop.run_until_complete(wait_until(
            lambda: stack.manager.state(conn_id)[0] is ConnState.CONNECTED, 60))
        stack.inventory.flush()
        assert len(stack.inventory.vms(conn_id)) == 20
        servers = [s for s in stack.manager.pool(conn_id).servers()]
        assert all(isinstance(s, ServerInfo) for s in servers) and len(servers) == 2
        aloop.run_until_complete(stack.close())
    finally:
        again.stop()


def test_a_pool_alert_lands_in_the_events_view_and_delete_removes_vm_and_disks(
        qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    pool = stack.manager.pool(conn_id)
    vm = next(v for v in pool.vms() if v.state is VMState.SHUTOFF)
    admin = outside_session(sim)
    admin.call("message.create", "VM_CRASHED", 2, "VM", vm.key, "the guest stopped")

    def alerted() -> bool:
        return any("the guest stopped" in e.message and e.severity == "error"
                   and vm.name in e.source for e in stack.events_log.entries())
    aloop.run_until_complete(wait_until(alerted, 10))

    vm_ref = admin.call("VM.get_by_uuid", vm.key)
    disks = [admin.call("VBD.get_VDI", vbd) for vbd in admin.call("VM.get_VBDs", vm_ref)
             if admin.call("VBD.get_type", vbd) == "Disk"]
    stack.prompter.delete_choice = DeleteChoice(delete_storage=True)
    [task] = stack.commands.delete.run_on([stack.inventory.node(conn_id, vm.key)])
    aloop.run_until_complete(wait_until(lambda: task.done, 20))
    assert task.state is TaskState.SUCCEEDED, task.summary
    aloop.run_until_complete(wait_until(
        lambda: stack.inventory.node(conn_id, vm.key) is None, 10))
    left = set(admin.call("VDI.get_all"))
    assert disks and not left & set(disks)
    admin.logout()
    aloop.run_until_complete(stack.close())


def test_start_on_a_chosen_host_and_maintenance_mode_move_vms(qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    pool = stack.manager.pool(conn_id)
    master, member = sorted(pool.servers(), key=lambda s: not s.is_master)
    halted = next(v for v in pool.vms() if v.state is VMState.SHUTOFF)
    node = stack.inventory.node(conn_id, halted.key)
    commands = stack.commands
    assert [s.name for s in commands.start_on.servers([node])] == [
        "xapi-sim-host-0", "xapi-sim-host-1"]
    [task] = commands.start_on.start_on([node], member)
    aloop.run_until_complete(wait_until(lambda: task.done, 20))
    assert task.state is TaskState.SUCCEEDED, task.summary
    aloop.run_until_complete(wait_until(
        lambda: stack.inventory.node(conn_id, halted.key).parent.key == member.key, 10))

    # Maintenance: the member is disabled and its running VMs move to the master.
    member_node = stack.inventory.node(conn_id, member.key)
    assert commands.exit_server_maintenance.evaluate([member_node]).refused
    [task] = commands.enter_server_maintenance.run_on([member_node])
    aloop.run_until_complete(wait_until(lambda: task.done, 60))
    assert task.state is TaskState.SUCCEEDED, task.summary
    aloop.run_until_complete(wait_until(
        lambda: not stack.inventory.node(conn_id, member.key).obj.enabled
        and not [n for n in stack.inventory.node(conn_id, member.key).children
                 if n.obj.state is VMState.RUNNING], 20))
    assert stack.inventory.node(conn_id, member.key).obj.state_label == "In maintenance"
    assert stack.inventory.node(conn_id, halted.key).parent.key == master.key
    # A disabled, empty host may be rebooted; then it leaves maintenance.
    member_node = stack.inventory.node(conn_id, member.key)
    assert commands.reboot_server.evaluate([member_node]).runnable
    [task] = commands.exit_server_maintenance.run_on([member_node])
    aloop.run_until_complete(wait_until(lambda: task.done, 20))
    assert task.state is TaskState.SUCCEEDED, task.summary
    aloop.run_until_complete(wait_until(
        lambda: stack.inventory.node(conn_id, member.key).obj.enabled, 10))
    aloop.run_until_complete(stack.close())


def test_a_new_master_is_followed(qapp, aloop, tmp_path, sim):
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    pool = stack.manager.pool(conn_id)
    member = next(s for s in pool.servers() if not s.is_master)
    admin = outside_session(sim)
    admin.call("pool.designate_new_master", admin.call("host.get_by_uuid", member.key))
    new_master = sim.lines["member"]["address"]
    aloop.run_until_complete(wait_until(
        lambda: f"{pool.session.host}:{pool.session.port}" == new_master
        and stack.manager.state(conn_id)[0] is ConnState.CONNECTED
        and stack.inventory.node(conn_id, member.key).obj.is_master, 60))
    # The stream goes on from the new master: a change made there shows up.
    host, port = new_master.rsplit(":", 1)
    there = Session(host, int(port), "root", PASSWORD, PinBook({new_master: normalise_fingerprint(
        sim.fingerprint)}))
    there.login()
    vm = next(v for v in pool.vms() if v.state is VMState.RUNNING and not v.is_control_domain)
    there.call("VM.pause", there.call("VM.get_by_uuid", vm.key))
    aloop.run_until_complete(wait_until(
        lambda: stack.inventory.node(conn_id, vm.key).obj.state is VMState.PAUSED, 20))
    there.logout()
    aloop.run_until_complete(stack.close())
