"""event.from on the simulator: the first call (token "") lists every object, a token
brings only what changed since, an idle wait ends at its timeout with no events, a
change made by another client wakes a waiting caller, deletions come as "del", and
messages (XAPI's alerts) are events too."""
from __future__ import annotations

import threading

import pytest

from tests.xapi_sim_helpers import JsonRpc, running_simulator


@pytest.fixture
def pool():
    with running_simulator(hosts=2, vms=10) as running:
        yield running


def events(client: JsonRpc, session: str, classes: list[str], token: str, timeout: float):
    reply = client.call("event.from", session, classes, token, timeout)
    assert "result" in reply, reply
    return reply["result"]


def test_the_first_call_lists_everything_then_only_changes(pool) -> None:
    client = JsonRpc(pool.address)
    session = pool.login(client)
    first = events(client, session, ["VM", "host"], "", 30.0)
    vms = [e for e in first["events"] if e["class"] == "vm"]
    assert len(vms) == len(pool.sim.store.table("VM"))
    assert {e["operation"] for e in first["events"]} == {"add"}
    assert first["valid_ref_counts"]["host"] == 2
    idle = events(client, session, ["VM", "host"], first["token"], 0.3)
    assert idle["events"] == [] and idle["token"] >= first["token"]


def test_a_vm_started_by_another_client_wakes_the_watcher(pool) -> None:
    watcher = JsonRpc(pool.address)
    session = pool.login(watcher)
    token = events(watcher, session, ["vm"], "", 30.0)["token"]
    vm = pool.vm("vm-0007")
    other = JsonRpc(pool.address)
    other_session = pool.login(other)
    starter = threading.Thread(target=other.call, args=("VM.start", other_session, vm, False,
                                                        False))
    starter.start()
    seen: list[str] = []
    while "Running" not in seen:
        batch = events(watcher, session, ["vm"], token, 30.0)
        assert batch["events"], "a 30 s wait ended without the change"
        token = batch["token"]
        seen += [e["snapshot"]["power_state"] for e in batch["events"] if e["ref"] == vm]
    starter.join()
    assert seen[-1] == "Running"


def test_deletions_and_messages_are_events(pool) -> None:
    client = JsonRpc(pool.address)
    session = pool.login(client)
    token = events(client, session, ["vm", "message"], "", 1.0)["token"]
    vm = pool.vm("vm-0008")
    assert client.call("VM.destroy", session, vm)["result"] == ""
    host_uuid = next(iter(pool.sim.store.table("host").values()))["uuid"]
    message = client.call("message.create", session, "HA_POOL_OVERCOMMITTED", 3, "Host",
                          host_uuid, "the pool is overcommitted")["result"]
    batch = events(client, session, ["vm", "message"], token, 1.0)
    by_ref = {e["ref"]: e for e in batch["events"]}
    assert by_ref[vm]["operation"] == "del"
    assert by_ref[message]["operation"] == "add"
    assert by_ref[message]["snapshot"]["name"] == "HA_POOL_OVERCOMMITTED"
    since = client.call("message.get_since", session, "20000101T00:00:00Z")["result"]
    assert since[message]["priority"] == 3 and since[message]["obj_uuid"] == host_uuid


def test_a_bad_token_is_refused(pool) -> None:
    client = JsonRpc(pool.address)
    session = pool.login(client)
    reply = client.call("event.from", session, ["vm"], "not-a-token", 1.0)
    assert reply["error"]["message"] == "EVENT_FROM_TOKEN_PARSE_FAILURE"


def test_every_class_or_one_object(pool) -> None:
    client = JsonRpc(pool.address)
    session = pool.login(client)
    everything = events(client, session, ["*"], "", 1.0)
    classes = {e["class"] for e in everything["events"]}
    assert {"vm", "host", "pool", "sr", "network", "vbd", "vdi", "vif", "pbd"} <= classes
    watched, other = pool.vm("vm-0006"), pool.vm("vm-0009")
    token = everything["token"]
    assert client.call("VM.set_name_description", session, other, "not watched")["result"] == ""
    assert client.call("VM.set_name_description", session, watched, "watched")["result"] == ""
    batch = events(client, session, [f"vm/{watched}"], token, 1.0)
    assert [(e["ref"], e["snapshot"]["name_description"]) for e in batch["events"]] == [
        (watched, "watched")]


def test_forgotten_history_answers_events_lost_even_to_a_waiting_caller(pool) -> None:
    client = JsonRpc(pool.address)
    session = pool.login(client)
    token = events(client, session, ["vm"], "", 1.0)["token"]
    answers: list[dict] = []
    waiter = threading.Thread(target=lambda: answers.append(
        client.call("event.from", session, ["vm"], token, 30.0)))
    waiter.start()
    # The waiter is inside its 30 s wait (or about to be): either way it must be told.
    pool.sim.store.forget_history()
    waiter.join(30)
    assert answers and answers[0]["error"]["message"] == "EVENTS_LOST", answers
    # A fresh snapshot's token is good again.
    fresh = events(client, session, ["vm"], "", 1.0)
    assert fresh["events"]
    assert events(client, session, ["vm"], fresh["token"], 0.2)["events"] == []


def test_the_command_line_makes_a_member_the_master(tmp_path) -> None:
    from tests.xapi_sim_helpers import start_process
    db = tmp_path / "pool.db"
    first = start_process(db, "--generate-pool", "2,2")
    first.stop()
    again = start_process(db, "--master", "xapi-sim-host-1", "--no-save")
    try:
        client = JsonRpc(again.address)
        reply = client.call("session.login_with_password", "root", "xenroot", "2.21", "t")
        session = reply["result"]
        pool_ref = client.call("pool.get_all", session)["result"][0]
        master = client.call("pool.get_master", session, pool_ref)["result"]
        assert client.call("host.get_name_label", session, master)["result"] == \
            "xapi-sim-host-1"
        assert client.call("host.get_address", session, master)["result"] == again.address
    finally:
        again.stop()


def test_sigusr1_makes_the_simulator_process_forget_its_history(tmp_path) -> None:
    import signal

    from tests.xapi_sim_helpers import start_process
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "1,2", "--no-save")
    try:
        client = JsonRpc(sim.address)
        session = client.call("session.login_with_password", "root", "xenroot", "2.21",
                              "t")["result"]
        token = events(client, session, ["vm"], "", 1.0)["token"]
        sim.process.send_signal(signal.SIGUSR1)
        reply = client.call("event.from", session, ["vm"], token, 30.0)
        assert reply["error"]["message"] == "EVENTS_LOST", reply
    finally:
        sim.stop()
