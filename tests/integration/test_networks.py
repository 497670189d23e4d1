"""Virtual networks through HVConsole's connector, on the real libvirtd: one network of
each mode defined and started, an overlapping subnet refused before anything is
defined, a network a VM uses refused for delete with the VM named, DHCP changed on a
running network, and a real guest getting its lease (from the range, and a fixed one).
"""
from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import pytest

from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import ActionError
from connectors.libvirt.net_xml import NetworkSpec, StaticHost
from tests.conftest import wait_until
from tests.integration.conftest import PREFIX, _remove_domain, unavailable
from tests.integration.guest import wait_for_serial

pytestmark = pytest.mark.integration

# Subnets no other test of this project or this machine uses.
NAT_NET, ROUTE_NET, ISO_NET, OPEN_NET = ("10.252.11.0/24", "10.252.12.0/24",
                                         "10.252.13.0/24", "10.252.14.0/24")
GUEST_MAC = "52:54:00:7e:57:01"
SECOND_MAC = "52:54:00:7e:57:02"


def _cleanup_networks(conn, prefix: str) -> None:
    import libvirt
    for net in conn.listAllNetworks(0):
        if net.name().startswith(prefix):
            try:
                if net.isActive():
                    net.destroy()
                if net.isPersistent():
                    net.undefine()
            except libvirt.libvirtError:
                pass


@pytest.fixture
def host(aloop, libvirt_uri):
    import libvirt
    prefix = f"{PREFIX}net-{uuid.uuid4().hex[:6]}"
    found = LibvirtHost(libvirt_uri, lambda _event: None)
    aloop.run_until_complete(found.connect())
    yield found, prefix
    aloop.run_until_complete(found.disconnect())
    conn = libvirt.open(libvirt_uri)
    try:
        _cleanup_networks(conn, prefix)
    finally:
        conn.close()


def run(aloop, coro):
    return aloop.run_until_complete(asyncio.wait_for(coro, 120))


def named(host, name):
    return next((n for n in host.networks() if n.name == name), None)


@pytest.fixture
def host_bridge():
    name = f"hvtbr{uuid.uuid4().hex[:4]}"
    done = subprocess.run(["ip", "link", "add", name, "type", "bridge"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        unavailable(f"cannot make a bridge here: {done.stderr.strip()}")
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_a_network_of_each_mode_is_defined_and_started(aloop, host, host_bridge):
    host, prefix = host
    nets = host.networking
    specs = [
        NetworkSpec(f"{prefix}-nat", "nat", ipv4=NAT_NET, dhcp_start="10.252.11.100",
                    dhcp_end="10.252.11.150", domain="lab.test"),
        NetworkSpec(f"{prefix}-route", "route", ipv4=ROUTE_NET, ipv6="fd00:252:12::/64"),
        NetworkSpec(f"{prefix}-iso", "isolated", ipv4=ISO_NET),
        NetworkSpec(f"{prefix}-open", "open", ipv4=OPEN_NET),
    ]
    for spec in specs:
        key = run(aloop, nets.define(spec, autostart=False))
        record = named(host, spec.name)
        assert record is not None and record.key == key and record.active, spec.mode
        assert record.forward == (None if spec.mode == "isolated" else spec.mode)
        assert record.bridge and record.bridge.startswith("virbr")
    assert host_bridge in run(aloop, nets.host_bridges())
    key = run(aloop, nets.define(NetworkSpec(f"{prefix}-br", "bridge", bridge=host_bridge),
                                 autostart=False))
    assert named(host, f"{prefix}-br").forward == "bridge"
    details = run(aloop, nets.details(named(host, f"{prefix}-nat").key))
    assert details.dhcp_ranges == (("10.252.11.100", "10.252.11.150"),)
    assert details.domain == "lab.test"

    nat = named(host, f"{prefix}-nat").key
    run(aloop, nets.network_op(nat, "stop"))
    assert not named(host, f"{prefix}-nat").active
    run(aloop, nets.network_op(nat, "autostart"))
    assert named(host, f"{prefix}-nat").autostart
    run(aloop, nets.network_op(nat, "start"))
    for name in (f"{prefix}-nat", f"{prefix}-route", f"{prefix}-iso", f"{prefix}-open",
                 f"{prefix}-br"):
        run(aloop, nets.delete(named(host, name).key))
        assert named(host, name) is None
    del key


def test_an_overlapping_subnet_and_bad_input_are_refused_before_defining(aloop, host):
    host, prefix = host
    nets = host.networking
    run(aloop, nets.define(NetworkSpec(f"{prefix}-first", "isolated", ipv4=ISO_NET),
                           start=False, autostart=False))
    before = {n.name for n in host.networks()}
    cases = {
        "overlaps 10.252.13.0/24 of the network": NetworkSpec(
            f"{prefix}-clash", "nat", ipv4="10.252.13.128/25"),
        "is not an IPv4 subnet": NetworkSpec(f"{prefix}-cidr", "nat", ipv4="10.252.300.0/24"),
        "must be a guest address inside": NetworkSpec(
            f"{prefix}-range", "nat", ipv4="10.252.15.0/24", dhcp_start="10.252.16.2",
            dhcp_end="10.252.16.9"),
        "already has a network named": NetworkSpec(f"{prefix}-first", "nat",
                                                   ipv4="10.252.17.0/24"),
    }
    for words, spec in cases.items():
        with pytest.raises(ActionError, match=words):
            run(aloop, nets.define(spec))
    assert {n.name for n in host.networks()} == before, "nothing was defined"


@pytest.fixture(scope="module")
def io_initrd():
    from tests.integration.guest import REPO
    done = subprocess.run(["bash", str(REPO / "scripts" / "build-test-guest-io.sh")],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        unavailable(f"no I/O initramfs: {done.stderr.strip()[-300:]}")
    return done.stdout.strip().splitlines()[-1]


async def _the_window_shows_the_lease(vm_name: str, network: str, ip: str,
                                      addresses: str) -> None:
    """What the user sees: the VM's General tab names its address, and the network's
    page lists the lease with the VM."""
    from tests.integration.app_stack import AppStack
    from widgets.main_window import MainWindow
    from PySide6.QtWidgets import QApplication
    QApplication.instance().setQuitOnLastWindowClosed(False)
    stack = AppStack()
    window = MainWindow(stack.manager, stack.inventory, stack.events_log, stack.tasks,
                        stack.commands, stack.prompter)
    window.show()
    try:
        conn_id = await stack.open("qemu:///system")
        await stack.manager.wait_attempt(conn_id, 30)
        await wait_until(lambda: stack.vm_node(vm_name) is not None, 10)
        vm = stack.vm_node(vm_name)
        window.tree.select_node(conn_id, vm.key)
        await wait_until(lambda: ip in window.general_tab.fields().get("IP address", ""),
                         15)
        await wait_until(lambda: window.general_tab.fields()["IP address"] == addresses, 15)
        net = next(n for n in stack.manager.host(conn_id).networks() if n.name == network)
        window.tree.select_node(conn_id, net.key)
        window.tabs.setCurrentWidget(window.networking_tab)
        table = window.networking_tab.leases

        def rows():
            return [[table.index(r, c).data() for c in range(table.columnCount())]
                    for r in range(table.rowCount())]
        await wait_until(lambda: any(row[0].startswith(ip + "/") for row in rows()), 15)
        row = next(row for row in rows() if row[0].startswith(ip + "/"))
        assert row[1:5] == [GUEST_MAC, "hvconsole-guest", vm_name, network]
        fields = window.networking_tab.fields
        await wait_until(lambda: fields["IPv4"].text() == "10.252.11.1/24", 15)
        assert fields["Used by"].text() == vm_name
        window.grab().save("/tmp/hvconsole-networking-lease.png")
    finally:
        window.close()
        await stack.close()


@pytest.mark.slow
def test_a_real_guest_gets_a_lease_from_the_range_and_a_fixed_address(
        aloop, host, guest_factory, io_initrd):
    """One guest, two NICs: the NAT network's range hands eth0 an address; the second
    network gets a fixed-address entry while it runs (network update, live and in its
    definition) and hands eth1 exactly that address. Deleting a network in use is
    refused with the guest named."""
    host, prefix = host
    nets = host.networking
    nat = run(aloop, nets.define(NetworkSpec(
        f"{prefix}-nat", "nat", ipv4=NAT_NET, dhcp_start="10.252.11.100",
        dhcp_end="10.252.11.150"), autostart=False))
    fixed = run(aloop, nets.define(NetworkSpec(
        f"{prefix}-fixed", "isolated", ipv4=ISO_NET, dhcp_start="10.252.13.100",
        dhcp_end="10.252.13.110"), autostart=False))
    run(aloop, nets.update_dhcp(fixed, "10.252.13.100", "10.252.13.120",
                                (StaticHost(SECOND_MAC, "10.252.13.42", "fixed-guest"),)))
    after = run(aloop, nets.details(fixed))
    assert after.dhcp_ranges == (("10.252.13.100", "10.252.13.120"),)
    assert after.hosts == (StaticHost(SECOND_MAC, "10.252.13.42", "fixed-guest"),)

    guest = guest_factory("dhcp", initrd=io_initrd)
    nics = "".join(
        f"<interface type='network'><mac address='{mac}'/><source network='{net}'/>"
        "<model type='virtio'/></interface>"
        for mac, net in ((GUEST_MAC, f"{prefix}-nat"), (SECOND_MAC, f"{prefix}-fixed")))
    guest.domain = guest.domain.connect().defineXML(
        guest.domain.XMLDesc(0).replace("</devices>", nics + "</devices>"))
    try:
        guest.start()
        started = time.monotonic()
        for nic in ("eth0", "eth1"):     # waited for in a thread: the loop keeps serving
            run(aloop, asyncio.to_thread(wait_for_serial, guest.serial_log,
                                         f"HVCONSOLE-GUEST-DHCP {nic}", 110))
        print(f"both leases {time.monotonic() - started:.1f} s after the start")
        found: list = []

        async def both_leased() -> bool:
            # libvirt writes a lease down just after dnsmasq acknowledged it
            found[:] = await nets.leases()
            return {GUEST_MAC, SECOND_MAC} <= {lease.mac for lease in found}

        async def wait_both() -> None:
            for _ in range(100):
                if await both_leased():
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"libvirt lists {found}")
        run(aloop, wait_both())
        mine = {lease.mac: lease for lease in found}
        first = mine[GUEST_MAC]
        assert first.network == f"{prefix}-nat"
        assert 100 <= int(first.ip.rsplit(".", 1)[1]) <= 150 and first.ip.startswith(
            "10.252.11.")
        assert mine[SECOND_MAC].ip == "10.252.13.42"
        log = guest.serial_log.read_text(errors="replace")
        assert f"HVCONSOLE-GUEST-DHCP eth0 {first.ip}" in log
        assert "HVCONSOLE-GUEST-DHCP eth1 10.252.13.42" in log

        run(aloop, wait_until(lambda: any(v.name == guest.name for v in host.vms()), 10))
        run(aloop, _the_window_shows_the_lease(
            guest.name, f"{prefix}-nat", first.ip,
            f"{first.ip} ({prefix}-nat), 10.252.13.42 ({prefix}-fixed)"))
        with pytest.raises(ActionError) as refused:
            run(aloop, nets.delete(nat))
        assert f"{guest.name} uses the network {prefix}-nat" in str(refused.value)
        assert named(host, f"{prefix}-nat") is not None
    finally:
        import libvirt
        conn = libvirt.open("qemu:///system")
        _remove_domain(conn, guest.name)
        conn.close()
