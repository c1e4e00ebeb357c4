"""gather: the stress-test baseline runs plans truly at once and is checked the same."""

from __future__ import annotations

import random

import pytest

from isolation_fuzz.engine.example.execution import Execution
from isolation_fuzz.engine.example.gather import gather
from isolation_fuzz.engine.example.harness import IsolationViolated, Limits
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.model import ToolCall
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec

PLAN = (ToolCall("remember", "postgres", "k", "v"), ToolCall("recall", "postgres", "k"))


def _gathered(target: str, rounds: int) -> int:
    """Rounds of two users' runs started together; returns the round that failed (0: none)."""
    rng = random.Random(0)
    with open_session(TargetSpec(target), ServiceConfig(), Limits()) as session:
        for round_no in range(1, rounds + 1):
            execution = Execution(session.harness)
            try:
                execution.log_in(["alice", "bob"])
                gather(execution, [("A", "t1", PLAN), ("B", "t2", PLAN)] * 2, rng)
                execution.check()
                execution.final_reads()
                kinds = [m.kind for m in execution.moves]
                assert kinds[:4] == ["start_run"] * 4  # one move, four runs
                assert all(m.outcome == "finished" for m in execution.moves[:4])
            except IsolationViolated:
                return round_no
            finally:
                execution.close()
    return 0


def test_gathered_runs_on_the_correct_platform_stay_clean() -> None:
    assert _gathered("reference", 10) == 0


def test_gathered_runs_hit_a_global_current_user_race() -> None:
    # Interleaving is left to the event loop and jitter: a blatant race shows within rounds.
    assert _gathered("zoo:global_current_user", 30) > 0


@pytest.mark.parametrize("jitter", [0.0])
def test_gather_without_jitter_still_finishes_every_run(jitter: float) -> None:
    with open_session(TargetSpec("reference"), ServiceConfig(), Limits()) as session:
        execution = Execution(session.harness)
        try:
            execution.log_in(["alice"])
            gather(execution, [("A", "t1", PLAN)] * 3, random.Random(1), max_jitter=jitter)
            assert [m.outcome for m in execution.moves] == ["finished"] * 3
            assert len({m.run_id for m in execution.moves}) == 3
        finally:
            execution.close()
