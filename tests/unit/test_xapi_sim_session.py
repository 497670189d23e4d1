"""Logging in to the simulated pool: right and wrong passwords over XML-RPC (the official
XenAPI client too), JSON-RPC 2.0 and 1.0; sessions that are unknown, logged out or
expired; a pool member that answers HOST_IS_SLAVE with the master's address, and a
master change that a client has to follow."""
from __future__ import annotations

import time

import pytest
import XenAPI

from tests.xapi_sim_helpers import PASSWORD, JsonRpc, XmlRpc, running_simulator


@pytest.fixture(scope="module")
def pool():
    with running_simulator(hosts=2, vms=6, members=1) as running:
        yield running


def test_the_official_client_logs_in_and_reads_the_pool(pool) -> None:
    session = XenAPI.Session(f"https://{pool.address}", ignore_ssl=True)
    session.xenapi.login_with_password("root", PASSWORD, "2.21", "test")
    try:
        pools = session.xenapi.pool.get_all_records()
        (record,) = pools.values()
        master = session.xenapi.host.get_record(record["master"])
        assert master["name_label"] == "xapi-sim-host-0"
        assert master["address"] == pool.address
        assert master["API_version_major"] == "2", "XML-RPC sends ints as strings"
    finally:
        session.xenapi.session.logout()


def test_a_wrong_password_is_refused_in_every_protocol(pool) -> None:
    with pytest.raises(XenAPI.Failure) as failed:
        XenAPI.Session(f"https://{pool.address}", ignore_ssl=True).xenapi.login_with_password(
            "root", "wrong", "2.21", "test")
    assert failed.value.details == ["SESSION_AUTHENTICATION_FAILED", "root",
                                    "Authentication failure"]
    assert XmlRpc(pool.address).call("session.login_with_password", "nobody", "x") == {
        "Status": "Failure",
        "ErrorDescription": ["SESSION_AUTHENTICATION_FAILED", "nobody", "Authentication failure"]}
    reply = JsonRpc(pool.address).call("session.login_with_password", "root", "wrong")
    assert reply["error"] == {"code": 1, "message": "SESSION_AUTHENTICATION_FAILED",
                              "data": ["root", "Authentication failure"]}
    old = JsonRpc(pool.address, version="1.0").call("session.login_with_password", "root", "")
    assert old["result"] is None and old["error"][0] == "SESSION_AUTHENTICATION_FAILED"


def test_json_rpc_sends_numbers_and_keeps_the_id(pool) -> None:
    client = JsonRpc(pool.address)
    session = pool.login(client)
    reply = client.call("VM.get_record", session, pool.vm("vm-0001"))
    assert reply["jsonrpc"] == "2.0" and reply["id"] == client.next_id
    assert reply["result"]["memory_static_max"] == 2 << 30
    assert reply["result"]["power_state"] == "Running"


def test_unknown_and_logged_out_sessions_are_invalid(pool) -> None:
    client = JsonRpc(pool.address)
    assert client.call("VM.get_all", "OpaqueRef:nope")["error"]["message"] == "SESSION_INVALID"
    session = pool.login(client)
    assert client.call("session.logout", session)["result"] == ""
    reply = client.call("VM.get_all", session)
    assert reply["error"] == {"code": 1, "message": "SESSION_INVALID", "data": [session]}


def test_an_idle_session_expires() -> None:
    with running_simulator(hosts=1, vms=1, session_timeout=0.5) as running:
        client = JsonRpc(running.address)
        session = running.login(client)
        assert "result" in client.call("VM.get_all", session)
        time.sleep(0.8)
        assert client.call("VM.get_all", session)["error"]["message"] == "SESSION_INVALID"
        assert "result" in client.call("VM.get_all", running.login(client))


def test_a_member_points_to_the_master_and_a_new_master_is_followed() -> None:
    with running_simulator(hosts=3, vms=4, members=1) as running:
        master, member = running.served[0], running.served[1]
        assert member.role == "member"
        reply = JsonRpc(member.address).call("session.login_with_password", "root", PASSWORD)
        assert reply["error"]["message"] == "HOST_IS_SLAVE"
        assert reply["error"]["data"] == [master.address]

        client = JsonRpc(master.address)
        session = running.login(client)
        assert client.call("pool.designate_new_master", session, member.host)["result"] == ""
        time.sleep(0.5)
        assert client.call("VM.get_all", session)["error"]["message"] == "HOST_IS_SLAVE"
        again = JsonRpc(master.address).call("session.login_with_password", "root", PASSWORD)
        assert again["error"]["data"] == [member.address]
        new = JsonRpc(member.address)
        session = running.login(new)
        pool_ref = new.call("pool.get_all", session)["result"][0]
        assert new.call("pool.get_master", session, pool_ref)["result"] == member.host
