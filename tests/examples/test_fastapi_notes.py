"""The FastAPI example, fuzzed from its pyproject table alone, as a new user would.

``examples/fastapi_notes`` is a small agent backend written as a FastAPI team
writes one (RS256 bearer tokens, asyncpg, a Redis cache, run events on a
WebSocket, threads owned by whoever first ran on them, 403 for anyone else) and has
no Python adapter: ``[tool.isolation-fuzz.asgi]`` is the whole setup.  Its beta
keeps one ``Agent`` for the app and binds it to each caller, so two runs at once
write under the wrong user: shortest, two runs started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, replay_scenario, run_campaign
from isolation_fuzz.asgi import APP_ENV
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.target import TargetSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_notes"
BETA = "notes_api.beta:app"
#: The beta's shortest interleaving: B starts a run, A starts one on the same thread.
SHORTEST = 2


@pytest.fixture
def in_example(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(EXAMPLE)
    monkeypatch.delenv(APP_ENV, raising=False)
    return


def _campaign(examples: int, seed: int = 1) -> CampaignResult:
    return run_campaign(CampaignConfig(target=TargetSpec("asgi"), max_examples=examples,
                                       seed=seed))


def test_the_app_as_shipped_is_clean_and_counts_its_refusals(in_example: None) -> None:
    result = _campaign(60)
    assert result.verdict == "clean", result.finding
    assert result.runs.refused > 0  # other users' threads were refused, and that is fine
    assert result.runs.finished > 100
    assert result.runs.failed == {}


@pytest.fixture(scope="module")
def beta() -> Iterator[CampaignResult]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(EXAMPLE)
        patch.setenv(APP_ENV, BETA)
        yield _campaign(300)


def test_the_betas_shared_agent_is_found_and_shrunk(beta: CampaignResult) -> None:
    assert beta.verdict == "violation"
    finding = beta.finding
    assert finding is not None
    assert finding.shrunk
    assert "no_foreign_data" in {v.invariant for v in finding.violations}
    assert scenario_length(finding.moves) <= SHORTEST + 1
    # The pause that lets the other run rebind the agent is in the app's own code.
    assert any("notes_api.store:owner_of:" in m.outcome for m in finding.moves)


def test_the_beta_finding_replays_20_of_20(beta: CampaignResult,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert beta.finding is not None
    monkeypatch.chdir(EXAMPLE)
    monkeypatch.setenv(APP_ENV, BETA)
    report = replay_scenario(beta.finding.to_scenario(beta.target, beta.seed), repeat=20)
    assert report.reproductions == 20, report.explain()


def test_the_exported_test_fails_on_the_beta_and_passes_on_the_app_as_shipped(
    beta: CampaignResult, tmp_path: Path
) -> None:
    from isolation_fuzz import export_test

    assert beta.finding is not None
    test_file = export_test(beta.finding.to_scenario(beta.target, beta.seed),
                            tmp_path / "test_regression.py")

    def pytest_in_example(app: str | None) -> int:
        env = {k: v for k, v in os.environ.items() if k != APP_ENV}
        if app is not None:
            env[APP_ENV] = app
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
            cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300,
        ).returncode

    assert pytest_in_example(BETA) == 1
    assert pytest_in_example(None) == 0
