"""The query bar's parser and compiler under hypothesis: whatever a user types or pastes,
the answer is a query or one QueryError with a column inside the text, never another
exception, a hang or a RecursionError. The same for completion, and for a searches file
being imported: read, or refused with one SearchFileError."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from app.search.compile import compile_query, item_of
from app.search.query import MAX_LENGTH, QueryError
from connectors.libvirt.model import VMInfo, VMState

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# Pieces a query is made of, so that most examples get past the first token.
PIECES = st.sampled_from([
    "tag:", "state:", "folder:", "host:", "os:", "name:", "cpu", "mem", "vcpus", "owner:",
    "cost", ">", ">=", "<", "<=", "=", "!=", "!", ":", "(", ")", '"', '\\"', "\\", " ",
    "AND ", "OR ", "NOT ", "and", "not", "web", "running", "off", "/prod", "/", "2G",
    "1.5T", "50", "-3", "nan", "inf", "1e309", "2026-01-01", "*", "?", "é", "\x00", "\t"])

TEXT = st.one_of(st.text(max_size=80), st.lists(PIECES, max_size=40).map("".join))

ITEM = item_of("h", "host", "test:///default", VMInfo(
    key="k", name="web-01", state=VMState.RUNNING, state_reason="", domain_type="kvm",
    os_type="hvm", arch="x86_64", virtualization="", vcpus=2, max_vcpus=2,
    memory_kib=1 << 20, max_memory_kib=1 << 20, persistent=True, autostart=False,
    managed_save=False, tags=("web",), folder="/prod/web",
    custom_fields=(("owner", "alice"), ("cost", "12"))))


@FUZZ
@given(TEXT)
def test_any_text_compiles_or_raises_one_query_error_with_a_position(text):
    try:
        query = compile_query(text, lambda item: 42.0)
    except QueryError as exc:
        assert 0 <= exc.position <= max(len(text), MAX_LENGTH)
        assert exc.message
        return
    assert isinstance(query.predicate(ITEM), bool)


@FUZZ
@given(st.integers(min_value=0, max_value=3000), st.sampled_from(["(", "NOT ", "( NOT "]))
def test_deep_nesting_never_overflows_the_stack(depth, opener):
    text = opener * depth + "web" + ")" * (depth * opener.count("("))
    try:
        query = compile_query(text)
    except QueryError as exc:
        assert "nests deeper" in exc.message or "longer than" in exc.message
        return
    assert isinstance(query.predicate(ITEM), bool)


@FUZZ
@given(st.lists(st.sampled_from(["tag:web", "state:running", "cpu>50", "mem>2G", "web",
                                 "owner:alice", "folder:/prod"]), min_size=1, max_size=6),
       st.lists(st.sampled_from([" AND ", " OR ", " "]), min_size=5, max_size=5),
       st.floats(allow_nan=True))
def test_a_long_or_and_chain_evaluates_as_python_would(terms, joins, cpu):
    text = terms[0] + "".join(j + t for j, t in zip(joins, terms[1:], strict=False))
    truth = {"tag:web": True, "state:running": True, "cpu>50": cpu > 50,
             "mem>2G": False, "web": True, "owner:alice": True, "folder:/prod": True}
    expected = text
    for term, value in truth.items():
        expected = expected.replace(term, f" {value} ")
    expected = expected.replace(" AND ", " and ").replace(" OR ", " or ")
    # Side by side is AND: binds like AND, tighter than OR.
    tokens = expected.split()
    python = []
    for token in tokens:
        if python and python[-1] in ("True", "False") and token in ("True", "False"):
            python.append("and")
        python.append(token)
    assert compile_query(text, lambda item: cpu).predicate(ITEM) is eval(" ".join(python))


@FUZZ
@given(TEXT, st.integers(min_value=0, max_value=200))
def test_completion_never_fails_and_replaces_inside_the_text(text, cursor):
    from app.search.completion import complete
    from app.search.index import SearchIndex
    index = SearchIndex()
    index.put(ITEM)
    cursor = min(cursor, len(text))
    done = complete(text, cursor, index)
    assert 0 <= done.start <= done.end == cursor
    assert all(isinstance(c, str) and c for c in done.candidates)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["format", "version", "searches", "name", "query", "group_by",
                         "columns", "x"]), inner, max_size=5), max_leaves=20)


@FUZZ
@given(st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda doc: json.dumps(doc).encode()),
    st.lists(st.fixed_dictionaries({}, optional={
        "name": JSON, "query": JSON | TEXT, "group_by": JSON, "columns": JSON}), max_size=4
    ).map(lambda entries: json.dumps(
        {"format": "hvconsole-searches", "version": 1, "searches": entries}).encode())))
def test_a_searches_file_is_read_or_refused_with_one_error(raw):
    from app.search.saved import GROUPINGS, SearchFileError, from_document
    try:
        searches, skipped = from_document(raw)
    except SearchFileError as exc:
        assert str(exc)
        return
    for search in searches:
        assert search.name.strip() and isinstance(search.query, str)
        assert search.group_by in GROUPINGS and search.columns
    assert all(isinstance(s, str) for s in skipped)
