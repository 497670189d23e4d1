"""A host's statistics tick repaints its CPU and Memory cells only where its rows are on
screen: twenty hosts each ticking on their own must not each repaint the rows in sight."""
from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.inventory import (CPU_COLUMN, MEMORY_COLUMN, InventoryFilterProxy, InventoryModel,
                           NodeKind)
from app.inventory.presenter import RowPresenter
from connectors.libvirt.model import Change, InventoryChanged, ObjectKind, VMInfo, VMState
from widgets.tree import InventoryTree
from widgets.usage_delegate import install_usage_columns


def _vms(prefix: str, count: int) -> list[VMInfo]:
    return [VMInfo(key=str(uuid.uuid4()), name=f"{prefix}-{i:03d}", state=VMState.RUNNING,
                   state_reason="booted", domain_type="test", os_type="hvm", arch="x86_64",
                   virtualization="", vcpus=1, max_vcpus=1, memory_kib=1 << 20,
                   max_memory_kib=1 << 20, persistent=True, autostart=False,
                   managed_save=False) for i in range(count)]


@pytest.fixture
def two_hosts(qtbot, monkeypatch):
    """A tree 400×300 with hosts "a" and "b", 50 VMs each, both open: only a's first rows
    fit on screen. ``painted`` collects (host, column) of every VM's usage cell painted
    (a host's own row shows its figures too, and stays in sight); ``cells`` (host,
    column) of every VM cell whose text was asked."""
    painted: set[tuple[str, int]] = set()
    cells: set[tuple[str, int]] = set()
    real_data = RowPresenter.data
    watched: list[RowPresenter] = []   # only this test's: earlier tests' trees may paint

    # What every path to a cell's text asks (data() role by role, multiData all at once).
    def data(self, node, column, role):
        if role == Qt.ItemDataRole.DisplayRole and self in watched and \
                node.kind is NodeKind.VM:
            cells.add((node.conn_id, column))
            if column in (CPU_COLUMN, MEMORY_COLUMN):
                painted.add((node.conn_id, column))
        return real_data(self, node, column, role)

    monkeypatch.setattr(RowPresenter, "data", data)
    model = InventoryModel()
    watched.append(model._presenter)
    proxy = InventoryFilterProxy()
    proxy.setSourceModel(model)
    tree = InventoryTree(proxy)
    install_usage_columns(tree)
    qtbot.addWidget(tree)
    tree.resize(400, 300)
    tree.show()
    for host in ("a", "b"):
        model.add_host(host, f"test:///{host}")
        vms = _vms(host, 50)
        model.apply(host, InventoryChanged(
            tuple(Change(ObjectKind.VM, v.key, v) for v in vms), full=True))
    model.flush()
    qtbot.waitUntil(lambda: tree.isExpanded(proxy.index(0, 0))
                    and tree.isExpanded(proxy.index(1, 0)))
    qtbot.waitExposed(tree)
    qtbot.wait(200)    # becoming the active window repaints everything once
    painted.clear()
    cells.clear()
    return model, proxy, tree, painted, cells


def _settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def test_the_tick_of_a_host_on_screen_repaints_its_usage_cells(two_hosts):
    """Its CPU and Memory cells, not the names and states beside them (for a change
    spanning cells Qt would repaint the whole view)."""
    model, _proxy, tree, painted, cells = two_hosts
    tree.viewport().repaint()
    assert {("a", 0), ("a", 1)} <= cells, "a full repaint asks for names and states"
    cells.clear()
    painted.clear()
    model.usage_changed("a")
    _settle()
    assert ("a", CPU_COLUMN) in painted and ("a", MEMORY_COLUMN) in painted
    assert cells <= {("a", CPU_COLUMN), ("a", MEMORY_COLUMN)}, "only a's usage cells"


def test_the_tick_of_a_host_scrolled_away_repaints_nothing(two_hosts):
    model, _proxy, _tree, painted, _cells = two_hosts
    model.usage_changed("b")
    _settle()
    assert painted == set()


def test_the_tick_of_a_collapsed_host_repaints_nothing(two_hosts):
    """Host "a" closed: host "b"'s rows come into sight, and a's ticks paint nothing."""
    model, proxy, tree, painted, _cells = two_hosts
    tree.collapse(proxy.index(0, 0))
    _settle()
    painted.clear()
    model.usage_changed("a")
    _settle()
    assert painted == set(), "a's tick repainted b's rows in sight"
    model.usage_changed("b")
    _settle()
    assert ("b", CPU_COLUMN) in painted
