"""The Notebook example (SQLAlchemy's asyncio ORM on Postgres) as a new user would fuzz it.

Its whole data path is SQLAlchemy sessions, each holding its pooled connection and
transaction, with no ``checkpoint()``; its activity log is written by
fire-and-forget tasks, and its ``reset()`` waits for none of them.  The beta's lost
edit needs a run paused inside a held session; the shipped service's row lock makes
the other run wait, which must never look blocked.
"""

from __future__ import annotations

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, replay_scenario, run_campaign
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.target import TargetSpec

#: The beta's shortest interleaving (examples/notebook/beta.py).
SHORTEST = 4


def _campaign(factory: str, examples: int) -> CampaignResult:
    spec = TargetSpec(f"examples.notebook.adapter:{factory}")
    return run_campaign(CampaignConfig(target=spec, max_examples=examples, seed=1))


def test_the_shipped_notebook_is_clean_and_its_row_locks_are_waits_not_blocks() -> None:
    result = _campaign("open_target", 60)
    assert result.verdict == "clean", result.finding
    assert result.runs.blocked == 0
    assert result.runs.waited.get("row lock", 0) > 0  # runs did meet a held row lock


@pytest.fixture(scope="module")
def beta() -> CampaignResult:
    return _campaign("open_beta_target", 300)


def test_the_beta_edit_that_drops_a_note_is_found_inside_a_held_session(
    beta: CampaignResult,
) -> None:
    assert beta.verdict == "violation"
    finding = beta.finding
    assert finding is not None
    assert finding.shrunk
    assert {v.invariant for v in finding.violations} == {"read_your_writes"}
    assert scenario_length(finding.moves) <= SHORTEST + 1
    # Paused inside the edit's session: at a statement of the beta's own lines.
    assert any("examples.notebook.beta:notebook_for_edit:" in m.outcome for m in finding.moves)


def test_the_beta_finding_replays_20_of_20(beta: CampaignResult) -> None:
    assert beta.finding is not None
    report = replay_scenario(beta.finding.to_scenario(beta.target, beta.seed), repeat=20)
    assert report.reproductions == 20, report.explain()
