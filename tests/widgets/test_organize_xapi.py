"""A XenServer / XCP-ng pool (the XAPI simulator) in the grouped views: its VMs, under
their member servers in the tree, are grouped like any others; Organize says it does not
reach XAPI's own tags yet instead of failing."""
from __future__ import annotations

import pytest

from app.inventory.views import View, ViewKind
from tests.widgets.test_xapi_window import pool_window  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration]


def test_a_pools_vms_in_the_state_view_and_organize_refused(pool_window):  # noqa: F811
    session, conn_id, _shown, _sim = pool_window
    window = session.window
    names = sorted(vm.name for vm in session.inventory.vms(conn_id))
    window.view_switcher.set_view(View(ViewKind.STATE))
    try:
        model = window.tree.model()
        grouped = []
        for row in range(model.rowCount()):
            group = model.index(row, 0)
            grouped += [model.index(r, 0, group).data() for r in range(model.rowCount(group))]
        assert sorted(grouped) == names
    finally:
        window.view_switcher.set_view(View())
    node = session.inventory.node(conn_id, session.inventory.vms(conn_id)[0].key)
    window.commands.set_selection([node])
    organize = window.commands.organize
    assert not organize.action.isEnabled()
    assert "tags and folders of XenServer / XCP-ng pools are not supported yet" in \
        organize.action.toolTip()
