"""The simulator's request decoding never falls over: any body gives a call or a
documented error reply (XMLRPC_UNMARSHAL_FAILURE, JSON-RPC's parse error), and a
call's reply always has XenAPI's envelope. Fuzzed with hypothesis, and tried on the
running server with broken requests."""
from __future__ import annotations

import json
import ssl
import socket
import xmlrpc.client

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.xapi_sim_helpers import JsonRpc, insecure_context, running_simulator
from xapi_sim import wire
from xapi_sim.errors import Failure
from xapi_sim.schema import DateTime


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_any_body_decodes_or_gets_an_error_reply(body: bytes, json_path: bool) -> None:
    try:
        call = wire.decode(body, json_path)
    except wire.BadRequest as bad:
        if bad.content_type == "text/xml":
            (reply,), _ = xmlrpc.client.loads(bad.reply)
            assert reply["Status"] == "Failure"
        else:
            assert json.loads(bad.reply)["error"]["code"] in (-32700, -32600)
    else:
        assert isinstance(call.method, str) and isinstance(call.params, list)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=10)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3), max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), st.lists(values, max_size=4))
def test_json_calls_round_trip(method: str, params: list) -> None:
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 7})
    call = wire.decode(body.encode(), json_path=True)
    assert (call.method, call.params, call.id) == (method, params, 7)
    reply, _ = wire.encode(call, failure=Failure("HANDLE_INVALID", "VM", "x"))
    assert json.loads(reply)["error"]["data"] == ["VM", "x"]


def test_xml_rpc_ints_are_strings_and_dates_are_dates() -> None:
    call = wire.Call("VM.get_record", [], "xmlrpc")
    body, content_type = wire.encode(call, {"domid": -1, "memory": 1 << 40, "up": True,
                                            "when": DateTime("20261203T01:02:03Z")})
    (reply,), _ = xmlrpc.client.loads(body)
    assert content_type == "text/xml"
    assert reply["Value"]["domid"] == "-1" and reply["Value"]["memory"] == str(1 << 40)
    assert reply["Value"]["up"] is True
    assert reply["Value"]["when"].value == "20261203T01:02:03Z"


def test_broken_requests_on_the_wire_get_answers() -> None:
    with running_simulator(hosts=1, vms=1) as running:
        client = JsonRpc(running.address)
        assert client.raw(b"{not json")["error"]["code"] == -32700
        assert client.raw(b'{"jsonrpc": "2.0", "params": 3}')["error"]["code"] == -32600
        client.conn.request("POST", "/", b"<methodCall><broken", {"Content-Type": "text/xml"})
        (reply,), _ = xmlrpc.client.loads(client.conn.getresponse().read())
        assert reply["ErrorDescription"][0] == "XMLRPC_UNMARSHAL_FAILURE"
        host, port = running.address.split(":")
        with socket.create_connection((host, int(port))) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")  # no TLS: dropped, server unharmed
            plain.settimeout(10)
            try:
                plain.recv(100)
            except (ConnectionError, socket.timeout):
                pass
        with socket.create_connection((host, int(port))) as raw:
            with insecure_context().wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")
                assert b" 413 " in tls.recv(200)
        assert running.login(JsonRpc(running.address)).startswith("OpaqueRef:")
        assert ssl.OPENSSL_VERSION
