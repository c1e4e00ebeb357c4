"""Every seeded bug is caught by a short campaign with a fixed seed; each module is honest.

Shrinking is off here (it is measured by ``isolation-fuzz zoo`` and the benchmark):
these tests check that the search reaches each bug, and fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from isolation_fuzz.engine.campaign import CampaignConfig, run_campaign
from isolation_fuzz.engine.execution import Harness, Limits, canary_for
from isolation_fuzz.engine.replay import perform
from isolation_fuzz.engine.session import open_session
from isolation_fuzz.engine.trace import Move, scenario_length
from isolation_fuzz.model import ToolCall
from isolation_fuzz.platform.bugs import BUGS
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec
from isolation_fuzz.zoo import ZooRow, format_zoo

EXPECTED_INVARIANT = {
    "global_current_user": {"no_foreign_data", "read_your_writes"},
    "shared_engine_state": {
        "no_foreign_data",
        "read_your_writes",
        "complete_lifecycle",
        "events_reach_only_owner",
    },
    "unscoped_cache_key": {"no_foreign_data"},
    "delimiter_injection": {"no_foreign_data", "read_your_writes"},
    "glob_injection": {"no_foreign_data"},
    "prefix_ownership": {"no_foreign_data"},
    "broadcast_events": {"events_reach_only_owner", "no_foreign_data"},
    "thread_routed_events": {"events_reach_only_owner", "no_foreign_data"},
    "pooled_emitter_swap": {"events_reach_only_owner", "complete_lifecycle", "no_foreign_data"},
    "unverified_token": {"rejects_bad_tokens"},
    "missing_user_filter": {"no_foreign_data"},
    "thread_ownership_unchecked": {"no_foreign_data"},
    "lost_event": {"complete_lifecycle"},
    "incomplete_cleanup": {"no_residue"},
}


@pytest.mark.parametrize("bug", BUGS)
def test_bug_is_caught(bug: str) -> None:
    result = run_campaign(
        CampaignConfig(target=TargetSpec(f"zoo:{bug}"), max_examples=600, seed=1, shrink=False)
    )
    assert result.finding is not None, f"{bug} was not caught in {result.examples} examples"
    fired = {v.invariant for v in result.finding.violations}
    assert fired & EXPECTED_INVARIANT[bug], fired


@pytest.mark.parametrize("bug", BUGS)
def test_module_states_its_shortest_interleaving(bug: str) -> None:
    module = importlib.import_module(f"isolation_fuzz.platform.bugs.{bug}")
    assert isinstance(module.SHORTEST, int)
    assert module.SHORTEST >= 0
    assert f"Shortest interleaving: {module.SHORTEST} move" in (module.__doc__ or "")
    assert callable(module.open_target)


def test_every_bug_has_an_expected_invariant() -> None:
    assert set(EXPECTED_INVARIANT) == set(BUGS)


def test_zoo_table_verdict() -> None:
    caught = ZooRow("lost_event", True, ("complete_lifecycle",), 1.0, 5, 7, 6, 50, 3.0)
    long_shrink = ZooRow(
        "broadcast_events", True, ("events_reach_only_owner",), 1.0, 5, 9, 2, 50, 3.0
    )
    clean = ZooRow("reference", False, (), None, None, None, None, 300, 20.0)
    assert caught.ok
    assert not long_shrink.ok
    assert clean.ok
    assert format_zoo([caught, clean]).endswith("verdict: PASS")
    assert format_zoo([caught, long_shrink, clean]).endswith("verdict: FAIL")


def _remember(name: str, store: str, *more: ToolCall) -> tuple[ToolCall, ...]:
    return (ToolCall("remember", store, "k", f"{canary_for(name, 0)} v"), *more)


def _start(name: str, run: str, thread: str, plan: tuple[ToolCall, ...]) -> Move:
    return Move(0, "start_run", name, run, thread, plan)


_LIST = (ToolCall("list", "redis"),)
_PLAIN = {"A": "a", "B": "b"}

#: For each bug, identities and moves of its shortest interleaving (module docstring).
WITNESSES: dict[str, tuple[dict[str, str], list[Move]]] = {
    "broadcast_events": (_PLAIN, []),
    "incomplete_cleanup": (_PLAIN, []),
    "pooled_emitter_swap": (_PLAIN, []),
    "delimiter_injection": (
        {"A": "a", "B": "a:b"},
        [_start("B", "r1", "t1", _remember("B", "redis"))],
    ),
    "glob_injection": ({"A": "x*", "B": "x1"}, [_start("B", "r1", "t1", _remember("B", "redis"))]),
    "prefix_ownership": (
        {"A": "u1", "B": "u10"},
        [_start("B", "r1", "t1", _remember("B", "clickhouse"))],
    ),
    "missing_user_filter": (_PLAIN, [_start("B", "r1", "t1", _remember("B", "clickhouse"))]),
    "unscoped_cache_key": (
        _PLAIN,
        [
            _start(
                "B", "r1", "t1", _remember("B", "clickhouse", ToolCall("aggregate", "clickhouse"))
            )
        ],
    ),
    "unverified_token": (
        _PLAIN,
        [Move(0, "forge", "A", forgery="wrong_signature", action="run", extra={"victim": "B"})],
    ),
    "global_current_user": (
        _PLAIN,
        [_start("B", "r1", "t1", _remember("B", "postgres")), _start("A", "r2", "t2", _LIST)],
    ),
    "shared_engine_state": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")), _start("B", "r2", "t1", _LIST)],
    ),
    "thread_ownership_unchecked": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")), _start("B", "r2", "t1", _LIST)],
    ),
    "thread_routed_events": (
        _PLAIN,
        [_start("B", "r1", "t1", _LIST), _start("A", "r2", "t1", _LIST)],
    ),
    "lost_event": (
        _PLAIN,
        [
            _start("A", "r1", "t1", _LIST),
            _start("B", "r2", "t1", _LIST),
            Move(0, "step", "B", "r2"),
            Move(0, "step", "B", "r2"),
        ],
    ),
}


@pytest.fixture(scope="module")
def reference() -> Iterator[Harness]:
    with open_session(TargetSpec("reference"), ServiceConfig(), Limits()) as session:
        yield session.harness


@pytest.mark.parametrize("bug", BUGS)
def test_the_stated_shortest_interleaving_shows_the_bug(bug: str, reference: Harness) -> None:
    identities, moves = WITNESSES[bug]
    module = importlib.import_module(f"isolation_fuzz.platform.bugs.{bug}")
    assert len(moves) == module.SHORTEST
    with open_session(TargetSpec(f"zoo:{bug}"), ServiceConfig(), Limits()) as session:
        replayed = perform(session.harness, identities, moves)
        assert replayed.invariants & EXPECTED_INVARIANT[bug], replayed.moves
        assert scenario_length(replayed.moves) == module.SHORTEST
    assert not perform(reference, identities, moves).reproduced
