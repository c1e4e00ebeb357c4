"""Verdicts you can trust (issue 10): time budgets, confirmed findings, no false "clean".

The flaky target here leaks one event once in the whole process, then never again:
what a stalled service looks like from the oracle's side.  Its finding must not be a
violation: replays show it 0 of N times, so it is saved apart as unconfirmed and
kept out of the corpus.  That a budget too small for one example is exit 2, never
"clean", is checked through the command line, in tests/cli/test_run_command.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.campaign.budget import resolve_budget
from isolation_fuzz.platform.events import Connection, EmitterFactory, RunEmitter
from isolation_fuzz.platform.reference import variant
from isolation_fuzz.report.files import RunReport
from isolation_fuzz.report.text import TextVerdict
from isolation_fuzz.target import TargetSpec, register_target

_LEAKS_LEFT = {"n": 0}


class _OnceBroadcastEmitter(RunEmitter):
    """Sends one event to every connection, once per arming, then behaves."""

    def _recipients(self) -> list[Connection]:
        everyone = self.registry.all()
        if _LEAKS_LEFT["n"] > 0 and len(everyone) > 1:
            _LEAKS_LEFT["n"] -= 1
            return everyone
        return super()._recipients()


class _OnceBroadcastEmitters(EmitterFactory):
    emitter_class = _OnceBroadcastEmitter


register_target("test:leaks_once", variant(emitters=_OnceBroadcastEmitters))


def test_a_time_budget_is_not_capped_by_the_profile_examples() -> None:
    assert resolve_budget("quick", budget_seconds=60).max_examples is None
    assert resolve_budget("quick", max_examples=7, budget_seconds=60).max_examples == 7
    assert resolve_budget("quick").max_examples == 100  # no budget: the profile's cap


def test_a_finding_that_never_reproduces_is_unconfirmed_and_kept_out_of_the_corpus(
    tmp_path: Path,
) -> None:
    _LEAKS_LEFT["n"] = 1
    out = io.StringIO()
    report = RunReport(tmp_path, "run", tmp_path / "corpus")
    config = CampaignConfig(
        target=TargetSpec("test:leaks_once"), max_examples=20, seed=0, shrink=False, confirm=3
    )
    result = run_campaign(config, handlers=[report, TextVerdict(out)])
    assert result.finding is not None
    assert (result.verdict, result.reproduced, result.confirm_runs) == ("unconfirmed", 0, 3)
    assert result.exit_code == 0
    assert "verdict: unconfirmed: a failing example was seen but reproduced 0/3 times" in (
        out.getvalue()
    )
    assert not (tmp_path / "corpus").exists()
    assert not report.scenario_path.exists()
    assert (report.dir / "unconfirmed" / "scenario.json").exists()
    summary = json.loads((report.dir / "summary.json").read_text())
    assert summary["verdict"] == "unconfirmed (reproduced 0/3)"
    assert summary["scenario"] == "unconfirmed/scenario.json"
    assert summary["reproduced"]["k"] == 0
    assert "failures=\"0\"" in (report.dir / "junit.xml").read_text()
