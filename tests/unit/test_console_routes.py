"""How a VM's console is reached, one route at a time (app/console_openers.py): which route a
host's URI gets, libvirt's own socket for a local QEMU host (and SPICE falling back to
TCP), an SSH tunnel, plain TCP and its address rules; a host whose driver has no
consoles; the standalone opener's remembered passwords.

The hosts are stand-ins for LibvirtHost (the ConsoleHost protocol): the routes' real
partners in these tests are sockets with a scripted RFB server at the other end. The
integration tests (test_console_vnc.py, test_console_spice*.py) take the same routes to
QEMU."""
from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import replace

import pytest

from app.console_openers import (AddressOpener, LibvirtSocketRoute, SshTunnelRoute, TcpRoute,
                         VmDisplay, VmOpener, route_for)
from app.console_passwords import ConsolePasswords
from connectors.console.address import ConsoleAddress
from connectors.console.rfb.client import LOCAL_ENCODINGS, RfbClient
from connectors.console.state import ConsoleError, ConsoleUnavailable
from connectors.console.tls import TlsOptions
from connectors.console.transport import CommandTransport, TcpTransport
from connectors.libvirt.model import ActionError, GraphicsInfo, HostInfo, VMState
from connectors.libvirt.uri import validate_uri
from tests.unit.rfb_helpers import handshake_38
from tests.unit.test_console_spice_app import SPICE, VNC, vm

RUNNING = VMState.RUNNING


class Host:
    """A ConsoleHost: one VM, its XML, and libvirt's socket as a socketpair whose far end
    sends ``served`` (an RFB server's first bytes); records what it was asked."""

    def __init__(self, record, uri="qemu:///system", xml="<domain/>", served=b"",
                 driver="QEMU", is_demo=False, fd_error: Exception | None = None) -> None:
        self.record, self.uri, self.xml, self.served = record, uri, xml, served
        self.info = HostInfo(uri=uri, hostname="h", driver=driver, hypervisor_label="",
                             hypervisor_version="", libvirt_version="", arch="x86_64",
                             cpu_model="", cpus=1, sockets=1, cores=1, threads=1, mhz=1,
                             memory_kib=1, is_demo=is_demo)
        self.is_demo = is_demo
        self.fd_error = fd_error
        self.asked: list[str] = []
        self.far_ends: list[socket.socket] = []

    def vm(self, key):
        return self.record if key == self.record.key else None

    async def domain_xml(self, key, secure=False):
        self.asked.append("secure xml" if secure else "xml")
        return self.xml

    async def open_graphics_fd(self, key, index=0):
        self.asked.append(f"fd {index}")
        if self.fd_error is not None:
            raise self.fd_error
        ours, theirs = socket.socketpair()
        theirs.sendall(self.served)
        self.far_ends.append(theirs)
        return ours.detach()


class Manager:
    def __init__(self, host):
        self._host = host

    def host(self, conn_id):
        return self._host

    def pool(self, conn_id):
        return None             # a libvirt host, not a XenAPI pool


def display_of(host, graphics: GraphicsInfo, index: int = 0) -> VmDisplay:
    record = host.record
    return VmDisplay(host, record.key, record, index, graphics, validate_uri(host.uri),
                     ConsolePasswords(record.name, None, prompt_first=graphics.type != "spice"))


# ---- which route ----

@pytest.mark.parametrize("uri, route", [
    ("qemu:///system", LibvirtSocketRoute),
    ("qemu:///session", LibvirtSocketRoute),
    ("qemu+ssh://admin@kvm1/system", SshTunnelRoute),
    ("xen+ssh://root@xen1/system", SshTunnelRoute),
    ("qemu+libssh://kvm1/system", SshTunnelRoute),
    ("qemu+tcp://kvm1/system", TcpRoute),
    ("qemu+tls://kvm1/system", TcpRoute),
    ("xen:///system", TcpRoute),          # libxl: no virDomainOpenGraphicsFD
])
def test_each_host_gets_its_route(uri, route):
    assert type(route_for(validate_uri(uri))) is route


# ---- libvirt's own socket ----

def test_a_local_vnc_console_comes_through_libvirts_socket(aloop):
    record = vm(replace(VNC, has_password=True), state=RUNNING)
    host = Host(record, served=handshake_38(32, 16))
    display = display_of(host, record.graphics[0])
    client = aloop.run_until_complete(LibvirtSocketRoute().open(display))
    try:
        assert isinstance(client, RfbClient)
        assert (client.framebuffer.width, client.framebuffer.height) == (32, 16)
        assert client.encodings == LOCAL_ENCODINGS
        # libvirt skips the display's password on its socket: no XML read for it.
        assert host.asked == ["fd 0"]
    finally:
        client.close()


class Recording:
    """A fallback route that only records being asked."""

    def __init__(self):
        self.opened: list[str] = []

    async def open(self, display):
        self.opened.append(display.protocol)
        return "through the fallback"


def test_spice_that_libvirts_socket_does_not_carry_goes_over_tcp_from_then_on(aloop):
    record = vm(SPICE, state=RUNNING)
    host = Host(record, fd_error=ActionError("QEMU refused the channel"))
    fallback = Recording()
    route = LibvirtSocketRoute(fallback)
    display = display_of(host, SPICE)
    assert aloop.run_until_complete(route.open(display)) == "through the fallback"
    assert route.spice_fd_refused and host.asked == ["fd 0"]
    assert aloop.run_until_complete(route.open(display)) == "through the fallback"
    assert host.asked == ["fd 0"] and fallback.opened == ["spice", "spice"]


def test_vnc_through_libvirts_socket_has_no_fallback(aloop):
    record = vm(VNC, state=RUNNING)
    host = Host(record, fd_error=ActionError("no socket for you"))
    fallback = Recording()
    with pytest.raises(ActionError, match="no socket for you"):
        aloop.run_until_complete(LibvirtSocketRoute(fallback).open(display_of(host, VNC)))
    assert fallback.opened == []


# ---- SSH ----

def test_through_ssh_each_stream_is_an_ssh_and_tls_names_the_host():
    record = vm(replace(VNC, port=5901), state=RUNNING)
    display = display_of(Host(record, uri="qemu+ssh://admin@kvm1:2222/system"),
                         record.graphics[0])
    transport = SshTunnelRoute().transport(display)
    assert isinstance(transport, CommandTransport)
    assert transport.argv[0] == "ssh" and "-W" in transport.argv
    assert transport.argv[transport.argv.index("-W") + 1] == "127.0.0.1:5901"
    assert "kvm1" in transport.argv and "admin" in transport.argv
    assert display.options["tls"] == TlsOptions(server_name="kvm1")


def test_through_ssh_a_display_without_a_port_says_so():
    record = vm(replace(VNC, port=-1), state=RUNNING)
    display = display_of(Host(record, uri="qemu+ssh://kvm1/system"), record.graphics[0])
    with pytest.raises(ConsoleError, match="desk has no VNC port yet"):
        SshTunnelRoute().transport(display)


# ---- TCP ----

@pytest.mark.parametrize("uri, listen, address", [
    ("qemu+tcp://kvm1/system", "0.0.0.0", "kvm1"),      # everywhere: the host's name
    ("qemu+tcp://kvm1/system", "127.0.0.1", "kvm1"),    # its loopback, seen from here
    ("qemu+tcp://kvm1/system", "10.0.0.7", "10.0.0.7"),
    ("xen:///system", "0.0.0.0", "127.0.0.1"),          # a local host
    ("xen:///system", "192.168.1.5", "192.168.1.5"),
])
def test_tcp_goes_to_the_address_the_display_listens_on(uri, listen, address):
    graphics = GraphicsInfo("vnc", listen, 5905)
    transport = TcpRoute().transport(display_of(Host(vm(graphics, state=RUNNING), uri=uri),
                                                graphics))
    assert isinstance(transport, TcpTransport)
    assert (transport.host, transport.port) == (address, 5905)


def test_tcp_cannot_reach_a_socket_on_another_machine():
    graphics = GraphicsInfo("vnc", socket="/run/libvirt/qemu/vnc.sock")
    display = display_of(Host(vm(graphics, state=RUNNING), uri="qemu+tcp://kvm1/system"),
                         graphics)
    with pytest.raises(ConsoleUnavailable, match="socket on another machine"):
        TcpRoute().transport(display)


@pytest.fixture
def vnc_port():
    """A one-connection VNC server (security None) on 127.0.0.1."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(handshake_38(8, 8))
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(5)


def test_tcp_takes_the_password_from_the_secure_xml_and_connects(aloop, vnc_port):
    graphics = GraphicsInfo("vnc", "127.0.0.1", vnc_port, has_password=True)
    xml = f"<domain><devices><graphics type='vnc' port='{vnc_port}' passwd='from-xml'/>" \
          "</devices></domain>"
    host = Host(vm(graphics, state=RUNNING), uri="xen:///system", xml=xml)
    display = display_of(host, graphics)
    client = aloop.run_until_complete(asyncio.wait_for(TcpRoute().open(display), 10))
    try:
        assert client.framebuffer.width == 8
        assert display.passwords.known == "from-xml" and host.asked == ["secure xml"]
    finally:
        client.close()


# ---- the opener ----

@pytest.mark.parametrize("is_demo, words", [
    (True, "The demo lab's VMs are simulated by libvirt's test driver"),
    (False, "This server runs libvirt's test driver"),
])
def test_a_test_driver_host_has_no_console_whatever_the_vms_state(aloop, is_demo, words):
    for state in (VMState.RUNNING, VMState.SHUTOFF):
        record = vm(VNC, state=state)
        host = Host(record, uri="test:///default", driver="TEST", is_demo=is_demo)
        with pytest.raises(ConsoleUnavailable, match=words):
            aloop.run_until_complete(VmOpener(Manager(host), "c", record.key).open())
        assert host.asked == []        # not even libvirt's socket was asked for


def test_the_opener_keeps_one_route_per_host(aloop):
    record = vm(VNC, state=RUNNING)
    host = Host(record, served=handshake_38(8, 8))
    opener = VmOpener(Manager(host), "c", record.key)
    assert opener.route is None
    for _ in range(2):
        aloop.run_until_complete(opener.open()).close()
    assert isinstance(opener.route, LibvirtSocketRoute) and host.asked == ["fd 0", "fd 0"]


def test_a_standalone_address_remembers_in_the_vault_it_was_given():
    class Vault:
        pass

    address = ConsoleAddress("vnc", "10.0.0.5", 5907)
    assert AddressOpener(address).remembered_passwords() is None
    remembered = AddressOpener(address, vault=Vault()).remembered_passwords()
    assert remembered.keys == ("vnc:10.0.0.5:5907",) and remembered.what == address.display
