"""Identity families: every pair collides under its transformation, and every family is drawn.

Property tests on each family's generator (on the strategies' own bases and on long
provider-style bases, as a third id is built), then the benchmark's sampling function
on 10,000 sets, as the README's table: every family in at least 3% of them (issue 13;
fewer sets are too noisy for a floor the rarest family clears by under one point).
"""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from isolation_fuzz.engine.replay.shape import check_user_id
from isolation_fuzz.strategies import FAMILIES, family_pairs, identity_sets, labelled_identity_sets
from isolation_fuzz.strategies.provider_ids import SHARED_PREFIX_LENGTHS

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "identity_families.py"

#: Bases a pair is built on: the strategies' own, and ids already in a set (a long
#: provider id, an e-mail address, a number, text with punctuation or an accent).
BASES = st.sampled_from([
    "u1", "a", "user", "x", "7", "alice", "a.b", "ann@example.com", "0042", "caf\u00e9",
    "auth0|64f1c2d3e4f5a6b7c8d9e0f1", "google-oauth2|109876543210987654321",
    "spiffe://cluster.local/ns/tenant-0a1b2c3d/sa/runner-00112233445566778899aabbccddeeff",
])


@pytest.mark.parametrize("name", list(FAMILIES))
@settings(max_examples=60)
@given(data=st.data())
def test_every_pair_a_family_draws_is_two_ids_that_collide(name: str, data: st.DataObject) -> None:
    a, b = data.draw(family_pairs(name, BASES), label="pair")
    assert a != b
    assert FAMILIES[name].collides(a, b), f"{name}: {a!r} and {b!r} do not collide"
    for user_id in (a, b):
        check_user_id(user_id, "pair")  # a scenario file can hold it


@pytest.mark.parametrize(("name", "a", "b"), [
    ("shared-8", "auth0|64f1c2d3e4f5a6b7c8d9e0f1", "auth0|64f2c2d3e4f5a6b7c8d9e0f1"),
    ("sanitise", "a.b", "a_b"),
    ("nfc-nfd", "\u00e9", "e\u0301"),
    ("nfkc", "file", "\ufb01le"),
    ("whitespace", "a", "a\u00a0"),
    ("numeric", "7", "07"),
    ("email", "ann@example.com", "ann+x@Example.COM"),
    ("url-encoding", "a:b", "a%3Ab"),
    ("glob", "x1", "x*"),
    ("like", "x_", "xz"),
])
def test_a_family_names_the_pairs_it_is_about(name: str, a: str, b: str) -> None:
    assert FAMILIES[name].collides(a, b)
    assert not FAMILIES[name].collides(a, a)


@pytest.mark.parametrize("n", SHARED_PREFIX_LENGTHS)
@settings(max_examples=30)
@given(data=st.data())
def test_shared_prefix_families_cut_where_they_say(n: int, data: st.DataObject) -> None:
    a, b = data.draw(family_pairs(f"shared-{n}"), label="pair")
    common = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    assert a[:n] == b[:n], (n, a, b)
    assert common >= n
    later = [m for m in SHARED_PREFIX_LENGTHS if m > n]
    assert not later or common < later[0]


@settings(max_examples=200)
@given(labelled_identity_sets(min_size=2, max_size=3))
def test_a_set_holds_distinct_valid_ids_and_the_pairs_it_names(
    labelled: tuple[list[str], list[tuple[str, str, str]]],
) -> None:
    ids, pairs = labelled
    assert 2 <= len(ids) <= 3
    assert len(set(ids)) == len(ids)
    for user_id in ids:
        check_user_id(user_id, "set")
    for name, a, b in pairs:
        assert {a, b} <= set(ids)
        assert FAMILIES[name].collides(a, b)


def test_the_simplest_set_is_two_plain_names() -> None:
    assert find(identity_sets(), lambda ids: True) == ["alice", "bob"]


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("identity_families_benchmark", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_family_appears_in_at_least_3_percent_of_sets() -> None:
    bench = _benchmark()
    shares = bench.drawn_shares(bench.sample(10_000, 0))
    assert set(shares) == set(FAMILIES)
    assert {name: share for name, share in shares.items() if share < bench.FLOOR} == {}


def test_nfc_and_nfd_forms_of_one_word_show_differently() -> None:
    from isolation_fuzz.display import show_id

    nfc, nfd = "caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9")
    assert (show_id(nfc), show_id(nfd)) == ("'caf\\u00e9'", "'cafe\\u0301'")


@settings(max_examples=500, database=None)
@given(identity_sets(min_size=2, max_size=3))
def test_no_identity_set_holds_a_blank_id(ids: list[str]) -> None:
    # A sanitiser family can strip an odd base to nothing; a token's sub must not be empty.
    assert all(i.strip() for i in ids)
