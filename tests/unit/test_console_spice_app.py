"""The app side of SPICE consoles, without a server: which display a VM's console shows
and when the user gets a choice, tickets in the domain XML (and when they expired), the
vault entry names, the per-VM remembered choice, and the password order for a server
that does not say whether it wants a ticket (SPICE): nothing is asked until it refused.

The VMs are the connector's own records (VMInfo, GraphicsInfo); the clients in the
password tests are minimal ConsoleClients that check a password as a SPICE link does,
since no SPICE server can run in a unit test (the integration tests use QEMU's)."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from PySide6.QtCore import QSettings

from app.console_openers import PROTOCOLS, VmOpener, pick_graphics
from app.console_session import ConsoleSession
from app.console_passwords import (ConsolePasswords, PasswordAnswer, address_console_key,
                                   vm_console_key)
from app.console_protocols import ProtocolMemory
from connectors.console.client import ConsoleClient
from connectors.console.state import AuthenticationError, ConsoleError
from connectors.libvirt.model import GraphicsInfo, VMInfo, VMState

VNC = GraphicsInfo("vnc", "127.0.0.1", 5900)
SPICE = GraphicsInfo("spice", "127.0.0.1", 5901)
SDL = GraphicsInfo("sdl")


def vm(*graphics: GraphicsInfo, state: VMState = VMState.SHUTOFF) -> VMInfo:
    return VMInfo(key="4a1c9f0e-0000-4000-8000-000000000001", name="desk", state=state,
                  state_reason="", domain_type="kvm", os_type="hvm", arch="x86_64",
                  virtualization="", vcpus=1, max_vcpus=1, memory_kib=1024,
                  max_memory_kib=1024, persistent=True, autostart=False,
                  managed_save=False, dom_id=None, title="", disks=(), nics=(),
                  graphics=graphics)


class Host:
    """What a VmOpener reads of a LibvirtHost before connecting (not yet connected:
    ``info`` None, so the driver is the URI's)."""

    info = None
    is_demo = False

    def __init__(self, record: VMInfo, uri: str = "qemu+tcp://kvm1/system",
                 xml: str = "<domain/>") -> None:
        self.record, self.uri, self.xml = record, uri, xml

    def vm(self, key: str):
        return self.record if key == self.record.key else None

    async def domain_xml(self, key: str, secure: bool = False) -> str:
        return self.xml


class Manager:
    def __init__(self, host: Host) -> None:
        self._host = host

    def host(self, conn_id):
        return self._host

    def pool(self, conn_id):
        return None             # a libvirt host, not a XenAPI pool


def opener_for(record: VMInfo, **options) -> VmOpener:
    return VmOpener(Manager(Host(record)), "c1", record.key, **options)


def test_the_first_display_is_shown_unless_the_user_chose():
    both = vm(SDL, SPICE, VNC)
    assert pick_graphics(both) == (1, SPICE)
    assert pick_graphics(both, "vnc") == (2, VNC)
    assert pick_graphics(vm(VNC), "spice") == (0, VNC)   # a choice the VM no longer has
    with pytest.raises(ConsoleError, match="desk has no VNC or SPICE display"):
        pick_graphics(vm(SDL))


def test_a_choice_only_when_the_vm_has_both():
    assert opener_for(vm(SPICE, VNC)).protocol_choices() == ["spice", "vnc"]
    assert opener_for(vm(VNC, VNC)).protocol_choices() == []
    assert opener_for(vm(SPICE)).protocol_choices() == []
    opener = opener_for(vm(VNC, SPICE), protocol="spice")
    assert opener.current_protocol() == "spice"
    opener.protocol = None
    assert opener.current_protocol() == "vnc"


def test_the_session_switches_protocol_and_says_which(aloop):
    opener = opener_for(vm(SPICE, VNC))
    session = ConsoleSession(opener, "desk")
    assert session.protocol_choices() == ["spice", "vnc"]
    assert session.protocol == "spice"
    session.choose_protocol("vnc")
    assert opener.protocol == "vnc" and session.protocol == "vnc"
    plain = ConsoleSession(lambda: None, "x")   # a standalone opener: no choice
    assert plain.protocol_choices() == [] and plain.protocol is None


def test_a_vm_that_is_off_shows_no_console_whatever_the_protocol(aloop):
    for protocol in PROTOCOLS:
        opener = opener_for(vm(SPICE, VNC), protocol=protocol)
        assert aloop.run_until_complete(opener.open()) is None
    gone = VmOpener(Manager(Host(vm(SPICE))), "c1", "another-uuid")
    with pytest.raises(ConsoleError, match="no longer known"):
        aloop.run_until_complete(gone.open())


def test_a_running_vm_without_a_port_says_so(aloop):
    running = vm(replace(SPICE, port=None), state=VMState.RUNNING)
    with pytest.raises(ConsoleError, match="desk has no SPICE port yet"):
        aloop.run_until_complete(opener_for(running).open())


def test_a_spice_display_that_takes_only_tls_is_said_so(aloop):
    tls_only = ("<domain><devices><graphics type='spice' port='-1' tlsPort='5901'/>"
                "</devices></domain>")
    running = vm(replace(SPICE, port=5901), state=VMState.RUNNING)
    opener = VmOpener(Manager(Host(running, xml=tls_only)), "c1", running.key)
    with pytest.raises(ConsoleError, match="accepts only TLS connections, and TLS SPICE is "
                                           "not supported yet"):
        aloop.run_until_complete(opener.open())


def test_vault_entry_names_per_protocol():
    assert vm_console_key("qemu:///system", "u1", "spice") == "spice:qemu:///system/u1"
    assert address_console_key("10.0.0.5", 5930, "spice") == "spice:10.0.0.5:5930"
    assert vm_console_key("qemu:///system", "u1") == "vnc:qemu:///system/u1"


def test_the_chosen_protocol_is_remembered_per_vm(tmp_path):
    settings = QSettings(str(tmp_path / "hv.conf"), QSettings.Format.IniFormat)
    memory = ProtocolMemory(settings)
    assert memory.get("qemu+ssh://root@kvm1/system", "u1") is None
    memory.set("qemu+ssh://root@kvm1/system", "u1", "vnc")
    memory.set("qemu:///system", "u1", "spice")
    again = ProtocolMemory(QSettings(str(tmp_path / "hv.conf"), QSettings.Format.IniFormat))
    assert again.get("qemu+ssh://root@kvm1/system", "u1") == "vnc"
    assert again.get("qemu:///system", "u1") == "spice"
    with pytest.raises(ValueError):
        memory.set("qemu:///system", "u1", "rdp")
    settings.setValue(ProtocolMemory._key("qemu:///system", "u2"), "garbage")
    assert memory.get("qemu:///system", "u2") is None


class TicketClient(ConsoleClient):
    """Connects as a SPICE link does: always sends a ticket (the password source's
    answer, "" for None) and is refused unless it is ``right``."""

    def __init__(self, password, right: str) -> None:
        super().__init__()
        self.password, self.right = password, right

    async def connect(self) -> None:
        ticket = await self.password()
        if (ticket or "") != self.right:
            raise AuthenticationError("the ticket was refused", needs_password=True)

    def close(self) -> None:
        pass


def test_spice_asks_only_after_the_server_refused_the_empty_ticket():
    asked: list[str] = []

    async def prompt(what):
        asked.append(what)
        return PasswordAnswer("tick3t", remember=False)

    async def go(right: str, known: str | None = None):
        passwords = ConsolePasswords("desk", prompt, prompt_first=False)
        passwords.known = known
        return await passwords.connect_new(lambda: TicketClient(passwords, right))

    asyncio.run(go(""))
    assert asked == []                          # no ticket set: nothing asked
    asyncio.run(go("tick3t"))
    assert asked == ["desk"]                    # refused once, asked, accepted
    asyncio.run(go("from-xml", known="from-xml"))
    assert asked == ["desk"]                    # the XML's ticket: nothing asked
    with pytest.raises(AuthenticationError):    # a known ticket refused: said, not asked
        asyncio.run(go("other", known="stale"))
    assert asked == ["desk"]
