"""XenAPI's wire formats as a server may send them: JSON-RPC and XML-RPC responses, the
rrd_updates xport, xapi:// addresses. Well-formed answers give their values or XAPI's
error codes; anything else (fuzzed bytes, broken structures) ends in ProtocolError or
XportError, never another exception."""
from __future__ import annotations

import json
import math
import xmlrpc.client

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.xapi import wire, xport
from connectors.xapi.uri import is_xapi_uri, parse

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                 inner, max_size=4),
    max_leaves=20)


# ---- JSON-RPC ----

def test_a_result_is_its_value():
    body = json.dumps({"jsonrpc": "2.0", "result": "OpaqueRef:abc", "id": 1}).encode()
    assert wire.parse_json_response(body) == "OpaqueRef:abc"


def test_a_v2_error_is_the_xapi_failure_with_its_parameters():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {
        "code": 1, "message": "HOST_IS_SLAVE", "data": ["10.0.0.2"]}}).encode()
    with pytest.raises(wire.XapiFailure) as caught:
        wire.parse_json_response(body)
    assert (caught.value.code, caught.value.params) == ("HOST_IS_SLAVE", ["10.0.0.2"])
    assert "pool member" in str(caught.value)


def test_a_v1_error_list_is_the_xapi_failure():
    body = json.dumps({"result": None, "id": 1, "error": [
        "SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]}).encode()
    with pytest.raises(wire.XapiFailure) as caught:
        wire.parse_json_response(body)
    assert caught.value.code == "SESSION_AUTHENTICATION_FAILED"
    assert caught.value.params == ["root", "Authentication failure"]


@pytest.mark.parametrize("body", [b"", b"[]", b"{}", b"not json", b'{"error": {}}',
                                  b'{"error": [1, 2]}', b'{"result": 1, "error": ["X"]}'])
def test_what_is_not_a_response_is_a_protocol_error(body):
    with pytest.raises(wire.ProtocolError):
        wire.parse_json_response(body)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzzed_bytes_give_a_value_or_a_protocol_error(data):
    try:
        wire.parse_json_response(data)
    except (wire.ProtocolError, wire.XapiFailure):
        pass


@FUZZ
@given(st.dictionaries(st.sampled_from(["jsonrpc", "result", "error", "id", "x"]),
                       json_values, max_size=4))
def test_fuzzed_json_structures_give_a_value_or_a_known_error(doc):
    try:
        wire.parse_json_response(json.dumps(doc).encode())
    except wire.XapiFailure as failure:
        assert failure.code and isinstance(failure.code, str)
    except wire.ProtocolError:
        pass


# ---- XML-RPC ----

def _xmlrpc(value) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True).encode()


def test_an_xmlrpc_success_is_its_value():
    assert wire.parse_xmlrpc_response(_xmlrpc({"Status": "Success", "Value": ["a"]})) == ["a"]


def test_an_xmlrpc_failure_is_the_xapi_failure():
    body = _xmlrpc({"Status": "Failure",
                    "ErrorDescription": ["VM_BAD_POWER_STATE", "OpaqueRef:x", "halted",
                                         "running"]})
    with pytest.raises(wire.XapiFailure) as caught:
        wire.parse_xmlrpc_response(body)
    assert caught.value.code == "VM_BAD_POWER_STATE"
    assert caught.value.params[1:] == ["halted", "running"]


@FUZZ
@given(st.binary(max_size=300))
def test_fuzzed_xmlrpc_bytes_give_a_value_or_a_protocol_error(data):
    try:
        wire.parse_xmlrpc_response(data)
    except (wire.ProtocolError, wire.XapiFailure):
        pass


@FUZZ
@given(st.dictionaries(st.sampled_from(["Status", "Value", "ErrorDescription", "x"]),
                       st.none() | st.text(max_size=10) | st.lists(st.text(max_size=5),
                                                                   max_size=3),
                       max_size=3))
def test_fuzzed_xmlrpc_structs_give_a_value_or_a_known_error(doc):
    try:
        body = _xmlrpc({k: v for k, v in doc.items() if v is not None})
    except TypeError:
        return
    try:
        wire.parse_xmlrpc_response(body)
    except (wire.ProtocolError, wire.XapiFailure):
        pass


# ---- xport ----

XPORT = b"""<xport><meta><start>1000</start><step>5</step><end>1010</end><rows>2</rows>
<columns>2</columns><legend><entry>AVERAGE:vm:u-1:cpu0</entry>
<entry>AVERAGE:host:h-1:memory_free_kib</entry></legend></meta>
<data><row><t>1010</t><v>0.5</v><v>NaN</v></row><row><t>1005</t><v>0.25</v><v>2048</v></row>
</data></xport>"""


def test_xport_columns_and_series_oldest_first():
    doc = xport.parse(XPORT)
    assert (doc.start, doc.step, doc.end) == (1000, 5, 1010)
    assert doc.columns[0] == xport.Column("AVERAGE", "vm", "u-1", "cpu0")
    assert doc.series("vm", "u-1", "cpu0") == [(1005, 0.25), (1010, 0.5)]
    assert doc.series("host", "h-1", "memory_free_kib") == [(1005, 2048.0)]
    assert math.isnan(doc.rows[0][1][1])


@pytest.mark.parametrize("body", [b"", b"<x/>", b"<xport/>", b"<xport><meta/></xport>",
                                  XPORT.replace(b"<v>2048</v>", b""),
                                  XPORT.replace(b"0.25", b"much"),
                                  XPORT.replace(b"AVERAGE:vm:u-1:cpu0", b"cpu0")])
def test_broken_xport_is_an_xport_error(body):
    with pytest.raises(xport.XportError):
        xport.parse(body)


@FUZZ
@given(st.binary(max_size=400))
def test_fuzzed_xport_bytes_parse_or_raise_xport_error(data):
    try:
        xport.parse(data)
    except xport.XportError:
        pass


@FUZZ
@given(st.lists(st.sampled_from([b"<xport>", b"</xport>", b"<meta>", b"</meta>",
                                 b"<step>5</step>", b"<start>1</start>", b"<end>2</end>",
                                 b"<legend>", b"</legend>",
                                 b"<entry>AVERAGE:vm:u:cpu0</entry>", b"<data>", b"</data>",
                                 b"<row>", b"</row>", b"<t>3</t>", b"<v>1.5</v>",
                                 b"<v>NaN</v>", b"<t>x</t>", b"<step>0</step>"]),
                max_size=30))
def test_fuzzed_xport_structures_parse_or_raise_xport_error(parts):
    try:
        xport.parse(b"".join(parts))
    except xport.XportError:
        pass


# ---- addresses ----

def test_xapi_uri_normal_form_and_pin():
    pin = "SHA256:" + "A" * 43
    target = parse(f"xapi://root@Pool1.example:8443?fingerprint={pin}")
    assert (target.host, target.port, target.user) == ("pool1.example", 8443, "root")
    assert target.fingerprint == pin
    assert target.uri == f"xapi://root@pool1.example:8443?fingerprint={pin}"
    assert parse("xapi://h").uri == "xapi://h" and parse("xapi://h").port == 443
    assert is_xapi_uri("XAPI://h")


def test_a_hex_fingerprint_is_normalised_to_sha256_base64():
    hex_pin = ":".join(["AB"] * 32)
    assert parse(f"xapi://h?fingerprint={hex_pin}").fingerprint.startswith("SHA256:q6ur")


@pytest.mark.parametrize("uri", ["xapi://", "xapi://h/path", "xapi://h?x=1",
                                 "xapi://h?fingerprint=SHA256:short", "xapi://u:pw@h",
                                 "xapi://h:0", "xapi://h:99999"])
def test_bad_xapi_uris_are_refused_with_a_sentence(uri):
    with pytest.raises(ValueError):
        parse(uri)
