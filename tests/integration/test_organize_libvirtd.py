"""Tags, folder, fields and description on a real QEMU domain of the shared libvirtd:
written by the app into the running domain and its definition (virsh sees them under our
namespace), written by virsh from outside and shown by the app by themselves, and still
there when the app starts again.
"""
from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from connectors.libvirt.domxml import organize
from connectors.libvirt.domxml.organize import ORGANIZE_NS, OrgChange
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack

pytestmark = [pytest.mark.integration]


def virsh(uri: str, *args: str) -> str:
    return subprocess.run(["virsh", "-c", uri, *args], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def stored(uri: str, name: str, scope: str) -> organize.Organization:
    """What ``virsh metadata`` shows of our entry (``--live`` or ``--config``)."""
    text = virsh(uri, "metadata", name, ORGANIZE_NS, scope)
    root = ET.fromstring(text)
    assert root.tag == "organize"       # virsh prints the element without its prefix
    return organize.from_text(text)


async def _opened(stack: AppStack, uri: str, name: str) -> str:
    conn_id = await stack.open(uri)
    await wait_until(lambda: stack.host_state(conn_id) is ConnState.CONNECTED, 30)
    await wait_until(lambda: stack.vm_node(name) is not None, 15)
    return conn_id


def test_organize_a_running_qemu_vm_and_see_virsh_changes(qapp, aloop, libvirt_uri,
                                                          guest_factory):
    guest = guest_factory("organize", start=True)
    name = guest.name

    async def story():
        stack = AppStack()
        await _opened(stack, libvirt_uri, name)
        try:
            node = stack.vm_node(name)
            stack.commands.organize.apply(
                [node], OrgChange(replace_tags=("web", "eu"), folder="/prod/web",
                                  replace_fields=(("owner", "alice"),)), "Front end")
            await wait_until(lambda: stack.vm_node(name).obj.folder == "/prod/web", 15)
            for scope in ("--live", "--config"):
                org = stored(libvirt_uri, name, scope)
                assert (org.tags, org.folder, org.custom_fields) == (
                    ("eu", "web"), "/prod/web", (("owner", "alice"),))
            assert virsh(libvirt_uri, "desc", name, "--config").strip() == "Front end"
            # From outside, as another console or a script would: the tree follows.
            virsh(libvirt_uri, "metadata", name, ORGANIZE_NS, "--key", "hvconsole",
                  "--set", "<organize><tag>db</tag><folder>/prod/db</folder></organize>",
                  "--live", "--config")
            await wait_until(lambda: stack.vm_node(name).obj.tags == ("db",)
                             and stack.vm_node(name).obj.folder == "/prod/db")
            assert any("Tags, folder or fields changed" in m for m in stack.messages())
        finally:
            await stack.close()
        # The app starts again: everything is read back from the domain itself.
        again = AppStack()
        await _opened(again, libvirt_uri, name)
        try:
            vm = again.vm_node(name).obj
            assert (vm.tags, vm.folder, vm.description) == (("db",), "/prod/db",
                                                            "Front end")
        finally:
            await again.close()

    aloop.run_until_complete(story())
