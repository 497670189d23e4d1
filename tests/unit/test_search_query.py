"""The search language, parsed and evaluated with no Qt: what each term finds among a
handful of hand-made VMs, and what a malformed query says and where."""
from __future__ import annotations

import math

import pytest

from app.search.compile import compile_query, item_of
from app.search.index import SearchIndex
from app.search.query import And, Not, Or, QueryError, Term, parse
from connectors.libvirt.model import VMInfo, VMState


def vm(name, state=VMState.RUNNING, *, tags=(), folder="", fields=(), mem_mib=1024,
       vcpus=2, description="", arch="x86_64", domain_type="kvm", os_id=""):
    return VMInfo(key=f"uuid-{name}", name=name, state=state, state_reason="",
                  domain_type=domain_type, os_type="hvm", arch=arch,
                  virtualization="Hardware-assisted (KVM + QEMU)", vcpus=vcpus,
                  max_vcpus=vcpus, memory_kib=mem_mib * 1024, max_memory_kib=mem_mib * 1024,
                  persistent=True, autostart=False, managed_save=False,
                  description=description, tags=tuple(tags), folder=folder,
                  custom_fields=tuple(fields), os_id=os_id)


FLEET = {
    "web-01": (vm("web-01", tags=("web", "Prod"), folder="/prod/web", mem_mib=2048,
                  fields=(("owner", "Alice"), ("cost", "120"))), "kvm1", 72.0),
    "web-02": (vm("web-02", VMState.SHUTOFF, tags=("web",), folder="/prod/web",
                  fields=(("owner", "bob"), ("expires", "2026-06-30"))), "kvm1", math.nan),
    "db-01": (vm("db-01", tags=("db", "prod"), folder="/prod/db", mem_mib=8192, vcpus=8,
                 description="Primary PostgreSQL server", os_id="http://debian.org/debian/12",
                 fields=(("cost", "99.5"), ("expires", "2027-03-01"))), "kvm2", 35.0),
    "build": (vm("build", VMState.PAUSED, folder="/production", arch="aarch64",
                 description="CI runner"), "kvm2", 10.0),
    "scratch": (vm("scratch web test", VMState.SUSPENDED, tags=("test",)), "xen1", math.nan),
}


@pytest.fixture
def index():
    idx = SearchIndex()
    for vm_, host, _cpu in FLEET.values():
        scheme = "xen" if host.startswith("xen") else "qemu"
        idx.put(item_of(host, host, f"{scheme}+ssh://{host}/system", vm_))
    return idx


def cpu_of(item):
    for vm_, _host, cpu in FLEET.values():
        if vm_.key == item.vm.key:
            return cpu
    return math.nan


def found(index, text):
    query = compile_query(text, cpu_of)
    return sorted(item.vm.name for item in index.search(query))


@pytest.mark.parametrize("text, names", [
    ("", ["build", "db-01", "scratch web test", "web-01", "web-02"]),
    ("web", ["scratch web test", "web-01", "web-02"]),
    ("postgresql", ["db-01"]),                              # bare words: description too
    ('"web test"', ["scratch web test"]),
    ("name:web-0", ["web-01", "web-02"]),
    ("tag:web", ["web-01", "web-02"]),
    ("tag:PROD", ["db-01", "web-01"]),                      # tags: any case
    ("tag:pro*", ["db-01", "web-01"]),
    ("state:running", ["db-01", "web-01"]),
    ("state:off", ["web-02"]),
    ('state:"shut off"', ["web-02"]),
    ("state:inactive", ["scratch web test", "web-02"]),
    ("folder:/prod", ["db-01", "web-01", "web-02"]),        # not /production
    ("folder:/prod/web/", ["web-01", "web-02"]),
    ("folder:prod/db", ["db-01"]),
    ("host:kvm2", ["build", "db-01"]),
    ("host:qemu+ssh", ["build", "db-01", "web-01", "web-02"]),   # the URI counts too
    ("os:aarch64", ["build"]),
    ("os:debian", ["db-01"]),
    ("owner:alice", ["web-01"]),                            # custom field, whole value
    ("owner:ali", []),
    ("cost>100", ["web-01"]),
    ("cost<=99.5", ["db-01"]),
    ("expires<2027-01-01", ["web-02"]),
    ("cpu>50", ["web-01"]),
    ("cpu<50", ["build", "db-01"]),                         # no sample: no comparison holds
    ("cpu!=72", ["build", "db-01"]),
    ("mem>2G", ["db-01"]),
    ("mem>=2G", ["db-01", "web-01"]),
    ("mem:2048", ["web-01"]),                               # a bare number is MiB
    ("mem<1.5g", ["build", "scratch web test", "web-02"]),
    ("vcpus>=4", ["db-01"]),
    ("tag:web AND state:running AND cpu>50", ["web-01"]),
    ("tag:web state:running", ["web-01"]),                  # side by side: AND
    ("tag:db OR tag:test", ["db-01", "scratch web test"]),
    ("NOT tag:web", ["build", "db-01", "scratch web test"]),
    ("not (tag:web or tag:db) and not state:paused", ["scratch web test"]),
    ("(host:kvm1 OR host:kvm2) AND NOT state:running", ["build", "web-02"]),
    ("tag!=web", ["build", "db-01", "scratch web test"]),
    ('"not"', []),                                          # a quoted keyword is a word
])
def test_each_term_finds_what_it_says(index, text, names):
    assert found(index, text) == names


def test_the_index_narrows_by_tag_and_state_and_agrees_with_a_full_walk(index):
    query = compile_query("tag:web AND state:running AND cpu>50", cpu_of)
    assert query.required_tags == {"web"}
    assert query.required_states == {VMState.RUNNING}
    assert query.uses_cpu
    assert [i.vm.name for i in index.candidates(query)] == ["web-01"]
    walked = [i.vm.name for i in index if query.predicate(i)]
    assert walked == ["web-01"]


def test_an_or_at_the_top_does_not_narrow(index):
    query = compile_query("tag:web OR state:paused")
    assert query.required_tags == frozenset() and query.required_states is None
    assert found(index, "tag:web OR state:paused") == ["build", "web-01", "web-02"]


def test_the_index_follows_changes(index):
    from dataclasses import replace
    web01 = FLEET["web-01"][0]
    index.put(item_of("kvm1", "kvm1", "", replace(web01, tags=("db",),
                                                 state=VMState.SHUTOFF)))
    assert found(index, "tag:web") == ["web-02"]
    assert found(index, "tag:db state:off") == ["web-01"]
    index.remove(("kvm1", web01.key))
    assert found(index, "tag:db") == ["db-01"]
    index.remove_host("kvm2")
    assert found(index, "") == ["scratch web test", "web-02"]


def test_completion_lists(index):
    assert index.tags() == ["db", "Prod", "test", "web"]
    assert index.folders() == ["/prod", "/prod/db", "/prod/web", "/production"]
    assert index.hosts() == ["kvm1", "kvm2", "xen1"]
    assert index.custom_field_names() == ["cost", "expires", "owner"]


def test_the_syntax_tree():
    assert parse("a b OR NOT c:\"x y\"") == Or((
        And((Term("", ":", "a", 0), Term("", ":", "b", 2))),
        Not(Term("c", ":", "x y", 11, quoted=True))))
    assert parse("   ") is None
    assert parse("CPU>=5") == Term("cpu", ">=", "5", 0)


@pytest.mark.parametrize("text, position, words", [
    ("(tag:web", 0, "not closed"),
    ("tag:web)", 7, "closes nothing"),
    ('name:"web', 5, "not closed"),
    ("cpu>", 4, "needs a value"),
    ("tag:web AND", 11, "stops where a term should follow"),
    ("OR tag:web", 0, "needs a term on its left"),
    ("tag:web AND OR x", 12, "needs a term on its left"),
    ("a ! b", 2, "not a comparison"),
    ("()", 0, "empty parentheses"),
    ("state:runing", 0, "no state is called “runing”"),
    ("cpu>lots", 0, "compared with a number"),
    ("mem>2X", 0, "not a memory size"),
    ("name>5", 0, "is text"),
    ("cost>soon", 0, "neither a number nor a date"),
    ("tag:AND", 4, "quote it"),
    (":web", 0, "where a term should be"),
])
def test_malformed_queries_say_what_and_where(text, position, words):
    with pytest.raises(QueryError) as caught:
        compile_query(text)
    assert caught.value.position == position
    assert words in caught.value.message
    assert f"column {position + 1}" in str(caught.value)


def test_deep_nesting_is_refused_not_a_crash():
    with pytest.raises(QueryError, match="nests deeper"):
        parse("(" * 500 + "a" + ")" * 500)
    with pytest.raises(QueryError, match="nests deeper"):
        parse("NOT " * 500 + "a")
    assert parse("(" * 20 + "a" + ")" * 20) == Term("", ":", "a", 20)


def test_saved_searches_file_round_trip_and_damage(tmp_path):
    from app.search.saved import SavedSearch, SavedSearches
    path = tmp_path / "searches.json"
    store = SavedSearches(path)
    store.save(SavedSearch("Web", "tag:web", "tag", ("name", "cpu")))
    store.save(SavedSearch("Off", "state:off"))
    with pytest.raises(ValueError, match="already a saved search"):
        store.save(SavedSearch("WEB", "x"))
    with pytest.raises(QueryError):
        store.save(SavedSearch("Bad", "(x"))
    store.rename("Off", "Stopped")
    again = SavedSearches(path)
    assert [(s.name, s.query, s.group_by, s.columns) for s in again] == [
        ("Web", "tag:web", "tag", ("name", "cpu")),
        ("Stopped", "state:off", "", ("name", "state", "host", "cpu", "mem", "tags",
                                      "folder"))]
    assert not list(tmp_path.glob(".searches.json.*")), "no temporary file left behind"
    path.write_text("{not json")
    damaged = SavedSearches(path)
    assert len(damaged) == 0
    assert "moved to" in damaged.warnings[0]
    assert list(tmp_path.glob("searches.json.corrupt-*"))


def test_the_guest_os_is_read_from_libosinfo_metadata_by_the_connector(tmp_path):
    """libvirt's test driver keeps a domain's metadata as given: the connector's reader
    hands the libosinfo id on, and os: finds it."""
    import libvirt

    from connectors.libvirt.inventory_read import read_all_vms
    node = tmp_path / "host.xml"
    node.write_text("""<node><domain type='test'><name>deb</name>
      <metadata><libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>
        <libosinfo:os id='http://debian.org/debian/12'/></libosinfo:libosinfo></metadata>
      <memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
      <domain type='test'><name>other</name><memory>1048576</memory><vcpu>1</vcpu>
      <os><type>hvm</type></os></domain></node>""")
    conn = libvirt.open(f"test://{node}")
    try:
        vms = {v.name: v for v in read_all_vms(conn, "test")}
    finally:
        conn.close()
    assert vms["deb"].os_id == "http://debian.org/debian/12" and vms["other"].os_id == ""
    idx = SearchIndex()
    idx.put_all(item_of("h", "h", "test:///", v) for v in vms.values())
    assert [i.vm.name for i in idx.search(compile_query("os:debian"))] == ["deb"]
    from app.search.results import os_label
    assert os_label(vms["deb"]) == f"debian/12 (hvm {vms['deb'].arch})"
