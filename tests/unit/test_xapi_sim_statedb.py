"""The simulator reads and writes xapi's own database file (state.db): a hand-written
sample in xapi's format (namespaced fields, sets and maps as S-expressions, escapes,
space protection, fields and tables the simulator does not know) loads with the right
values, and load -> write -> load gives the same database; so does a generated pool."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.xapi_sim_helpers import statedb
from xapi_sim import sexpr
from xapi_sim.generate import generate

SAMPLE = Path(__file__).parent / "data" / "xapi-state-sample.db"
POOL = "OpaqueRef:7a1c0d3e-0000-4000-8000-000000000001"
WEB = "OpaqueRef:7a1c0d3e-0000-4000-8000-000000000004"


def test_the_sample_reads_as_xapi_wrote_it() -> None:
    db = statedb.load(SAMPLE)
    pool = db.tables["pool"][POOL]
    assert pool["name_label"] == "Lab pool"
    assert pool["other_config"] == {"memory-ratio-hvm": "0.25", "note": "it's a \"lab\"%"}
    assert pool["tags"] == ["lab", "rack 3"]
    assert pool["ha_enabled"] is False
    web = db.tables["VM"][WEB]
    assert web["name_description"] == "back\\slash and  old spaces"
    assert web["memory_static_max"] == 2147483648 and web["domid"] == -1
    assert web["HVM_shadow_multiplier"] == 1.5
    assert web["VCPUs_params"] == {"weight": "256"}
    assert web["other_config"]["double"] == 'quoted "x"'
    assert web["blocked_operations"] == {"destroy": "protected"}
    dom0 = db.tables["VM"]["OpaqueRef:7a1c0d3e-0000-4000-8000-000000000003"]
    assert dom0["PV_args"] == "quiet\nconsole=hvc0\tx"
    assert dom0["is_control_domain"] is True
    host = next(iter(db.tables["host"].values()))
    assert host["API_version_major"] == 2 and host["logging"] == "(('syslog_destination' ''))"
    assert db.manifest["generation_count"] == "4711"
    assert "Cluster" in db.tables


def test_the_sample_round_trips(tmp_path: Path) -> None:
    first = statedb.load(SAMPLE)
    statedb.dump(first, tmp_path / "state.db")
    second = statedb.load(tmp_path / "state.db")
    assert second.tables == first.tables
    assert second.manifest == first.manifest
    text = (tmp_path / "state.db").read_text()
    assert 'memory__static_max="2147483648"' in text and 'name__label="web%.01"' in text
    assert 'memory__overhead="0"' in text, "an unknown namespaced field keeps its spelling"


def test_a_generated_pool_round_trips(tmp_path: Path) -> None:
    db = generate(hosts=3, vms=45)
    statedb.dump(db, tmp_path / "pool.db")
    again = statedb.load(tmp_path / "pool.db")
    assert again.tables == db.tables
    vms = again.tables["VM"].values()
    assert sum(1 for v in vms if v["is_control_domain"]) == 3
    assert sum(1 for v in vms if v["is_a_snapshot"]) == 3
    assert {v["power_state"] for v in vms} == {"Running", "Halted", "Paused", "Suspended"}


def test_a_broken_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text('<database><manifest/><table name="VM"><row ref="OpaqueRef:x" '
                   'tags="(\'a\'"/></table></database>')
    try:
        statedb.load(bad)
    except statedb.StateDbError as err:
        assert "VM" in str(err)
    else:
        raise AssertionError("a broken set was accepted")


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, max_size=5), st.dictionaries(texts, texts, max_size=5))
def test_sets_and_maps_survive_the_s_expressions(items: list[str], pairs: dict[str, str]) -> None:
    assert sexpr.load_set(sexpr.unprotect(sexpr.protect(sexpr.dump_set(items)))) == items
    assert sexpr.load_map(sexpr.dump_map(pairs)) == pairs


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        sexpr.loads(text)
    except sexpr.SExprError:
        pass
    assert sexpr.unprotect(sexpr.protect(text)) == text


attribute_values = st.text(st.characters(blacklist_categories=("Cs",),
                                         blacklist_characters="\x00"), max_size=40)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["memory__static_max", "tags", "other_config",
                                        "is_a_template", "HVM__shadow_multiplier",
                                        "snapshot_time", "name__label", "weird__field"]),
                       attribute_values, max_size=5))
def test_any_row_loads_or_is_refused_cleanly(tmp_path_factory, fields: dict[str, str]) -> None:
    from xml.sax.saxutils import quoteattr
    path = tmp_path_factory.mktemp("fuzz") / "state.db"
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in fields.items())
    path.write_text('<database><manifest><pair key="schema_major_vsn" value="5"/></manifest>'
                    f'<table name="VM"><row ref="OpaqueRef:f"{attrs}/></table></database>')
    try:
        db = statedb.load(path)
    except statedb.StateDbError:
        return
    statedb.dump(db, path)
    assert statedb.load(path).tables == db.tables
