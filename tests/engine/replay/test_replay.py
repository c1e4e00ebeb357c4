"""Replaying moves performs the example again; minimising cuts it to the moves it needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from isolation_fuzz.engine.example.execution import canary_for
from isolation_fuzz.engine.example.harness import Harness, Limits
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.engine.replay.perform import ReplayDiverged, perform
from isolation_fuzz.engine.replay.shrink import minimize
from isolation_fuzz.engine.trace import Move, scenario_length
from isolation_fuzz.model import ToolCall
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec

IDS = {"A": "a", "B": "a:b", "C": "carol"}
# Replayed plans carry their canaries already, as recorded by the machine.
LEAK = Move(
    1,
    "start_run",
    "B",
    "r1",
    "t1",
    (ToolCall("remember", "redis", "k", f"{canary_for('B', 0)} v"),),
)


def _harness(target: str) -> Iterator[Harness]:
    with open_session(TargetSpec(target), ServiceConfig(), Limits()) as session:
        yield session.harness


@pytest.fixture(scope="module")
def delimiter() -> Iterator[Harness]:
    yield from _harness("zoo:delimiter_injection")


@pytest.fixture(scope="module")
def reference() -> Iterator[Harness]:
    yield from _harness("reference")


def test_a_leak_replays_and_is_seen_by_the_final_reads(delimiter: Harness) -> None:
    replayed = perform(delimiter, IDS, [LEAK])
    assert replayed.invariants == {"no_foreign_data"}
    violation = replayed.violations[0]
    assert violation.identities == ("A", "B")
    assert any(m.final and m.kind == "look" and m.identity == "A" for m in replayed.moves)
    # Canaries come from the identity and a counter, so the same moves give the same evidence.
    again = perform(delimiter, IDS, [LEAK])
    assert [v.to_json() for v in again.violations] == [v.to_json() for v in replayed.violations]


def test_the_same_moves_are_clean_on_the_correct_platform(reference: Harness) -> None:
    replayed = perform(reference, IDS, [LEAK])
    assert not replayed.reproduced
    assert scenario_length(replayed.moves) == 1
    assert [m.kind for m in replayed.moves if m.final] == ["finish", "look", "look", "look"]


def test_minimize_deletes_every_move_the_leak_does_not_need(delimiter: Harness) -> None:
    padded = [
        Move(1, "look", "A", "look1", "t2"),
        Move(
            2,
            "start_run",
            "C",
            "r1",
            "t1",
            (ToolCall("remember", "postgres", "x", f"{canary_for('C', 0)} v"),),
        ),
        Move(3, "step", "C", "r1"),
        Move(4, "start_run", "B", "r2", "t1", LEAK.plan),
        Move(5, "finish", "C", "r1"),
        Move(6, "look", "C", "look2", "t3"),
    ]
    found = perform(delimiter, IDS, padded)
    assert found.reproduced
    best, fixpoint = minimize(delimiter, found)
    assert fixpoint
    chosen = [m for m in best.moves if not m.final]
    assert [(m.kind, m.identity) for m in chosen] == [("start_run", "B")]
    assert set(best.identities) == {"A", "B"}  # C played no part
    assert best.invariants == found.invariants


def test_strict_replay_refuses_a_move_on_a_run_that_is_not_paused(reference: Harness) -> None:
    with pytest.raises(ReplayDiverged, match="r9"):
        perform(reference, IDS, [Move(1, "step", "A", "r9")])


def test_a_changed_outcome_is_reported_as_divergence(reference: Harness) -> None:
    recorded = Move(1, "start_run", "A", "r1", "t1", LEAK.plan, outcome="paused at nowhere")
    replayed = perform(reference, IDS, [recorded])
    assert replayed.diverged
    assert replayed.diverged[0][1] == "paused at nowhere"
