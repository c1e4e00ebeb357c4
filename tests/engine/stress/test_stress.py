"""Stress mode's pieces: seeded noise, the point log turned into moves, the checker, a window.

The window tests run the reference platform in process (``local`` transport) for a
second or two; the command's tests (tests/cli/test_stress.py) use real WebSockets.
"""

from __future__ import annotations

import pytest

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.example.harness import Limits
from isolation_fuzz.engine.replay.reproduce import replay_scenario
from isolation_fuzz.engine.stress.checker import BatchChecker, CheckCadence
from isolation_fuzz.engine.stress.draws import Marker, stress_user_ids
from isolation_fuzz.engine.stress.finding import candidate
from isolation_fuzz.engine.stress.noise import END, START, Noise, NoiseSettings, Passed
from isolation_fuzz.engine.stress.runner import StressConfig, run_stress
from isolation_fuzz.model import (
    ConnectionOpened,
    Event,
    EventDelivered,
    RunStarted,
    ToolCall,
    Violation,
)
from isolation_fuzz.target import TargetSpec


def _delays(seed: int) -> list[float]:
    noise = Noise(seed, NoiseSettings(max_delay=0.01, depth=3, epoch=16))
    out = []
    for index in range(4):
        noise.start(f"r{index}", index)
    for point in range(40):
        out.append(noise.delay(f"r{point % 4}", "p"))
    return out


def test_the_same_seed_gives_the_same_delays_and_another_seed_others() -> None:
    assert _delays(7) == _delays(7)
    assert _delays(7) != _delays(8)
    assert all(0 <= d <= 0.1 for d in _delays(7))


def test_priorities_make_some_runs_lag_consistently() -> None:
    noise = Noise(3, NoiseSettings(max_delay=0.01, depth=0, spike=0))
    for index in range(8):
        noise.start(f"r{index}", index)
    means = [sum(noise.delay(f"r{i}", "p") for _ in range(50)) / 50 for i in range(8)]
    assert max(means) > 4 * min(means)  # not the same jitter for everyone


def test_the_log_keeps_the_order_runs_reached_and_left_their_points() -> None:
    noise = Noise(1)
    noise.start("r1", 1)
    noise.delay("r1", "redis GET")
    noise.resumed("r1", "redis GET")
    noise.end("r1")
    assert noise.log == [Passed("r1", START, True), Passed("r1", "redis GET", False),
                         Passed("r1", "redis GET", True), Passed("r1", END, False)]


def _log() -> list[Passed]:
    # r1 (I002) and r2 (I005) overlap: r2's stretch starts before r1's first one ends.
    return [
        Passed("r1", START, True), Passed("r2", START, True), Passed("r1", "a", False),
        Passed("r3", START, True), Passed("r1", "a", True), Passed("r2", "b", False),
        Passed("r2", "b", True), Passed("r1", END, False), Passed("r2", END, False),
    ]


def _records() -> list[RunStarted]:
    plan = (ToolCall("remember", "redis", "k", "v"),)
    return [RunStarted(1, "r1", "I002", "u1", "t1", plan),
            RunStarted(2, "r2", "I005", "u10", "t1", plan),
            RunStarted(3, "r3", "I009", "x", "t1", plan)]


def _violation() -> Violation:
    return Violation("no_foreign_data", "ForeignDataObserved", 9, ("I005", "I002"), "m")


def test_a_stress_violation_becomes_the_involved_runs_moves_in_start_order() -> None:
    ids = {"I002": "u1", "I005": "u10", "I009": "x"}
    found = candidate(ids, _records(), _log(), [_violation()])
    assert found.identities == {"A": "u10", "B": "u1"}  # named in the violation's order
    assert found.runs == ("r1", "r2")  # the bystander r3 is left out
    assert [(m.kind, m.run_id, m.identity, m.outcome) for m in found.moves] == [
        ("start_run", "r1", "B", "paused at a"),
        ("start_run", "r2", "A", "paused at b"),
        ("step", "r1", "B", "finished"),
        ("step", "r2", "A", "finished"),
    ]


def test_the_end_order_and_the_overlap_order_are_the_other_candidates() -> None:
    ids = {"I002": "u1", "I005": "u10", "I009": "x"}
    ended = candidate(ids, _records(), _log(), [_violation()], order="end")
    assert [(m.kind, m.run_id) for m in ended.moves] == [
        ("start_run", "r1"), ("start_run", "r2"), ("step", "r1"), ("step", "r2")]
    overlap = candidate(ids, _records(), _log(), [_violation()], order="overlap")
    assert [(m.kind, m.run_id, m.outcome) for m in overlap.moves] == [
        ("start_run", "r1", "paused at a"), ("start_run", "r2", "paused at b"),
        ("finish", "r1", "finished"), ("finish", "r2", "finished")]


def test_the_checker_reports_each_violation_once_as_records_arrive() -> None:
    checker = BatchChecker({"A": "u1", "B": "u10"}, Capabilities())
    plan = (ToolCall("remember", "redis", "k", "v"),)
    assert checker.add([ConnectionOpened(0, "c1", "A"), ConnectionOpened(0, "c2", "B"),
                        RunStarted(1, "r1", "A", "u1", "t1", plan)]) == []
    stray = Event("agent_started", "u1", "t1", "r1", 0)
    first = checker.add([EventDelivered(2, "c2", "B", stray)])
    assert [v.invariant for v in first] == ["events_reach_only_owner"]
    assert checker.add([]) == []  # seen once, reported once


def test_the_cadence_backs_off_after_a_slow_check() -> None:
    cadence = CheckCadence(records=10, seconds=60.0)
    assert not cadence.due(0)
    assert cadence.due(10)
    cadence.checked(took=30.0)
    assert not cadence.due(10_000)  # held off for twice the last check


def test_stress_ids_come_in_colliding_families_and_honour_a_predicate() -> None:
    ids = stress_user_ids(40, 5, Capabilities())
    assert len(set(ids)) == 40
    assert any(a != b and b.startswith(a) for a in ids for b in ids)  # u1 / u10
    assert stress_user_ids(40, 5, Capabilities()) == ids
    plain = stress_user_ids(30, 5, Capabilities(user_ids=str.isalnum))
    assert len(set(plain)) == 30
    assert all(uid.isalnum() for uid in plain)


def test_marks_give_each_value_a_fresh_canary_of_its_owner() -> None:
    marker = Marker()
    plan = (ToolCall("remember", "redis", "k", "v"), ToolCall("recall", "redis", "k"))
    first, second = marker.mark("I001", plan), marker.mark("I001", plan)
    assert first[0].value != second[0].value
    assert first[0].key == second[0].key
    assert first[1].value is None


@pytest.mark.parametrize("transport", ["local"])
def test_stress_finds_a_global_current_user_and_replays_it_step_by_step(transport: str) -> None:
    config = StressConfig(
        target=TargetSpec("zoo:global_current_user", transport), identities=12, rate=40,
        duration=4, seed=2, limits=Limits(), confirm=1, shrink_seconds=10,
    )
    result = run_stress(config)
    assert result.exit_code == 1, result.campaign.verdict
    assert result.stepped is True
    finding = result.campaign.finding
    assert finding is not None
    assert set(finding.identities) <= {"A", "B", "C"}
    replayed = replay_scenario(finding.to_scenario(config.target, result.campaign.seed))
    assert replayed.reproduced, replayed.explain()
    assert result.evidence is not None
    assert result.evidence["records"]
