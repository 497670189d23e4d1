"""The Storage tab and the New Storage Pool wizard in the real window, on the real
libvirtd, as a user goes through them: a pool made with the wizard appears in the tree
with its capacity bar; volumes are made, uploaded and deleted from the page; a volume a
VM uses cannot be deleted and the button says who uses it; the pool is deleted with its
data after a question that says so. Only the human is scripted (answers, file names)."""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app.inventory import NodeKind
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack, ScriptedPrompter
from tests.integration.conftest import PREFIX, _remove_domain

pytestmark = pytest.mark.integration

MIB = 1 << 20
WORK = Path("/var/lib/hvconsole-test")


@dataclass
class Chooser(ScriptedPrompter):
    """Also answers the delete-pool question with ``choice`` (an option's index)."""

    choice: int | None = 1
    choices: tuple = ()

    def choose(self, title: str, text: str, options: list[str]) -> int | None:
        self.asked.append(text)
        self.choices = tuple(options)
        return self.choice


@pytest.fixture
def window(aloop, libvirt_uri):
    from widgets.main_window import MainWindow
    QApplication.instance().setQuitOnLastWindowClosed(False)
    stack = AppStack()
    stack.prompter = Chooser()
    stack.commands.ctx.prompter = stack.prompter
    win = MainWindow(stack.manager, stack.inventory, stack.events_log, stack.tasks,
                     stack.commands, stack.prompter)
    win.show()
    conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    aloop.run_until_complete(stack.manager.wait_attempt(conn_id, 30))
    name = f"{PREFIX}ui-{uuid.uuid4().hex[:6]}"
    yield win, stack, conn_id, name
    win.close()
    aloop.run_until_complete(stack.close())
    import libvirt
    conn = libvirt.open(libvirt_uri)
    try:
        _remove_domain(conn, f"{name}-vm")
        for pool in conn.listAllStoragePools(0):
            if pool.name() == name:
                if pool.isActive():
                    for vol in pool.listAllVolumes(0):
                        vol.delete(0)
                    pool.destroy()
                pool.undefine()
    finally:
        conn.close()
    shutil.rmtree(WORK / name, ignore_errors=True)


def until(aloop, predicate, timeout: float = 20) -> None:
    aloop.run_until_complete(wait_until(predicate, timeout))


def rows(tab):
    model = tab.volumes.model
    return [[model.index(r, c).data() for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def test_a_pool_made_in_the_wizard_holds_volumes_and_goes_with_its_data(
        aloop, window, tmp_path, libvirt_uri):
    win, stack, conn_id, name = window
    host = stack.manager.host(conn_id)
    win.tree.select_node(conn_id, conn_id)
    assert stack.commands.new_pool.action.isEnabled()
    stack.commands.new_pool.action.trigger()
    until(aloop, lambda: win.wizards.open_dialog is not None)
    wizard = win.wizards.open_dialog
    wizard.type_page.name.setText(name)
    wizard.next()
    wizard.source_page.target.setText(str(WORK / name))
    wizard.next()
    assert wizard.options_page.build.isChecked(), "a directory is made when missing"
    wizard.accept()
    until(aloop, lambda: any(p.name == name for p in host.pools()))
    pool = next(p for p in host.pools() if p.name == name)
    assert (WORK / name).is_dir() and pool.active and pool.autostart
    until(aloop, lambda: win.tree.select_node(conn_id, pool.key))
    win.tabs.setCurrentWidget(win.storage_tab)
    tab = win.storage_tab
    assert tab.title.text() == name
    assert tab.bar.text().endswith("free") and " used of " in tab.bar.text()
    assert [a.text() for a in win._context_actions([stack.inventory.node(conn_id,
                                                                          pool.key)])
            if a is not None][:3] == ["&Start Pool", "S&top Pool", "&Refresh Pool"]

    # The pool's commands: what applies is on, the rest says why not.
    commands = stack.commands
    assert not commands.start_pool.action.isEnabled()
    assert f"{name}: active; it must be stopped" in commands.start_pool.action.toolTip()
    assert commands.autostart_pool.action.isChecked()
    commands.autostart_pool.action.trigger()
    until(aloop, lambda: not next(p for p in host.pools() if p.name == name).autostart)
    until(aloop, lambda: not commands.autostart_pool.action.isChecked())
    commands.stop_pool.action.trigger()
    until(aloop, lambda: tab.message.text().startswith("This pool is stopped"))
    assert not tab.new_volume_action.isEnabled()
    assert tab.new_volume_action.toolTip() == "New Volume: start the pool first (Ins)"
    until(aloop, lambda: commands.start_pool.action.isEnabled())
    commands.start_pool.action.trigger()
    until(aloop, lambda: tab.new_volume_action.isEnabled())
    events = [stack.events_log.index(r, 3).data() for r in range(stack.events_log.rowCount())]
    assert any(e.startswith(f"Stopping pool {name}") for e in events), events

    # New Volume: the dialog refuses a bad size, then makes the volume.
    dialog = tab.new_volume()
    dialog.name.setText("disk.qcow2")
    dialog.size_edit.setText("-3")
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.size_edit.setText("32 MiB")
    dialog.accept()
    until(aloop, lambda: [r[0] for r in rows(tab)] == ["disk.qcow2"])
    assert rows(tab)[0][1:4] == ["qcow2", "32 MiB", rows(tab)[0][3]]

    # Upload: a sparse local file becomes a volume, with the task in the log.
    local = tmp_path / "tiny.iso"
    with open(local, "wb") as out:
        out.truncate(8 * MIB)
        out.write(b"CD001")
    tab.choose_file = lambda title, saving: str(local)
    tab.upload()
    until(aloop, lambda: "tiny.iso" in [r[0] for r in rows(tab)])
    assert (WORK / name / "tiny.iso").read_bytes()[:5] == b"CD001"

    # A VM uses disk.qcow2: Delete and Wipe are off, and say who uses it.
    import libvirt
    conn = libvirt.open(libvirt_uri)
    try:
        conn.defineXML(f"""<domain type='qemu'><name>{name}-vm</name>
          <memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>
          <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='{WORK / name / "disk.qcow2"}'/><target dev='vdb' bus='virtio'/>
          </disk></devices></domain>""")
    finally:
        conn.close()
    until(aloop, lambda: any(r[4] == f"{name}-vm (vdb)" for r in rows(tab)))
    row = [r[0] for r in rows(tab)].index("disk.qcow2")
    tab.table.selectRow(row)
    assert not tab.delete_volume_action.isEnabled()
    assert tab.delete_volume_action.toolTip() == \
        f"Delete Volume: used by {name}-vm (vdb) (Shift+Del)"
    assert not tab.wipe_action.isEnabled()

    # The other volume can go; the question names it.
    tab.table.selectRow([r[0] for r in rows(tab)].index("tiny.iso"))
    asked = []
    tab.confirm = lambda title, text, verb: asked.append((text, verb)) or True
    tab.delete_volume()
    until(aloop, lambda: [r[0] for r in rows(tab)] == ["disk.qcow2"])
    assert asked[0][0].startswith("Delete the volume tiny.iso")
    assert asked[0][1] == "Delete Volume"

    # Deleting the pool with its data is refused while the VM uses a volume...
    stack.prompter.choice = 1
    stack.commands.delete_pool.action.trigger()
    assert "every volume in it" in stack.prompter.asked[-1]
    assert stack.prompter.choices == ("Remove the definition only",
                                      "Delete the volumes and the pool")
    until(aloop, lambda: stack.tasks.active() == [])
    until(aloop, lambda: any("uses disk.qcow2" in e for e in _errors(stack)))
    assert (WORK / name / "disk.qcow2").exists()
    # ... and done once the VM is gone.
    conn = libvirt.open(libvirt_uri)
    _remove_domain(conn, f"{name}-vm")
    conn.close()
    until(aloop, lambda: all(r[4] == "—" for r in rows(tab)))
    stack.commands.delete_pool.action.trigger()
    until(aloop, lambda: all(p.name != name for p in host.pools()))
    assert not (WORK / name).exists()
    assert any(n.kind is NodeKind.POOL for n in [stack.inventory.node(conn_id, conn_id)]) \
        is False


def _errors(stack) -> list[str]:
    log = stack.events_log
    return [log.index(r, 3).data() for r in range(log.rowCount())
            if log.index(r, 1).data() == "Error"]


def test_an_upload_cancelled_from_its_task_leaves_no_volume(aloop, window, tmp_path):
    win, stack, conn_id, name = window
    host = stack.manager.host(conn_id)
    from connectors.libvirt.storage_ops import NewPool
    from connectors.libvirt.storage_xml import PoolSpec
    key = aloop.run_until_complete(host.storage.define_pool(NewPool(
        PoolSpec(name, "dir", target_path=str(WORK / name)), build=True, autostart=False)))
    until(aloop, lambda: win.tree.select_node(conn_id, key))
    tab = win.storage_tab
    local = tmp_path / "big.img"
    with open(local, "wb") as out:        # all data: a few seconds to send
        for _ in range(24):
            out.write(os.urandom(8 * MIB))
    tab.choose_file = lambda title, saving: str(local)
    tab.upload()
    task = stack.tasks.active()[-1]
    assert task.title == "Uploading big.img"
    until(aloop, lambda: (WORK / name / "big.img").exists() or task.done, 30)
    task.cancel()     # while the bytes travel: the volume exists, half full
    until(aloop, lambda: task.done)
    assert task.state.value == "cancelled"

    async def gone():
        for _ in range(100):
            volumes = await host.storage.volumes(key)
            if not volumes and not (WORK / name / "big.img").exists():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"left behind: {volumes}")
    aloop.run_until_complete(gone())
