"""Whole campaigns on embedded engines: a deliberate race is caught, shrunk and replayed.

The race target lives here, not in the package: the reference engine with the
request's user kept in a process-wide variable that another request overwrites
across an ``await``.

The shortest interleaving that shows it has two moves: A starts a run (which sets
the global and pauses at its first checkpoint), B starts a run (which overwrites
it); the final reads then let A's run go on, acting as B, and a look shows the data
in the wrong place.  One move cannot show it: a run alone only ever sets the global
to its own user.
"""

from __future__ import annotations

from typing import Any

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, run_campaign
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.engine import AgentEngine
from isolation_fuzz.platform.reference import variant
from isolation_fuzz.target import TargetSpec, register_target

SHORTEST_RACE = 2

_current: dict[str, str] = {}


class GlobalCurrentUserEngine(AgentEngine):
    """The reference engine, but the acting user is read from a process-wide variable."""

    def _begin(self, ctx: UserExecutionContext) -> None:
        _current["user"] = ctx.user_id

    def _acting_user(self, ctx: UserExecutionContext) -> str:
        return _current["user"]


register_target("test:global_current_user", variant(engine=GlobalCurrentUserEngine))


def _campaign(target: str, **kwargs: Any) -> CampaignResult:
    return run_campaign(CampaignConfig(target=TargetSpec(target), **kwargs))


@pytest.fixture(scope="module")
def race_found() -> CampaignResult:
    return _campaign("test:global_current_user", max_examples=300, seed=20261125)


def test_global_current_user_race_is_caught(race_found: CampaignResult) -> None:
    assert race_found.verdict == "violation"
    assert race_found.exit_code == 1
    finding = race_found.finding
    assert finding is not None
    invariants = {v.invariant for v in finding.violations}
    assert invariants & {"no_foreign_data", "read_your_writes"}, finding.violations


def test_race_shrinks_to_within_one_move_of_the_shortest(race_found: CampaignResult) -> None:
    finding = race_found.finding
    assert finding is not None
    kinds = [move.kind for move in finding.moves]
    assert scenario_length(finding.moves) <= SHORTEST_RACE + 1, kinds
    # Two runs of two identities (a look is a whole run), one paused while the other ran.
    chosen = [m for m in finding.moves if not m.final]
    assert all(m.kind in ("start_run", "look") for m in chosen), kinds
    assert len({m.identity for m in chosen}) == 2, kinds


def test_same_seed_gives_the_same_shrunk_scenario(race_found: CampaignResult) -> None:
    again = _campaign("test:global_current_user", max_examples=300, seed=20261125)
    assert again.finding is not None
    assert race_found.finding is not None
    assert [m.to_json() for m in again.finding.moves] == [
        m.to_json() for m in race_found.finding.moves
    ]
    assert again.finding.identities == race_found.finding.identities
    assert [v.to_json() for v in again.finding.violations] == [
        v.to_json() for v in race_found.finding.violations
    ]


def test_reference_platform_is_clean() -> None:
    result = _campaign("reference", max_examples=40, seed=7)
    assert result.verdict == "clean", result.finding
    assert result.examples >= 40
    assert result.steps > result.examples


def test_reference_platform_is_clean_over_websockets() -> None:
    result = run_campaign(
        CampaignConfig(target=TargetSpec("reference", "websocket"), max_examples=15, seed=3)
    )
    assert result.verdict == "clean", result.finding
