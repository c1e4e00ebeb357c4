"""The socket.io example, routed per tab, fuzzed from its pyproject table alone.

``examples/socketio_tabs`` is a small agent chat on python-socketio: each browser
tab is a socket.io connection authenticated in its CONNECT payload, a message is
posted over HTTP naming its tab (``X-Session-Id``), and the run's events go to that
tab only.  Described with ``routing = "connection"`` it is clean, though a user's
other tabs get nothing; described as if events were owed to every connection of
the user, the same app is a lost lifecycle, which shows the other tabs really were
silent.  Its beta broadcasts every event to every tab of every user.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, replay_scenario, run_campaign
from isolation_fuzz.asgi import APP_ENV
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.target import TargetSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "socketio_tabs"
BETA = "tabs_chat.beta:app"


def _campaign(examples: int, seed: int = 1) -> CampaignResult:
    return run_campaign(CampaignConfig(target=TargetSpec("asgi"), max_examples=examples,
                                       seed=seed))


def test_routed_per_tab_the_app_as_shipped_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE)
    monkeypatch.delenv(APP_ENV, raising=False)
    result = _campaign(60)
    assert result.verdict == "clean", result.finding
    assert result.runs.refused > 0  # other users' threads
    assert result.runs.rejected > 0  # forged tokens, refused at socket.io's CONNECT too
    assert result.runs.finished > 100
    assert result.runs.failed == {}


def test_owed_to_every_tab_the_same_app_loses_events(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = tmp_path / "as_if_per_user"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    table = project / "pyproject.toml"
    text = table.read_text()
    assert 'routing = "connection"' in text
    # The same tab is named; only whom the events are owed to changes.
    table.write_text(text.replace('routing = "connection"', 'routing = "user"'))
    monkeypatch.chdir(project)
    monkeypatch.delenv(APP_ENV, raising=False)
    result = _campaign(200)
    assert result.verdict == "violation"
    assert result.finding is not None
    assert {v.anomaly for v in result.finding.violations} == {"LostEvent"}
    # The silent connection is an older tab of a user who opened another one.
    assert any(m.kind in ("connect", "reconnect") for m in result.finding.moves)


@pytest.fixture(scope="module")
def beta() -> Iterator[CampaignResult]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(EXAMPLE)
        patch.setenv(APP_ENV, BETA)
        yield _campaign(100)


def test_the_betas_broadcast_to_every_tab_is_caught(beta: CampaignResult) -> None:
    assert beta.verdict == "violation"
    finding = beta.finding
    assert finding is not None
    assert finding.shrunk
    assert "events_reach_only_owner" in {v.invariant for v in finding.violations}
    assert scenario_length(finding.moves) <= 1  # one run of one user is enough


def test_the_beta_finding_replays(beta: CampaignResult,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert beta.finding is not None
    monkeypatch.chdir(EXAMPLE)
    monkeypatch.setenv(APP_ENV, BETA)
    report = replay_scenario(beta.finding.to_scenario(beta.target, beta.seed), repeat=10)
    assert report.reproductions == 10, report.explain()
