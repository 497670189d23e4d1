"""A pool's own alerts (XAPI messages) in the Alerts list and the Events log, against
scripts/xapi-simulator.py as its own process (real TLS, real JSON-RPC; no real pool can
run here). The messages are made by another XenAPI client, as xapi, an admin's
``xe message-create`` or a monitoring script would."""
from __future__ import annotations

import signal
from typing import Any

import pytest

from app.perf.alerts import AlertsModel
from app.server_alerts import PoolAlert, ServerAlerts
from app.tasks import TaskState
from connectors.libvirt.model import ConnState, ObjectKind, VMState
from tests.conftest import wait_until
from tests.integration.test_xapi_pool import (Human, connect, outside_session, pinned,
                                              pool_stack, sim)  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration]


def alerts_stack(tmp_path) -> Any:
    stack = pool_stack(tmp_path, Human())
    stack.alerts = AlertsModel()
    stack.server_alerts = ServerAlerts(stack.manager, stack.alerts, stack.tasks)
    return stack


def listed(stack) -> list[PoolAlert]:
    return [a for a in stack.alerts.alerts() if isinstance(a, PoolAlert)]


def shown(stack, row: int) -> list[str]:
    model = stack.alerts
    return [model.index(row, column).data() for column in range(model.columnCount())]


def test_a_message_from_outside_is_listed_and_logged_and_dismiss_destroys_it(
        qapp, aloop, tmp_path, sim):  # noqa: F811 - the fixture
    admin = outside_session(sim)
    pool_name = admin.call("pool.get_name_label", admin.call("pool.get_all")[0])
    # One the pool held before we connected: listed on connect, not logged as new.
    admin.call("message.create", "HA_POOL_OVERCOMMITTED", 3, "Pool", "", "too few hosts")
    stack = alerts_stack(tmp_path)
    notified: list[PoolAlert] = []      # what the desktop notification is given
    stack.server_alerts.alertRaised.connect(notified.append)
    conn_id = connect(aloop, stack, pinned(sim))
    aloop.run_until_complete(wait_until(lambda: len(listed(stack)) == 1, 10))
    assert shown(stack, 0)[1:] == [pool_name, "HA pool overcommitted: too few hosts",
                                   "Service degraded"]
    assert not [e for e in stack.events_log.entries() if "too few hosts" in e.message]

    vm = next(v for v in stack.manager.pool(conn_id).vms() if v.state is VMState.RUNNING)
    admin.call("message.create", "VM_CRASHED", 2, "VM", vm.key, "the guest stopped")
    aloop.run_until_complete(wait_until(lambda: len(listed(stack)) == 2, 10))
    crashed = listed(stack)[0]
    assert shown(stack, 0)[1:] == [vm.name, "VM crashed: the guest stopped",
                                   "Service-loss imminent"]
    assert crashed.alert.kind is ObjectKind.VM and crashed.severity == "error"
    assert stack.alerts.firing_count() == 2
    [logged] = [e for e in stack.events_log.entries() if "the guest stopped" in e.message]
    assert logged.severity == "error" and vm.name in logged.source

    # Informational messages are listed but are not "firing".
    admin.call("message.create", "VM_STARTED", 5, "VM", vm.key, "")
    aloop.run_until_complete(wait_until(lambda: len(listed(stack)) == 3, 10))
    assert shown(stack, 0)[2:] == ["VM started", "Informational"]
    assert stack.alerts.firing_count() == 2
    # Only the new alert at service-degraded priority or worse made a notification.
    assert [a.alert.name for a in notified] == ["VM_CRASHED"]

    # Dismiss: a Task that destroys the message on the pool; the row goes with the event.
    on_server = set(admin.call("message.get_all"))
    stack.alerts.dismiss([1])
    [task] = [t for t in stack.tasks.active()]
    assert task.title == "Dismissing alert \u201cVM crashed\u201d"
    aloop.run_until_complete(wait_until(lambda: task.done, 10))
    assert task.state is TaskState.SUCCEEDED, task.summary
    aloop.run_until_complete(wait_until(lambda: len(listed(stack)) == 2, 10))
    assert "VM crashed: the guest stopped" not in [a.message for a in listed(stack)]
    assert len(set(admin.call("message.get_all"))) == len(on_server) - 1
    assert stack.alerts.firing_count() == 1

    # Dismiss all: one Task for the pool's two.
    stack.alerts.dismiss_all()
    aloop.run_until_complete(wait_until(lambda: not listed(stack), 10))
    assert admin.call("message.get_all") == []
    admin.logout()
    aloop.run_until_complete(stack.close())


def test_a_dismissal_the_pool_cannot_take_fails_and_the_alert_stays(
        qapp, aloop, tmp_path, sim):  # noqa: F811 - the fixture
    admin = outside_session(sim)
    admin.call("message.create", "HOST_CLOCK_SKEW_DETECTED", 3, "Host",
               admin.call("host.get_uuid", admin.call("host.get_all")[0]), "skew 90 s")
    admin.logout()
    stack = alerts_stack(tmp_path)
    conn_id = connect(aloop, stack, pinned(sim))
    aloop.run_until_complete(wait_until(lambda: len(listed(stack)) == 1, 10))
    assert listed(stack)[0].name == "xapi-sim-host-0"
    sim.process.send_signal(signal.SIGKILL)
    sim.process.wait(10)
    aloop.run_until_complete(wait_until(
        lambda: stack.manager.state(conn_id)[0] is ConnState.RECONNECTING, 40))
    assert len(listed(stack)) == 1, "the pool still holds it while we reconnect"
    [task] = stack.server_alerts.dismiss(listed(stack))
    aloop.run_until_complete(wait_until(lambda: task.done, 10))
    assert task.state is TaskState.FAILED
    assert "not connected" in task.error
    assert len(listed(stack)) == 1
    [row] = [e for e in stack.events_log.entries() if "Dismissing alert" in e.message]
    assert row.severity == "error" and "not connected" in row.message
    # Disconnecting takes the pool's alerts out of the list.
    aloop.run_until_complete(stack.manager.disconnect_server(conn_id))
    assert not listed(stack)
    aloop.run_until_complete(stack.close())
