"""VM and host commands on the simulator, with XAPI's own errors: Async calls are tasks
with progress, result and error_info; a cancelled task leaves the VM as it was;
allowed_operations and current_operations follow each operation; templates, the control
domain and wrong power states are refused as xapi refuses them; hosts are disabled,
evacuated and rebooted only in xapi's order."""
from __future__ import annotations

import time

import pytest

from tests.xapi_sim_helpers import JsonRpc, running_simulator


@pytest.fixture
def pool():
    with running_simulator(hosts=2, vms=10) as running:
        client = JsonRpc(running.address)
        running.client = client
        running.session = running.login(client)
        yield running


def call(pool, method: str, *params):
    return pool.client.call(method, pool.session, *params)


def wait_task(pool, task: str) -> dict:
    while True:
        record = call(pool, "task.get_record", task)["result"]
        if record["status"] not in ("pending", "cancelling"):
            return record
        time.sleep(0.05)


def test_async_start_is_a_task_that_ends_with_the_vm_running(pool) -> None:
    pool.sim.options.op_seconds = 1.0  # long enough to see the operation in progress
    vm = pool.vm("vm-0006")
    free_before = {h: call(pool, "host_metrics.get_memory_free",
                           call(pool, "host.get_metrics", h)["result"])["result"]
                   for h in call(pool, "host.get_all")["result"]}
    task = call(pool, "Async.VM.start", vm, False, False)["result"]
    assert task.startswith("OpaqueRef:")
    seen_ops = call(pool, "VM.get_current_operations", vm)["result"]
    assert list(seen_ops.values()) == ["start"] and list(seen_ops) == [task]
    assert "start" not in call(pool, "VM.get_allowed_operations", vm)["result"]
    record = wait_task(pool, task)
    assert record["status"] == "success" and record["progress"] == 1.0
    assert record["error_info"] == []
    vm_record = call(pool, "VM.get_record", vm)["result"]
    assert vm_record["power_state"] == "Running" and vm_record["current_operations"] == {}
    host_metrics = call(pool, "host.get_metrics", vm_record["resident_on"])["result"]
    free = call(pool, "host_metrics.get_memory_free", host_metrics)["result"]
    assert free == free_before[vm_record["resident_on"]] - vm_record["memory_static_max"]
    metrics = call(pool, "VM_metrics.get_record", vm_record["metrics"])["result"]
    assert metrics["memory_actual"] == vm_record["memory_static_max"]
    assert "clean_shutdown" in vm_record["allowed_operations"]
    assert vm_record["resident_on"] in pool.sim.store.table("host")
    (console,) = vm_record["consoles"]
    location = call(pool, "console.get_location", console)["result"]
    assert location == f"https://{pool.address}/console?ref={console}"


def test_a_cancelled_start_leaves_the_vm_halted(pool) -> None:
    pool.sim.options.op_seconds = 3.0
    vm = pool.vm("vm-0007")
    task = call(pool, "Async.VM.start", vm, False, False)["result"]
    assert call(pool, "task.cancel", task)["result"] == ""
    record = wait_task(pool, task)
    assert record["status"] == "cancelled"
    assert record["error_info"] == ["TASK_CANCELLED", task]
    assert call(pool, "VM.get_power_state", vm)["result"] == "Halted"
    assert call(pool, "VM.get_current_operations", vm)["result"] == {}
    assert "start" in call(pool, "VM.get_allowed_operations", vm)["result"]


def test_a_failed_async_call_says_why_in_error_info(pool) -> None:
    vm = pool.vm("vm-0001")  # running
    task = call(pool, "Async.VM.start", vm, False, False)["result"]
    record = wait_task(pool, task)
    assert record["status"] == "failure"
    assert record["error_info"] == ["VM_BAD_POWER_STATE", vm, "halted", "running"]


@pytest.mark.parametrize("operation, expected", [
    ("clean_shutdown", "Halted"), ("hard_shutdown", "Halted"), ("clean_reboot", "Running"),
    ("hard_reboot", "Running"), ("suspend", "Suspended"), ("pause", "Paused")])
def test_running_vm_commands(pool, operation: str, expected: str) -> None:
    vm = pool.vm("vm-0002")
    domid = call(pool, "VM.get_domid", vm)["result"]
    assert call(pool, f"VM.{operation}", vm)["result"] == ""
    record = call(pool, "VM.get_record", vm)["result"]
    assert record["power_state"] == expected
    if expected == "Halted":
        assert record["resident_on"] == "OpaqueRef:NULL" and record["consoles"] == []
        assert record["domid"] == -1
        guest = call(pool, "VM_guest_metrics.get_record", record["guest_metrics"])["result"]
        assert guest["live"] is False and guest["networks"]["0/ip"] == "10.0.0.2"
    if operation.endswith("reboot"):
        assert record["domid"] != domid
    if expected == "Suspended":
        assert record["suspend_VDI"] in pool.sim.store.table("VDI")


def test_paused_and_suspended_vms_come_back(pool) -> None:
    paused, suspended = pool.vm("vm-0004"), pool.vm("vm-0005")
    assert call(pool, "VM.unpause", paused)["result"] == ""
    assert call(pool, "VM.resume", suspended, False, False)["result"] == ""
    for vm in (paused, suspended):
        assert call(pool, "VM.get_power_state", vm)["result"] == "Running"
    assert call(pool, "VM.get_suspend_VDI", suspended)["result"] == "OpaqueRef:NULL"


def test_refusals_are_xapis(pool) -> None:
    store = pool.sim.store
    template = store.find("VM", name_label="Debian Bookworm 12")[0]
    dom0 = next(r for r, v in store.table("VM").items() if v["is_control_domain"])
    halted = pool.vm("vm-0009")
    assert call(pool, "VM.start", template, False, False)["error"]["data"] == [template, "start"]
    assert call(pool, "VM.hard_shutdown", dom0)["error"]["message"] == "OPERATION_NOT_ALLOWED"
    assert call(pool, "VM.clean_shutdown", halted)["error"] == {
        "code": 1, "message": "VM_BAD_POWER_STATE", "data": [halted, "running", "halted"]}
    assert call(pool, "VM.start", "OpaqueRef:gone", False, False)["error"]["data"] == [
        "VM", "OpaqueRef:gone"]
    assert call(pool, "VM.no_such_call", halted)["error"]["message"] == "MESSAGE_METHOD_UNKNOWN"
    assert call(pool, "VM.get_record")["error"] == {
        "code": 1, "message": "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "data": ["VM.get_record", "2", "1"]}
    call(pool, "VM.add_to_blocked_operations", halted, "start", "maintenance")
    assert call(pool, "VM.start", halted, False, False)["error"]["message"] == \
        "OPERATION_BLOCKED"


def test_delete_with_disks(pool) -> None:
    vm = pool.vm("vm-0008")
    record = call(pool, "VM.get_record", vm)["result"]
    disks = [call(pool, "VBD.get_VDI", vbd)["result"] for vbd in record["VBDs"]
             if call(pool, "VBD.get_type", vbd)["result"] == "Disk"]
    assert call(pool, "VM.destroy", vm)["result"] == ""
    for vdi in disks:
        assert call(pool, "VDI.destroy", vdi)["result"] == ""
        assert call(pool, "VDI.get_record", vdi)["error"]["message"] == "HANDLE_INVALID"
    running_disk = call(pool, "VBD.get_VDI", call(pool, "VM.get_VBDs",
                                                  pool.vm("vm-0001"))["result"][0])["result"]
    assert "destroy" not in call(pool, "VDI.get_allowed_operations", running_disk)["result"]
    assert call(pool, "VDI.destroy", running_disk)["error"]["message"] == "VDI_IN_USE"
    call(pool, "VM.hard_shutdown", pool.vm("vm-0001"))
    assert "destroy" in call(pool, "VDI.get_allowed_operations", running_disk)["result"]


def test_host_maintenance_in_xapis_order(pool) -> None:
    hosts = call(pool, "host.get_all")["result"]
    master = pool.served[0].host  # stays up: the rebooted member is the other host
    busy = next(h for h in hosts
                if h != master and len(call(pool, "host.get_resident_VMs", h)["result"]) > 1)
    assert call(pool, "host.reboot", busy)["error"]["message"] == "HOST_NOT_DISABLED"
    assert call(pool, "host.disable", busy)["result"] == ""
    assert call(pool, "host.reboot", busy)["error"]["message"] == "HOST_IN_USE"
    pool.sim.options.op_seconds = 1.0
    task = call(pool, "Async.host.evacuate", busy)["result"]
    assert call(pool, "host.get_current_operations", busy)["result"] == {task: "evacuate"}
    assert wait_task(pool, task)["status"] == "success"
    assert call(pool, "host.get_current_operations", busy)["result"] == {}
    guests = [v for v in call(pool, "host.get_resident_VMs", busy)["result"]
              if not call(pool, "VM.get_is_control_domain", v)["result"]]
    assert guests == []
    assert call(pool, "host.reboot", busy)["result"] == ""
    other = next(h for h in hosts if h != busy)
    assert call(pool, "host.disable", other)["result"] == ""
    halted = pool.vm("vm-0009")
    assert call(pool, "VM.start_on", halted, other, False, False)["error"]["data"] == [other]


def test_a_rebooted_master_answers_nothing_then_forgets_its_sessions() -> None:
    with running_simulator(hosts=2, vms=10) as running:
        running.sim.hosts.reboot_seconds = 3.0  # long enough to find it down first
        client = JsonRpc(running.address)
        session = running.login(client)
        master = running.served[0].host
        assert client.call("host.disable", session, master)["result"] == ""
        assert client.call("host.evacuate", session, master)["result"] == ""
        assert client.call("host.reboot", session, master)["result"] == ""
        with pytest.raises(OSError):  # down: the connection is closed before TLS
            JsonRpc(running.address).call("pool.get_all", session)
        while True:
            try:
                reply = JsonRpc(running.address).call("pool.get_all", session)
                break
            except OSError:
                time.sleep(0.2)
        assert reply["error"]["message"] == "SESSION_INVALID"
        again = JsonRpc(running.address)
        session = running.login(again)
        assert again.call("host.get_enabled", session, master)["result"] is True
