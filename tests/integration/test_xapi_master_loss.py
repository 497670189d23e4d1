"""A pool whose master dies outright (the simulator's process killed: no answer, no
HOST_IS_SLAVE, nothing), then comes back with the member promoted, as an administrator
does with `xe pool-emergency-transition-to-master` (the simulator's --master). The pool
says it is reconnecting meanwhile, then follows the new master by the member's address
it learned from the pool, with the same rows, and goes on receiving events from there."""
from __future__ import annotations

import signal

import pytest

from connectors.libvirt.model import ConnState, VMState
from connectors.xapi.session import PinBook, Session
from connectors.xapi.uri import normalise_fingerprint
from tests.conftest import wait_until
from tests.integration.test_xapi_pool import (Human, connect, pinned, pool_stack,
                                              sim)  # noqa: F401 - the fixture
from tests.xapi_sim_helpers import PASSWORD, start_process

pytestmark = [pytest.mark.integration]


def test_a_killed_master_is_followed_to_the_member_promoted_in_its_place(
        qapp, aloop, tmp_path, sim):  # noqa: F811 - the fixture
    stack = pool_stack(tmp_path, Human())
    conn_id = connect(aloop, stack, pinned(sim))
    pool = stack.manager.pool(conn_id)
    member = next(s for s in pool.servers() if not s.is_master)
    keys_before = sorted(v.key for v in stack.inventory.vms(conn_id))
    member_address = sim.lines["member"]["address"]

    sim.process.send_signal(signal.SIGKILL)
    sim.process.wait(10)
    aloop.run_until_complete(wait_until(
        lambda: stack.manager.state(conn_id)[0] is ConnState.RECONNECTING, 40))
    stack.inventory.flush()
    state_text = stack.inventory.index_of(conn_id, conn_id, 1).data()
    assert "Reconnecting" in state_text, state_text
    assert "Lost the connection to the pool master" in stack.manager.state(conn_id)[1]
    assert len(stack.inventory.vms(conn_id)) == len(keys_before), "the rows stay meanwhile"

    # The member comes back as the master, at its own address; the old one stays dead.
    port = member_address.rsplit(":", 1)[1]
    promoted = start_process(tmp_path / "pool.db", "--listen", f"127.0.0.1:{port}",
                             "--master", member.name, "--cert", str(tmp_path / "sim.pem"))
    try:
        aloop.run_until_complete(wait_until(
            lambda: stack.manager.state(conn_id)[0] is ConnState.CONNECTED, 60))
        stack.inventory.flush()
        assert f"{pool.session.host}:{pool.session.port}" == member_address
        assert stack.inventory.node(conn_id, member.key).obj.is_master
        assert sorted(v.key for v in stack.inventory.vms(conn_id)) == keys_before

        there = Session("127.0.0.1", int(port), "root", PASSWORD, PinBook(
            {member_address: normalise_fingerprint(promoted.fingerprint)}))
        there.login()
        vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
                  and not v.is_control_domain)
        there.call("VM.pause", there.call("VM.get_by_uuid", vm.key))
        aloop.run_until_complete(wait_until(
            lambda: stack.inventory.node(conn_id, vm.key).obj.state is VMState.PAUSED, 20))
        there.logout()
        aloop.run_until_complete(stack.close())
    finally:
        promoted.stop()
