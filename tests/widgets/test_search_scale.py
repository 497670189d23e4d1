"""Search over the 10,000-VM test inventory (benchmarks/organized_inventory.py: 20
test-driver hosts, tags, folders and fields in each VM's metadata) in the real window:
what the Search tab shows, row for row, for the issue's query shapes. The timing is
benchmarks/search_query.py's, not a test's."""
from __future__ import annotations

import argparse

import pytest

from benchmarks.organized_inventory import ENVS, ROLES, organize_of, runstate_of, write_hosts
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from widgets.launcher import Session
from widgets.search import remembered

VMS, HOSTS = 10_000, 20


@pytest.fixture(scope="module")
def big(qapp, aloop, tmp_path_factory):
    qapp.setQuitOnLastWindowClosed(False)
    remembered.forget()         # a fresh Search tab, whatever an earlier test left
    uris = write_hosts(tmp_path_factory.mktemp("scale"), VMS, HOSTS)
    session = Session(argparse.Namespace(connect=[], show_domain=None, screenshot=None,
                                         debug=False, show_domain_creator=False))
    window = session.build()
    window.show()
    conn_ids = [session.manager.open(uri, save=False) for uri in uris]

    async def loaded():
        await wait_until(lambda: all(session.manager.host(c).state == ConnState.CONNECTED
                                     for c in conn_ids), timeout=120)
        await wait_until(lambda: sum(len(window.inventory.vms(c)) for c in conn_ids) == VMS,
                         timeout=120)
    aloop.run_until_complete(loaded())
    window.search.search_action.trigger()
    assert len(window.search.live.index) == VMS
    yield session
    aloop.run_until_complete(session.shutdown())
    window.close()
    window.deleteLater()


def expected(keep) -> list[str]:
    return [f"vm-{n:05d}" for n in range(VMS) if keep(n)]


def test_tag_and_state_over_ten_thousand_vms(big):
    tab = big.window.search.tab
    tab.query_bar.set_query("tag:web AND state:running")
    rows = tab.shown_rows()
    names = expected(lambda n: n % len(ROLES) == 0 and runstate_of(n) == 1)
    assert [row[0] for row in rows] == names
    assert len(names) > 1000
    first = rows[0]
    assert first[:2] == ["vm-00000", "Running"]
    tags, folder, _fields = organize_of(0)
    assert first[5:7] == [", ".join(sorted(tags)), folder]
    assert tab.status.text() == f"{len(names)} VMs match “tag:web AND state:running”."


def test_folder_and_field_grouped_by_folder(big):
    tab = big.window.search.tab
    tab.group_box.setCurrentIndex(tab.group_box.findData("folder"))
    try:
        tab.query_bar.set_query("folder:/prod owner:alice NOT tag:backup")
        rows = tab.shown_rows()

        def keep(n):
            tags, folder, fields = organize_of(n)
            return folder.startswith("/prod/") and dict(fields)["owner"] == "alice" \
                and "backup" not in tags
        groups = {}
        for n in range(VMS):
            if keep(n):
                groups.setdefault(organize_of(n)[1], []).append(f"vm-{n:05d}")
        want = []
        for folder in sorted(groups):
            want.append(f"{folder} ({len(groups[folder])})")
            want += groups[folder]
        assert [row[0] for row in rows] == want
        assert all(g.startswith("/prod/") for g in groups) and ENVS[0] == "prod"
    finally:
        tab.group_box.setCurrentIndex(tab.group_box.findData(""))
