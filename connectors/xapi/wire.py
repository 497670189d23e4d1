"""XenAPI on the wire: JSON-RPC requests out, JSON-RPC or XML-RPC responses in.

HVConsole speaks JSON-RPC to XAPI (``POST /jsonrpc``): the payloads are plain JSON, which
the standard library parses in C, where XML-RPC would cost an expat pass and a type tag per
value on 5,000-VM ``get_all_records`` answers. XML-RPC responses are still read (the
``{"Status": …, "Value"|"ErrorDescription": …}`` struct every XAPI XML-RPC call returns),
since that is the protocol older servers and dumps use.

A response is either a value or an XAPI failure: ``XapiFailure(code, params)`` with XAPI's
own error code (SESSION_INVALID, HOST_IS_SLAVE, VM_BAD_POWER_STATE, …). Anything else
(not JSON, not an object, a result and an error at once) is a ``ProtocolError``: the parser
never guesses, and never raises anything but these two for any bytes a server sends.
"""
from __future__ import annotations

import json
import xml.parsers.expat
import xmlrpc.client
from typing import Any


class ProtocolError(Exception):
    """The server's answer is not a XenAPI response; worded for the user."""


class XapiFailure(Exception):
    """XAPI refused a call: ``code`` is its error name, ``params`` the details it gave."""

    def __init__(self, code: str, params: list[str] | None = None) -> None:
        self.code = code
        self.params = list(params or [])
        super().__init__(describe_failure(code, self.params))


# What a user reads for the codes HVConsole meets most; others keep XAPI's words.
_WORDS = {
    "SESSION_AUTHENTICATION_FAILED": "the user name or password was not accepted",
    "SESSION_INVALID": "the session expired",
    "HOST_IS_SLAVE": "this host is a pool member, not the pool master",
    "VM_BAD_POWER_STATE": "the VM is not in a state that allows it",
    "OPERATION_NOT_ALLOWED": "the operation is not allowed now",
    "HANDLE_INVALID": "the object no longer exists",
    "MESSAGE_METHOD_UNKNOWN": "the server does not know this call",
    "TASK_CANCELLED": "cancelled",
    "HOST_NOT_ENOUGH_FREE_MEMORY": "the host has not enough free memory",
    "NO_HOSTS_AVAILABLE": "no host of the pool can run it",
    "EVENTS_LOST": "events were lost",
}


def describe_failure(code: str, params: list[str]) -> str:
    words = _WORDS.get(code)
    details = ", ".join(str(p) for p in params if p)
    if words is None:
        return f"{code}: {details}" if details else code
    return f"{words[0].upper()}{words[1:]} ({code}{': ' + details if details else ''})"


def encode_request(method: str, params: list[Any], request_id: int) -> bytes:
    """One JSON-RPC 2.0 call, as XAPI's /jsonrpc endpoint takes it."""
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params,
                       "id": request_id}, separators=(",", ":")).encode()


def parse_json_response(body: bytes) -> Any:
    """The value of a JSON-RPC (1.0 or 2.0) response, or XapiFailure / ProtocolError."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"the server's answer is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ProtocolError("the server's answer is not a JSON-RPC response")
    error = doc.get("error")
    if error is not None:
        if "result" in doc and doc["result"] is not None:
            raise ProtocolError("the server's answer holds both a result and an error")
        raise _failure_of(error)
    if "result" not in doc:
        raise ProtocolError("the server's answer holds neither a result nor an error")
    return doc["result"]


def _failure_of(error: object) -> XapiFailure:
    # 2.0: {"code": n, "message": "HOST_IS_SLAVE", "data": ["10.0.0.2"]}
    if isinstance(error, dict):
        message = error.get("message")
        data = error.get("data")
        if isinstance(message, str) and message:
            return XapiFailure(message, _strings(data))
        raise ProtocolError("the server's error has no error code")
    # 1.0 and XML-RPC style: ["HOST_IS_SLAVE", "10.0.0.2"]
    if isinstance(error, list) and error and isinstance(error[0], str) and error[0]:
        return XapiFailure(error[0], _strings(error[1:]))
    raise ProtocolError("the server's error is not in XenAPI's form")


def _strings(data: object) -> list[str]:
    if data is None:
        return []
    if isinstance(data, list):
        return [p if isinstance(p, str) else json.dumps(p) for p in data]
    return [data if isinstance(data, str) else json.dumps(data)]


def parse_xmlrpc_response(body: bytes) -> Any:
    """The value of an XML-RPC XenAPI response (``Status``/``Value``/``ErrorDescription``)."""
    try:
        (result,), _method = xmlrpc.client.loads(body, use_builtin_types=True)
    except xmlrpc.client.Fault as fault:
        raise ProtocolError(f"the server answered with an XML-RPC fault: "
                            f"{fault.faultString}") from None
    except (ValueError, TypeError, IndexError, AttributeError, KeyError, OverflowError,
            xml.parsers.expat.ExpatError, xmlrpc.client.ResponseError) as exc:
        raise ProtocolError(f"the server's answer is not XML-RPC ({exc})") from None
    if not isinstance(result, dict) or "Status" not in result:
        raise ProtocolError("the server's XML-RPC answer has no Status")
    if result["Status"] == "Success":
        if "Value" not in result:
            raise ProtocolError("the server's XML-RPC answer has no Value")
        return result["Value"]
    if result["Status"] == "Failure":
        description = result.get("ErrorDescription")
        if isinstance(description, list) and description and \
                isinstance(description[0], str) and description[0]:
            return_failure = XapiFailure(description[0], _strings(description[1:]))
            raise return_failure
        raise ProtocolError("the server's XML-RPC failure has no error code")
    raise ProtocolError(f"the server's XML-RPC answer has an unknown Status "
                        f"{result['Status']!r}")
