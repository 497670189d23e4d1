"""The palette's fuzzy matcher (app/fuzzy.py): what a user typing a name expects first."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.fuzzy import FuzzyIndex, FuzzyQuery, allowed_typos, rank

NAMES = ["web-01", "web-02", "db-primary", "db-replica", "mail", "web-frontend-old",
         "backup-web", "windows-2022", "webserver", "Start VM", "Shut Down VM"]


def test_the_whole_name_comes_before_a_prefix_before_a_word_before_a_substring():
    names = ["xwebx", "backup-web", "web-frontend-old", "web"]
    assert rank("web", names) == ["web", "web-frontend-old", "backup-web", "xwebx"]


def test_a_shorter_name_wins_within_a_rank():
    assert rank("web", ["web-frontend-old", "web-01"])[0] == "web-01"


def test_letters_in_order_with_gaps_find_a_name():
    assert rank("dbrep", NAMES)[0] == "db-replica"
    assert rank("sdvm", NAMES)[0] == "Shut Down VM"


def test_matching_ignores_case():
    assert rank("START", NAMES) == ["Start VM"]


def test_a_typo_in_a_vm_name_still_finds_it():
    # One letter replaced, one dropped, one added: each still finds the VM.
    assert rank("dbreplixa", NAMES)[0] == "db-replica"
    assert "windows-2022" in rank("windws-2022", NAMES)
    assert rank("webservver", NAMES)[0] == "webserver"


def test_a_short_query_tolerates_no_typo():
    assert rank("zeb", NAMES) == []
    assert allowed_typos("abc") == 0 and allowed_typos("abcd") == 1
    assert allowed_typos("abcdefgh") == 2


def test_too_many_typos_is_no_match():
    assert rank("qqqqqqqq", NAMES) == []
    assert rank("maxxxl", NAMES) == []


def test_typos_rank_below_every_real_match():
    names = ["prod-web", "prad-wab-x"]
    assert rank("prad-wab", names) == ["prad-wab-x", "prod-web"]


def test_an_empty_query_lists_the_names_in_their_order():
    index = FuzzyIndex(NAMES)
    assert [m.index for m in index.search("", limit=3)] == [0, 1, 2]
    assert len(index) == len(NAMES)


def test_the_limit_keeps_the_best():
    names = [f"vm-{i:05d}" for i in range(1000)] + ["vm-00042"]
    found = rank("vm-00042", names, limit=2)
    assert found == ["vm-00042", "vm-00042"]


def _edit_distance_to_a_substring(query: str, text: str) -> int:
    """Sellers' dynamic programme, the plain way: the reference for the bit-parallel scan."""
    previous = [0] * (len(text) + 1)
    for i, qc in enumerate(query, 1):
        current = [i] + [0] * len(text)
        for j, tc in enumerate(text, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (qc != tc))
        previous = current
    return min(previous)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcd-", min_size=1, max_size=12),
       st.text(alphabet="abcd-", max_size=20))
def test_the_bit_parallel_distance_equals_the_textbook_one(query, text):
    assert FuzzyQuery(query).substring_distance(text) == \
        _edit_distance_to_a_substring(query, text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=10), st.lists(st.text(max_size=15), max_size=20))
def test_any_query_and_names_give_a_ranked_subset(query, names):
    found = FuzzyIndex(names).search(query, limit=len(names) or 1)
    assert all(0 <= m.index < len(names) for m in found)
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="abcde-", min_size=4, max_size=12),
       st.text(alphabet="abcde-", max_size=20))
def test_the_quick_filters_never_drop_a_name_within_the_typos(query, name):
    compiled = FuzzyQuery(query)
    if compiled.close_score(name) is None and \
            compiled.substring_distance(name) <= compiled.max_typos:
        assert compiled.typo_score(name) is not None


def test_typos_are_looked_for_only_while_the_list_has_room():
    names = ["alpha-web-1", "alpha-web-2", "alpa"]
    assert rank("alpha", names, limit=2) == ["alpha-web-1", "alpha-web-2"]
    assert rank("alpha", names, limit=3)[-1] == "alpa"
