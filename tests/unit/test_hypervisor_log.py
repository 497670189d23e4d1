"""One row per thing that happened to a VM: libvirt's event sequences, as recorded from a
real QEMU guest under libvirt 9.0 (see wording.completes), folded into the Events log."""
from __future__ import annotations

import pytest

from app.events_log import EventsLog
from app.hypervisor_log import HypervisorRows
from connectors.libvirt.model import HypervisorEvent, ObjectKind
from connectors.libvirt.wording import domain_lifecycle

STARTED, RESUMED = domain_lifecycle(2, 0)[0], domain_lifecycle(4, 0)[0]
RESTORED, RESUMED_AFTER_RESTORE = domain_lifecycle(2, 2)[0], domain_lifecycle(4, 2)[0]
PAUSED, SAVED = domain_lifecycle(3, 0)[0], domain_lifecycle(5, 4)[0]
GUEST_SHUTDOWN, SHUT_DOWN = domain_lifecycle(6, 1)[0], domain_lifecycle(5, 0)[0]
HOST_SHUTDOWN, FORCED_OFF = domain_lifecycle(6, 2)[0], domain_lifecycle(5, 1)[0]


def log_events(messages, vm="web", window_s=10.0):
    log = EventsLog()
    rows = HypervisorRows(log, window_s=window_s)
    for message in messages:
        if message == "--later--":
            rows.window_s = -1.0    # as if the next event came long after
            continue
        event = HypervisorEvent(ObjectKind.VM, f"uuid-{vm}", vm, message)
        rows.record("conn-1", event, f"kvm1 » {vm}", f"VM {vm}: {message}")
        rows.window_s = window_s
    return [log.index(r, 3).data() for r in reversed(range(log.rowCount()))]


@pytest.mark.parametrize("sequence, shown", [
    ([RESUMED, STARTED], ["Started (booted)"]),                 # QEMU: CPUs start paused
    ([STARTED, RESUMED], ["Started (booted)"]),
    ([RESTORED, RESUMED_AFTER_RESTORE], ["Started (restored)"]),
    ([GUEST_SHUTDOWN, SHUT_DOWN], ["Stopped (shut down)"]),
    ([HOST_SHUTDOWN, FORCED_OFF], ["Stopped (forced off)"]),
    ([PAUSED, SAVED], ["Stopped (saved)"]),                     # managed save
    (["Rebooted", "Rebooted", "Rebooted"], ["Rebooted"]),        # one ACPI reboot
    ([PAUSED, RESUMED], ["Paused (by the user)", "Resumed (unpaused)"]),
    ([STARTED, PAUSED, RESUMED],
     ["Started (booted)", "Paused (by the user)", "Resumed (unpaused)"]),
    ([STARTED, "--later--", RESUMED], ["Started (booted)", "Resumed (unpaused)"]),
    ([GUEST_SHUTDOWN, "--later--", SHUT_DOWN],
     ["Shutting down (by the guest)", "Stopped (shut down)"]),
])
def test_events_that_complete_the_one_before_share_its_row(qapp, sequence, shown):
    assert log_events(sequence) == [f"VM web: {m}" for m in shown]


def test_other_vms_and_networks_are_never_folded(qapp):
    log = EventsLog()
    rows = HypervisorRows(log)
    rows.record("c", HypervisorEvent(ObjectKind.VM, "a", "a", STARTED), "h » a", "a started")
    rows.record("c", HypervisorEvent(ObjectKind.VM, "b", "b", RESUMED), "h » b", "b resumed")
    for _ in range(2):
        rows.record("c", HypervisorEvent(ObjectKind.NETWORK, "n", "lan",
                                         "Network lan started"), "h » lan",
                    "Network lan started")
    assert log.rowCount() == 4
