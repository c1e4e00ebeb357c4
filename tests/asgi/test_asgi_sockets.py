"""``--transport websocket``: the same description, over a real uvicorn server.

The two examples are fuzzed with nothing changed but the transport: requests go
over TCP through httpx, WebSockets and socket.io through the ``websockets`` client,
to a uvicorn server on loopback that the campaign starts and stops.  As shipped
they are clean; the socket.io beta's broadcast is still caught, and replays.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, replay_scenario, run_campaign
from isolation_fuzz.asgi import APP_ENV
from isolation_fuzz.target import TargetSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _over_sockets(monkeypatch: pytest.MonkeyPatch, example: str, app: str | None,
                  examples: int) -> CampaignResult:
    monkeypatch.chdir(EXAMPLES / example)
    if app is None:
        monkeypatch.delenv(APP_ENV, raising=False)
    else:
        monkeypatch.setenv(APP_ENV, app)
    return run_campaign(CampaignConfig(target=TargetSpec("asgi", "websocket"),
                                       max_examples=examples, seed=3))


@pytest.mark.parametrize("example", ["fastapi_notes", "socketio_tabs"])
def test_the_examples_as_shipped_are_clean_over_real_sockets(
    monkeypatch: pytest.MonkeyPatch, example: str
) -> None:
    result = _over_sockets(monkeypatch, example, None, 12)
    assert result.verdict == "clean", result.finding
    assert result.target.transport == "websocket"
    assert result.runs.finished > 20
    assert result.runs.failed == {}


def test_the_broadcast_is_caught_over_real_sockets_and_replays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _over_sockets(monkeypatch, "socketio_tabs", "tabs_chat.beta:app", 30)
    assert result.verdict == "violation"
    assert result.finding is not None
    assert "events_reach_only_owner" in {v.invariant for v in result.finding.violations}
    scenario = result.finding.to_scenario(result.target, result.seed)
    assert scenario.target.transport == "websocket"
    report = replay_scenario(scenario, repeat=5)
    assert report.reproductions == 5, report.explain()
