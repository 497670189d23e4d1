"""A remote VM's console over the SSH connection settings of its host's URI.

A VM on ``qemu+ssh://admin@kvm1:2222/system?keyfile=~/.ssh/kvm`` usually has its VNC
server on the host's loopback. The console then needs nothing reachable but SSH: ssh logs
in with the URI's user, port and key (or the agent), checks the host key against the same
known_hosts in batch mode (never asking on an invisible terminal), and forwards the
stream with ``-W``, or through ``nc -U`` on the host for a UNIX-socket listener.
"""
from __future__ import annotations

from urllib.parse import unquote

from connectors.console.transport import CommandTransport
from connectors.libvirt.model import GraphicsInfo
from connectors.libvirt.uri import SSH_TRANSPORTS, validate_uri

_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")
# A dead link ends the tunnel, so the console says it is reconnecting instead of showing
# a frozen picture: ssh asks the server every 3 s and gives up after 3 unanswered asks,
# like the host's keepalive (3 s × 3). A connect that gets no answer gives up after 10 s,
# so a retry started during an outage does not wait out TCP's own backoff (seen: the
# console came back 23 s after a 30 s blackhole ended, the host 11 s).
DEAD_LINK_OPTIONS = ("-o", "ServerAliveInterval=3", "-o", "ServerAliveCountMax=3",
                     "-o", "ConnectTimeout=10")


def needs_tunnel(uri: str) -> bool:
    """True for a VM whose host is reached over SSH."""
    try:
        parsed = validate_uri(uri)
    except ValueError:
        return False
    return parsed.transport in SSH_TRANSPORTS and not parsed.is_local


def ssh_console_transport(uri: str, graphics: GraphicsInfo) -> CommandTransport:
    """The stream to ``graphics`` of a VM on the SSH host of ``uri``."""
    parsed = validate_uri(uri)
    if parsed.transport not in SSH_TRANSPORTS or not parsed.host:
        raise ValueError(f"{uri} is not reached over SSH")
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-T",
            "-e", "none", *DEAD_LINK_OPTIONS]
    if parsed.port:
        argv += ["-p", str(parsed.port)]
    if parsed.user:
        argv += ["-l", parsed.user]
    keyfile = parsed.params.get("keyfile")
    if keyfile:
        argv += ["-i", unquote(keyfile)]
    if parsed.params.get("no_verify") == "1":
        # The URI told libvirt's own ssh not to check the host key (libvirt then passes
        # StrictHostKeyChecking=no): the console's ssh to the same host does as it does.
        argv += ["-o", "StrictHostKeyChecking=no"]
    target = parsed.host
    if graphics.socket:
        argv += ["--", target, "nc", "-U", graphics.socket]
        where = graphics.socket
    elif graphics.port and graphics.port > 0:
        listen = (graphics.listen or "").strip()
        listen = "127.0.0.1" if listen in _ANY_ADDRESS else listen
        argv += ["-W", f"{listen}:{graphics.port}", "--", target]
        where = f"{listen}:{graphics.port}"
    else:
        raise ValueError(f"The {graphics.type.upper()} console has no port yet: is the VM "
                         "running?")
    return CommandTransport(argv, f"{graphics.type.upper()} {where} through SSH to "
                                  f"{parsed.display_name}")


__all__ = ["needs_tunnel", "ssh_console_transport"]
