"""What a console connection is doing, in the words the overlay shows."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class ConsoleState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    VM_NOT_RUNNING = "vm-not-running"
    DISCONNECTED = "disconnected"
    # There is no console to show, and trying again will not make one (the hypervisor
    # driver has none, the VM has no display): the reason says why, no Reconnect.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ConsoleStatus:
    state: ConsoleState
    reason: str = ""  # a sentence for DISCONNECTED (and for why a VM cannot be shown)

    @property
    def text(self) -> str:
        if self.state is ConsoleState.CONNECTING:
            return "Connecting to the console…"
        if self.state is ConsoleState.VM_NOT_RUNNING:
            return "The VM is not running."
        if self.state is ConsoleState.DISCONNECTED:
            return f"Disconnected: {self.reason}" if self.reason else "Disconnected."
        if self.state is ConsoleState.UNAVAILABLE:
            return self.reason or "There is no console to show."
        return ""


class ConsoleError(Exception):
    """A console connection failed; the message is a sentence for the user."""


class ConsoleUnavailable(ConsoleError):
    """There is no console to open here, and retrying cannot change that (the target's
    hypervisor driver has no graphical console, the VM has no display this client
    shows); the message says why, for the user."""


class ProtocolError(ConsoleError):
    """The server sent something the protocol does not allow (or sizes we refuse)."""


class AuthenticationError(ConsoleError):
    """The server refused the password (or wants one we do not have)."""

    def __init__(self, message: str, *, needs_password: bool = False) -> None:
        super().__init__(message)
        self.needs_password = needs_password
