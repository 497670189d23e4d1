"""HVConsole managing a real Xen 4.17 host through libvirt's Xen driver over xen+ssh://.

The host is Xen nested under QEMU's TCG emulation (scripts/build-xen-host.sh builds its
Dom0 image once per machine, scripts/start-xen-host.sh boots it; docs/xen-test-host.md).
The session fixture boots it once, and powers it off at the end. The app side is the real
stack the window uses (tests/integration/app_stack.py); only the human is scripted.

Without root or when the image cannot be built these tests skip locally and fail in CI.
"""
from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.inventory import Node, NodeKind
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PREFIX = os.environ.get("HVCONSOLE_TEST_PREFIX", "hvconsole-test-")
BOOT_TIMEOUT_S = 1500  # a first run builds the image too (about 2 min here) before booting
# The host is emulated (TCG) and scripts/test.sh runs these tests beside other slow ones
# on the same cores: a step that takes 60 s alone took up to 2.5 times as long there.
# Every wait below is this many times what the host needs alone (a wait ends as soon as
# its condition holds, so a passing run is not slower for it).
PATIENCE = 3

# The first test also waits for the session fixture's boot, so it gets that time too.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xen,
              pytest.mark.timeout(BOOT_TIMEOUT_S + 300)]


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the Xen tests must run here)", pytrace=False)
    pytest.skip(reason)


def _facts(output: str) -> dict[str, str]:
    """start-xen-host.sh's KEY='value' lines."""
    facts = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            facts[key] = value.strip().strip("'")
    return facts


@pytest.fixture(scope="session")
def xen_host():
    """The nested Xen host, booted once for the session: its xen+ssh URI and files."""
    if os.geteuid() != 0:
        _unavailable("the nested Xen host needs root (debootstrap, its image)")
    script = REPO / "scripts" / "start-xen-host.sh"
    started = time.monotonic()
    try:
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                              timeout=BOOT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        subprocess.run(["bash", str(script), "--stop"], capture_output=True)
        _unavailable(f"the Xen host did not come up within {BOOT_TIMEOUT_S} s")
    if done.returncode != 0:
        _unavailable(f"scripts/start-xen-host.sh failed ({done.returncode}):\n"
                     f"{done.stderr[-3000:]}")
    facts = _facts(done.stdout)
    facts["boot_seconds"] = f"{time.monotonic() - started:.0f}"
    try:
        yield facts
    finally:
        subprocess.run(["bash", str(script), "--stop"], capture_output=True)


@pytest.fixture(scope="module")
def stack(qapp, aloop, xen_host):
    stack = AppStack()
    stack.conn_id = aloop.run_until_complete(stack.open(xen_host["uri"]))
    aloop.run_until_complete(wait_until(
        lambda: stack.host_state(stack.conn_id) is ConnState.CONNECTED, 90))
    yield stack
    aloop.run_until_complete(stack.close())


# A PV guest's framebuffer as libvirt's Xen driver writes it: a vfb served by QEMU in Dom0
# (qemu-system-xen) with its VNC server, and the PV keyboard and mouse. The Debian guest
# kernel has xen-fbfront and xen-kbdfront built in; its console shell runs on tty1.
VFB_DEVICES = """<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
  <input type='keyboard' bus='xen'/><input type='mouse' bus='xen'/>"""


def _pv_domain_xml(name: str, devices: str = "") -> str:
    """The busybox test guest as a PV DomU booted straight from Dom0's files (the image
    carries its kernel and initrd in /root/guest)."""
    return f"""<domain type='xen'>
  <name>{name}</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os>
    <type>linux</type>
    <kernel>/root/guest/vmlinuz</kernel>
    <initrd>/root/guest/initrd.gz</initrd>
    <cmdline>console=hvc0 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices><console type='pty'><target type='xen' port='0'/></console>{devices}</devices>
</domain>"""


@pytest.fixture
def pv_guest(request, xen_host):
    """A shut-off persistent PV DomU defined on the Xen host, removed afterwards.
    Parametrized indirectly with extra devices (VFB_DEVICES) when a test needs them."""
    import libvirt

    name = f"{PREFIX}xen-pv-{uuid.uuid4().hex[:6]}"
    conn = libvirt.open(xen_host["uri"])
    conn.defineXML(_pv_domain_xml(name, getattr(request, "param", "")))
    conn.close()
    try:
        yield name
    finally:
        # A connection of its own: one held open through the test sat idle over SSH for
        # minutes, without an event loop to answer libvirt's keepalive, and was dropped.
        conn = libvirt.open(xen_host["uri"])
        dom = conn.lookupByName(name)
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()  # refused when it is already shut off
        dom.undefine()
        conn.close()


def _until(aloop, predicate, timeout=60.0):
    aloop.run_until_complete(wait_until(predicate, timeout * PATIENCE))


def test_dom0_is_the_hosts_control_domain_not_a_vm(stack, aloop):
    host = stack.manager.host(stack.conn_id)
    assert host.info.driver == "Xen"
    assert host.info.hypervisor_label == "Xen 4.17 (libxl)"
    _until(aloop, lambda: stack.inventory.control_domain(stack.conn_id) is not None)
    dom0 = stack.inventory.control_domain(stack.conn_id)
    assert dom0.name == "Domain-0" and dom0.dom_id == 0 and dom0.is_control_domain
    assert dom0.state is VMState.RUNNING
    assert dom0.vcpus == 2 and dom0.memory_kib >= 512 * 1024
    assert stack.vm_node("Domain-0") is None, "Dom0 must not be listed as a VM"
    host_index = next(index for index, node in stack.nodes() if node.kind is NodeKind.HOST)
    tooltip = host_index.data(Qt.ItemDataRole.ToolTipRole)
    assert "Xen 4.17 (libxl)" in tooltip and "Control domain: 2 vCPUs" in tooltip
    assert all(v.name != "Domain-0" for v in stack.inventory.vms(stack.conn_id))
    # Even handed Dom0 directly, no lifecycle command offers itself.
    stack.commands.set_selection([Node(NodeKind.VM, stack.conn_id, dom0.key, dom0)])
    assert [c for c in stack.commands.vm_commands if c and c.action.isEnabled()] == []
    assert "control domain" in stack.commands.force_shutdown.action.toolTip()


def test_a_pv_guest_started_paused_resumed_and_forced_off_from_the_commands(stack, aloop, pv_guest):
    _until(aloop, lambda: stack.vm_node(pv_guest) is not None)
    vm = stack.vm_node(pv_guest).obj
    assert vm.state is VMState.SHUTOFF
    assert vm.domain_type == "xen"
    assert vm.virtualization == "Paravirtualized (Xen PV)"
    tooltip = stack.vm_index(pv_guest).data(Qt.ItemDataRole.ToolTipRole)
    assert "Paravirtualized (Xen PV)" in tooltip

    stack.run("start", pv_guest)
    _until(aloop, lambda: stack.vm_state(pv_guest) is VMState.RUNNING, 120)
    assert stack.vm_node(pv_guest).obj.dom_id not in (None, 0)

    # libvirt's Xen driver has no reset: the command says so instead of failing later.
    stack.commands.set_selection([stack.vm_node(pv_guest)])
    assert not stack.commands.force_reboot.action.isEnabled()
    assert "cannot reset" in stack.commands.force_reboot.action.toolTip()
    assert stack.commands.pause.action.isEnabled()

    stack.run("pause", pv_guest)
    _until(aloop, lambda: stack.vm_state(pv_guest) is VMState.PAUSED, 60)
    stack.run("resume", pv_guest)
    _until(aloop, lambda: stack.vm_state(pv_guest) is VMState.RUNNING, 60)

    stack.run("force_shutdown", pv_guest)
    _until(aloop, lambda: stack.vm_state(pv_guest) is VMState.SHUTOFF, 60)
    assert stack.prompter.errors == []
    # libxl reports the domain's death a moment after destroy returned.
    _until(aloop, lambda: any(f"{pv_guest}: Stopped" in m for m in stack.messages()), 30)
    assert any(f"{pv_guest}: Started" in m for m in stack.messages())


def test_tags_and_folder_kept_by_xen_and_followed_live(stack, aloop, xen_host, pv_guest):
    """libxl keeps our metadata entry (definition, then running domain and definition)
    and reports a change made from outside with the metadata-change event."""
    from connectors.libvirt.domxml import organize
    from connectors.libvirt.domxml.organize import ORGANIZE_NS, OrgChange

    def stored(scope: str) -> organize.Organization:
        return organize.from_text(subprocess.run(
            ["virsh", "-c", xen_host["uri"], "metadata", pv_guest, ORGANIZE_NS, scope],
            check=True, capture_output=True, text=True, timeout=240).stdout)

    _until(aloop, lambda: stack.vm_node(pv_guest) is not None)
    stack.commands.organize.apply([stack.vm_node(pv_guest)],
                                  OrgChange(replace_tags=("xen",), folder="/lab/xen"),
                                  "PV guest")
    _until(aloop, lambda: stack.vm_node(pv_guest).obj.folder == "/lab/xen"
           and stack.vm_node(pv_guest).obj.description == "PV guest")
    assert stored("--config").tags == ("xen",)
    stack.run("start", pv_guest)
    _until(aloop, lambda: stack.vm_state(pv_guest) is VMState.RUNNING, 120)
    stack.commands.organize.apply([stack.vm_node(pv_guest)], OrgChange(add_tags=("pv",)))
    _until(aloop, lambda: stack.vm_node(pv_guest).obj.tags == ("pv", "xen"))
    for scope in ("--live", "--config"):
        assert (stored(scope).tags, stored(scope).folder) == (("pv", "xen"), "/lab/xen")
    subprocess.run(["virsh", "-c", xen_host["uri"], "metadata", pv_guest, ORGANIZE_NS,
                    "--key", "hvconsole", "--set", "<organize><tag>dmz</tag></organize>",
                    "--live", "--config"], check=True, capture_output=True, timeout=240)
    _until(aloop, lambda: stack.vm_node(pv_guest).obj.tags == ("dmz",), 120)
    assert any("Tags, folder or fields changed" in m for m in stack.messages())
    assert stack.prompter.errors == []


def _latest_vm(collector, key: str, metric: str) -> float:
    tick = collector.latest
    if tick is None or key not in tick.vms.index:
        return math.nan
    return float(getattr(tick.vms, metric)[tick.vms.index[key]])


def test_a_running_pv_guests_cpu_and_memory_and_the_hosts(aloop, xen_host,
                                                                  pv_guest):
    """libvirt's Xen driver has no bulk domain statistics and no node CPU or memory
    statistics: the app's collector still gets each domain's CPU % and memory, and the
    host's CPU % and memory, from the calls the driver does answer. What it does not
    report (per-core CPU, page cache, in-guest memory, disk I/O) stays unknown (NaN)
    rather than a false 0."""
    import libvirt

    from app.perf.collector import PerfCollector

    conn = libvirt.open(xen_host["uri"])
    dom = conn.lookupByName(pv_guest)
    dom.create()
    key = dom.UUIDString()
    machine_mib = conn.getInfo()[1]
    dom0_key = "00000000-0000-0000-0000-000000000000"
    collector = PerfCollector(conn, xen_host["uri"], interval_s=1.0, timeout_s=60.0)
    cpu_samples: list[tuple[float, float]] = []  # (tick's wall time, guest CPU %)

    def two_guest_samples() -> bool:
        value = _latest_vm(collector, key, "cpu_percent")
        if math.isfinite(value) and (not cpu_samples or collector.latest.wall
                                     != cpu_samples[-1][0]):
            cpu_samples.append((collector.latest.wall, value))
        return len(cpu_samples) >= 2

    async def sample() -> None:
        collector.start()
        try:
            await wait_until(two_guest_samples, 90 * PATIENCE)
        finally:
            await collector.stop()

    try:
        aloop.run_until_complete(sample())
    finally:
        collector.close()
        dom.destroy()
        conn.close()
    assert collector.errors == 0
    assert all(0.0 <= pct <= 100.0 for _, pct in cpu_samples), cpu_samples
    # Dom0 runs this host's toolstack under emulation: never idle between two ticks.
    assert _latest_vm(collector, dom0_key, "cpu_percent") > 0.0
    assert _latest_vm(collector, key, "mem_assigned_kib") == 96 * 1024
    assert _latest_vm(collector, dom0_key, "mem_assigned_kib") == 1024 * 1024
    # No in-guest memory figures, no disk or network counters from this driver: unknown.
    assert math.isnan(_latest_vm(collector, key, "mem_used_kib"))
    assert math.isnan(_latest_vm(collector, key, "disk_rd_bps"))
    host = collector.latest.host
    assert host.mem_total_kib == machine_mib * 1024 > 2 * 1024 * 1024
    assert 0 < host.mem_used_kib < host.mem_total_kib
    assert host.mem_free_kib + host.mem_used_kib == host.mem_total_kib
    # Host CPU % is the domains' summed CPU time over its 2 CPUs (Dom0 is busy here).
    assert 0.0 < host.cpu_percent <= 100.0
    assert np.isnan(host.cpu_percent_per_core).all() and math.isnan(host.mem_cached_kib)


def _dom0(xen_host, command: str) -> str:
    """A command's output in Dom0 over the test key (diagnostics for a failure)."""
    done = subprocess.run(
        ["ssh", "-i", xen_host["ssh_key"], "-p", xen_host["port"], "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=error", "root@127.0.0.1", command],
        capture_output=True, text=True, timeout=60 * PATIENCE)
    return done.stdout + done.stderr


# QEMU's VNC server shows a 640x480 "no graphic display device" notice until the guest's
# xen-fbfront connects; the PV framebuffer is 800x600 by default.
PLACEHOLDER_SIZE = (640, 480)


@pytest.mark.parametrize("pv_guest", [VFB_DEVICES], indirect=True)
def test_a_pv_guests_framebuffer_in_the_console_over_ssh(stack, aloop, xen_host, pv_guest,
                                                          tmp_path):
    """The Console tab's session to a PV DomU's vfb: VNC from QEMU in Dom0, through an
    SSH tunnel built from the xen+ssh URI. The guest's own framebuffer replaces QEMU's
    notice, its text console draws the shell's banner, and typed keys show up on it (the
    last frame is kept as a PNG in the test's tmp_path for a look)."""
    from PySide6.QtGui import QImage

    from app.console_openers import vm_opener
    from app.console_session import ConsoleSession

    _until(aloop, lambda: stack.vm_node(pv_guest) is not None)
    key = stack.vm_node(pv_guest).obj.key
    stack.run("start", pv_guest)
    _until(aloop, lambda: stack.vm_state(pv_guest) is VMState.RUNNING, 120)
    session = ConsoleSession(vm_opener(stack.manager, stack.conn_id, key), title="xen")

    def lit_pixels() -> int:
        """Pixels unlike the background of the guest's own framebuffer (0 before it)."""
        if not (session.connected and session.client.frames > 0):
            return 0
        fb = session.client.framebuffer
        if (fb.width, fb.height) == PLACEHOLDER_SIZE:
            return 0
        rgb = fb.rgb()
        return int((rgb != rgb[0, 0]).any(axis=2).sum())

    async def go():
        session.keep_connected()
        try:
            await wait_until(lambda: session.connected and session.client.frames > 0,
                             120 * PATIENCE)
            # More than the blinking cursor: the shell's banner and prompt.
            with contextlib.suppress(AssertionError):
                await wait_until(lambda: lit_pixels() > 500, 300, interval=0.5)
            before = lit_pixels()
            typed = 0
            if before > 500:
                session.client.type_text("echo " + "x" * 40)
                with contextlib.suppress(AssertionError):
                    await wait_until(lambda: lit_pixels() > before + 300, 60 * PATIENCE,
                                     interval=0.5)
                typed = lit_pixels() - before
            return before, typed, session.client.framebuffer.rgb()
        finally:
            await session.stop()

    before, typed, rgb = aloop.run_until_complete(go())
    seen = before > 500
    height, width, _ = rgb.shape
    QImage(rgb.tobytes(), width, height, 3 * width,
           QImage.Format.Format_RGB888).save(str(tmp_path / "xen-vfb.png"))
    assert seen, ("the guest's framebuffer never replaced QEMU's notice; Dom0 says:\n"
                  + _dom0(xen_host, "xenstore-ls -f /local/domain | grep -E 'vfb|vkbd'; "
                                    "tail -n 20 /var/log/xen/qemu-dm-*.log"))
    assert (height, width) == (600, 800)  # the PV framebuffer's default mode
    # The typed line is echoed on the guest's screen: keys reach it through xen-kbdfront.
    assert typed > 300, (before, typed)
    assert stack.prompter.errors == []


def test_xen_and_kvm_hosts_side_by_side_in_one_tree(stack, aloop, libvirt_uri):
    """The product's point: one tree for both hypervisors, each host saying what it is."""
    kvm_id = aloop.run_until_complete(stack.open(libvirt_uri))
    try:
        _until(aloop, lambda: stack.host_state(kvm_id) is ConnState.CONNECTED, 30)

        def host_rows():
            return {node.conn_id: index for index, node in stack.nodes()
                    if node.kind is NodeKind.HOST}

        # The tree shows the connected state with the next inventory batch.
        _until(aloop, lambda: "QEMU" in str(
            host_rows()[kvm_id].data(Qt.ItemDataRole.ToolTipRole)), 10)
        hosts = host_rows()
        assert set(hosts) >= {stack.conn_id, kvm_id}
        xen_tip = hosts[stack.conn_id].data(Qt.ItemDataRole.ToolTipRole)
        kvm_tip = hosts[kvm_id].data(Qt.ItemDataRole.ToolTipRole)
        assert "Xen 4.17 (libxl)" in xen_tip
        assert "QEMU" in kvm_tip and "Xen" not in kvm_tip
        xen_info = stack.manager.host(stack.conn_id).info
        kvm_info = stack.manager.host(kvm_id).info
        assert (xen_info.driver, kvm_info.driver) == ("Xen", "QEMU")
        # Each host's VMs sit under their own host node.
        for conn_id in (stack.conn_id, kvm_id):
            for vm in stack.inventory.vms(conn_id):
                node = stack.inventory.node(conn_id, vm.key)
                assert node is not None and node.conn_id == conn_id
    finally:
        aloop.run_until_complete(stack.manager.remove(kvm_id))


def test_a_pv_guest_created_with_the_new_vm_wizard_starts(stack, aloop, qtbot, xen_host):
    """New VM on Xen offers what libxl can do: a PV guest from a kernel and initrd on the
    host (the test guest's, in Dom0's /root/guest); what it cannot is disabled, with why."""
    import libvirt

    from connectors.libvirt import domxml
    from connectors.libvirt.create_ops import Source
    from tests.integration.new_vm_driver import WizardDriver

    driver = WizardDriver(qtbot, aloop, stack, stack.conn_id)
    page = driver.wizard.source_page
    assert page.radios[Source.KERNEL].isChecked()
    assert not page.radios[Source.URL].isEnabled()
    assert "offered for KVM hosts" in page.radios[Source.URL].toolTip()
    if not page.radios[Source.ISO].isEnabled():
        assert "cannot run HVM guests" in page.radios[Source.ISO].toolTip()
    page.kernel_path.setText("/root/guest/vmlinuz")
    page.initrd_path.setText("/root/guest/initrd.gz")
    page.pv_args.setText("console=hvc0 quiet")
    driver.settle()
    name = f"{PREFIX}xen-new-{uuid.uuid4().hex[:6]}"
    driver.through_to_summary(name=name, accel="xen", hypervisor=("xen", "xen"),
                              memory_mib=96, disk=False, graphics="none")
    key = driver.create(timeout=300)
    conn = libvirt.open(xen_host["uri"])
    try:
        _until(aloop, lambda: stack.vm_state(name) is VMState.RUNNING, 180)
        dom = domxml.parse(conn.lookupByUUIDString(key).XMLDesc(0))
        assert dom.os.type in ("linux", "xen") and dom.os.kernel == "/root/guest/vmlinuz"
        assert stack.vm_node(name).obj.virtualization == "Paravirtualized (Xen PV)"
    finally:
        target = conn.lookupByUUIDString(key)
        with contextlib.suppress(libvirt.libvirtError):
            target.destroy()
        target.undefine()
        conn.close()
