"""Pictures of the Storage and Networking pages and their wizards, on the local libvirtd.

Makes a small scene (a directory pool with volumes, one used by a shut-off VM, and a NAT
network), drives the real main window to each page under the current display (run it
under xvfb-run), saves PNGs into the folder given (default /tmp/hvconsole-admin), and
removes the scene again. For README pictures and for looking at what a user sees.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot-admin.py DIR
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

URI = "qemu:///system"
POOL, NET, VM = "hvshot-images", "hvshot-lab", "hvshot-web"
POOL_DIR = Path("/var/lib/hvconsole-test") / POOL


def virsh(*args: str) -> None:
    subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True)


def make_scene() -> None:
    clear_scene()
    POOL_DIR.mkdir(parents=True, exist_ok=True)
    virsh("pool-define-as", POOL, "dir", "--target", str(POOL_DIR))
    virsh("pool-start", POOL)
    virsh("vol-create-as", POOL, "web-disk.qcow2", "20G", "--format", "qcow2")
    virsh("vol-create-as", POOL, "scratch.raw", "512M", "--format", "raw")
    virsh("vol-create-as", POOL, "debian-12.iso", "64M", "--format", "raw")
    xml = Path("/tmp/hvshot-net.xml")
    xml.write_text(f"<network><name>{NET}</name><forward mode='nat'/>"
                   "<domain name='lab.example' localOnly='yes'/>"
                   "<ip address='10.252.20.1' netmask='255.255.255.0'><dhcp>"
                   "<range start='10.252.20.100' end='10.252.20.200'/>"
                   "<host mac='52:54:00:aa:bb:01' name='web' ip='10.252.20.10'/>"
                   "</dhcp></ip></network>")
    virsh("net-define", str(xml))
    virsh("net-start", NET)
    dom = Path("/tmp/hvshot-vm.xml")
    dom.write_text(f"<domain type='qemu'><name>{VM}</name><memory unit='MiB'>64</memory>"
                   "<os><type arch='x86_64'>hvm</type></os><devices>"
                   "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                   f"<source file='{POOL_DIR}/web-disk.qcow2'/><target dev='vda' "
                   "bus='virtio'/></disk><interface type='network'>"
                   f"<mac address='52:54:00:aa:bb:01'/><source network='{NET}'/>"
                   "<model type='virtio'/></interface></devices></domain>")
    virsh("define", str(dom))


def clear_scene() -> None:
    virsh("undefine", VM)
    virsh("net-destroy", NET)
    virsh("net-undefine", NET)
    for vol in ("web-disk.qcow2", "scratch.raw", "debian-12.iso"):
        virsh("vol-delete", vol, "--pool", POOL)
    virsh("pool-destroy", POOL)
    virsh("pool-undefine", POOL)
    if POOL_DIR.exists():
        for leftover in POOL_DIR.iterdir():
            leftover.unlink()
        POOL_DIR.rmdir()


async def settle(seconds: float = 0.8) -> None:
    await asyncio.sleep(seconds)


async def shoot(out: Path) -> None:
    from types import SimpleNamespace

    from widgets.launcher import Session
    session = Session(SimpleNamespace(connect=[URI], screenshot=None, show_domain=None))
    window = session.build()          # the window as the app composes it
    window.resize(1280, 800)
    window.show()
    conn_id = session.manager.open(URI, save=False)
    await session.manager.wait_attempt(conn_id, 30)
    await settle(1.5)
    host = session.manager.host(conn_id)
    pool = next(p for p in host.pools() if p.name == POOL)
    net = next(n for n in host.networks() if n.name == NET)
    window.tree.expandAll()

    window.tree.select_node(conn_id, pool.key)
    window.tabs.setCurrentWidget(window.storage_tab)
    await settle(1.5)
    window.storage_tab.table.selectRow(2)
    await settle()
    window.grab().save(str(out / "storage.png"))

    window.tree.select_node(conn_id, net.key)
    window.tabs.setCurrentWidget(window.networking_tab)
    await settle(1.5)
    window.grab().save(str(out / "networking.png"))

    wizard = await window.wizards._new_pool(conn_id)
    wizard.type_page.name.setText("backups")
    await settle(0.3)
    wizard.grab().save(str(out / "new-pool-1.png"))
    wizard.type_page.types.setCurrentRow(2)      # NFS
    wizard.next()
    wizard.source_page.host.setText("127.0.0.1")
    await settle(0.3)
    wizard.grab().save(str(out / "new-pool-2.png"))
    wizard.reject()

    nw = await window.wizards._new_network(conn_id)
    nw.name_page.name.setText("lab2")
    nw.next()
    nw.address_page.ipv4.setText("10.252.20.0/25")
    await settle(0.3)
    nw.grab().save(str(out / "new-network-2.png"))
    nw.reject()
    window.close()
    await session.shutdown()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hvconsole-admin")
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    from widgets.event_loop import AsyncQtLoop
    loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    make_scene()
    try:
        loop.run_until_complete(shoot(out))
    finally:
        clear_scene()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
