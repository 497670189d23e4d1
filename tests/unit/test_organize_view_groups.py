"""The tree's grouped views, built from plain VM records, and the chosen view kept across
a restart."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from app import preferences
from app.inventory import InventoryFilterProxy, InventoryModel
from app.inventory.nodes import Node, NodeKind
from app.inventory.view_switcher import ViewSwitcher
from app.inventory.views import View, ViewKind, build
from connectors.libvirt.model import VMInfo, VMState


def vm(name, tags=(), folder="", fields=(), state=VMState.RUNNING):
    return VMInfo(key=f"uuid-{name}", name=name, state=state, state_reason="",
                  domain_type="kvm", os_type="hvm", arch="x86_64", virtualization="",
                  vcpus=1, max_vcpus=1, memory_kib=1024, max_memory_kib=1024,
                  persistent=True, autostart=False, managed_save=False, tags=tags,
                  folder=folder, custom_fields=fields)


def nodes(*vms):
    return [Node(NodeKind.VM, "c1", v.key, v, sort_key=(0, v.name.casefold(), v.name, v.key))
            for v in vms]


def outline(group, depth=0):
    lines = []
    for sub in group.groups:
        lines.append("  " * depth + f"{sub.title} ({sub.total})")
        lines.extend(outline(sub, depth + 1))
    lines.extend("  " * depth + leaf.node.obj.name for leaf in group.leaves)
    return lines


LAB = nodes(vm("web-2", ("web", "eu"), "/prod/web", (("cost", "10"),)),
            vm("web-1", ("web",), "/prod/web", (("cost", "9"),)),
            vm("db", ("db",), "/prod", state=VMState.SHUTOFF),
            vm("scratch"))


def test_folders_nest_and_vms_without_one_come_last():
    root, _ = build(View(ViewKind.FOLDER), LAB)
    assert outline(root) == ["prod (3)", "  web (2)", "    web-1", "    web-2", "  db",
                             "Not in a folder (1)", "  scratch"]


def test_a_vm_is_under_each_of_its_tags():
    root, rows = build(View(ViewKind.TAG), LAB)
    assert outline(root) == ["db (1)", "  db", "eu (1)", "  web-2", "web (2)", "  web-1",
                             "  web-2", "No tags (1)", "  scratch"]
    assert len(rows[("c1", "uuid-web-2")]) == 2


def test_states_and_field_values_group_too():
    root, _ = build(View(ViewKind.STATE), LAB)
    assert [g.title for g in root.groups] == ["Running", "Shut off"]
    root, _ = build(View(ViewKind.FIELD, "cost"), LAB,
                    order=lambda t: (0, float(t), t) if t[0].isdigit() else (1, 0.0, t))
    assert outline(root)[:4] == ["9 (1)", "  web-1", "10 (1)", "  web-2"]
    assert outline(root)[4] == "No cost (2)"


def test_the_chosen_view_is_kept_across_a_restart(qapp, tmp_path):
    def switcher():
        prefs = preferences.Preferences(QSettings(str(tmp_path / "p.conf"),
                                                  QSettings.Format.IniFormat))
        proxy = InventoryFilterProxy()
        return ViewSwitcher(InventoryModel(), proxy, prefs), proxy
    first, _proxy = switcher()
    assert first.view == View()
    first.set_view(View(ViewKind.FIELD, "cost"))
    again, proxy = switcher()
    assert again.view == View(ViewKind.FIELD, "cost")
    assert proxy.sourceModel() is again.grouped
    assert View.from_key("field:") == View() and View.from_key("nonsense") == View()
