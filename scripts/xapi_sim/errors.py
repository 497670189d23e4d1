"""XenAPI failures: a code and its parameters, as the reference documents each error
(the client sees ["CODE", "param", ...] in XML-RPC's ErrorDescription, or JSON-RPC's
error.message and error.data)."""
from __future__ import annotations


class Failure(Exception):
    """A documented XenAPI error; raised anywhere in a call, sent back as the reply."""

    def __init__(self, code: str, *params: object) -> None:
        super().__init__(code, *params)
        self.code = code
        self.params = [str(p) for p in params]

    @property
    def description(self) -> list[str]:
        return [self.code, *self.params]
