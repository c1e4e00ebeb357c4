"""Generated user ids against a target's declared rule: valid, distinct, counted, same family.

A target that declares nothing gets the adversarial families' sets through the very
same draws; one that declares a predicate gets only ids it accepts, repaired within
their family where possible; one that declares a strategy gets ids drawn from it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.campaign.userids import Admitted, admit, fallback_ids, identities_for
from isolation_fuzz.errors import UsageError
from isolation_fuzz.strategies import identity_sets


def alnum_ids(user_id: str) -> bool:
    return user_id.isascii() and user_id.isalnum() and 3 <= len(user_id) <= 40


STRICT = Capabilities(user_ids=alnum_ids)


# The families' sets are big by nature (issue 13's long provider-style ids).
QUIET = [HealthCheck.large_base_example, HealthCheck.too_slow]


@settings(max_examples=200, database=None, suppress_health_check=QUIET)
@given(identities_for(STRICT, min_size=2, max_size=3))
def test_every_id_of_a_set_passes_the_predicate_and_is_distinct(admitted: Admitted) -> None:
    ids, dropped, replaced = admitted
    assert 2 <= len(ids) <= 3
    assert len(set(ids)) == len(ids)
    assert all(alnum_ids(uid) for uid in ids)
    assert 0 <= replaced <= dropped <= len(ids)


def test_a_family_survives_a_common_stem() -> None:
    # u1 / u10 is the prefix family; both get the same stem, so it still is.
    ids, dropped, replaced = admit(["u1", "u10"], alnum_ids)
    assert (ids, dropped, replaced) == (["usru1", "usru10"], 1, 1)  # u1 is too short
    # a / a:b: ':' is refused, so each is repaired alone, still sharing a's prefix.
    ids, dropped, replaced = admit(["abc", "abc:b"], alnum_ids)
    assert ids[0] == "abc"
    assert ids[1] is not None
    assert ids[1].startswith("abc")
    assert (dropped, replaced) == (1, 1)


def test_valid_sets_pass_untouched() -> None:
    assert admit(["alice", "bob1"], alnum_ids) == (["alice", "bob1"], 0, 0)


def test_a_predicate_that_accepts_almost_nothing_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="declare a Hypothesis strategy"):
        fallback_ids(lambda uid: uid == "alice", at_least=3)


def test_a_predicate_that_raises_refuses_the_id() -> None:
    def picky(uid: str) -> bool:
        if not uid.isascii():
            raise ValueError(uid)
        return uid.isalnum() and len(uid) >= 3

    ids, dropped, _ = admit(["é", "alice"], picky)
    assert dropped == 1
    assert all(uid is None or picky(uid) for uid in ids)


@settings(max_examples=50, database=None)
@given(identities_for(Capabilities(user_ids=st.sampled_from(["id-1", "id-2", "id-3"]))))
def test_a_declared_strategy_is_drawn_from(admitted: Admitted) -> None:
    ids, dropped, replaced = admitted
    assert set(ids) <= {"id-1", "id-2", "id-3"}
    assert len(set(ids)) == len(ids) >= 2
    assert (dropped, replaced) == (0, 0)


def _drawn(strategy: st.SearchStrategy[object]) -> list[object]:
    seen: list[object] = []

    @seed(20261126)
    @settings(max_examples=40, database=None, suppress_health_check=QUIET)
    @given(strategy)
    def collect(value: object) -> None:
        seen.append(value)

    collect()
    return seen


def test_with_no_declaration_the_draws_are_the_families_own() -> None:
    plain = _drawn(identity_sets(min_size=2, max_size=3))
    declared = _drawn(identities_for(Capabilities(), min_size=2, max_size=3))
    assert declared == [(ids, 0, 0) for ids in plain]
