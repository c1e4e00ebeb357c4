"""Shared fixtures: the engines every service test runs on, and what both the engine's
tests and the command line's need (a saved finding, the notes app's booby traps).

Every service test runs on the embedded engines, always, and also on the external
servers whose URLs are configured (``ISOLATION_FUZZ_REDIS_URL`` and friends); CI
configures the machine's Redis and PostgreSQL.  Nothing here skips when a service
is missing: an unreachable configured server is an error, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.replay.scenario import save_scenario
from isolation_fuzz.services import (
    ENV_VARS,
    Endpoints,
    ServiceConfig,
    ServiceSet,
    _lifecycle,
    claim_namespace,
    start_engines,
)
from isolation_fuzz.target import TargetSpec
from tests.engine.campaign.notes import CALLS, REFUSED


def _backends() -> list[str]:
    external = any(os.environ.get(var) for var in ENV_VARS.values())
    return ["embedded", "external"] if external else ["embedded"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=_backends())
async def engines(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[Endpoints]:
    """Embedded engines, or the external servers configured by URL (the rest embedded)."""
    config = ServiceConfig() if request.param == "embedded" else ServiceConfig.from_env()
    async with start_engines(config) as endpoints:
        yield endpoints


@pytest.fixture
async def services(engines: Endpoints) -> AsyncIterator[ServiceSet]:
    """A fresh campaign namespace on the session's engines, removed after the test."""
    async with claim_namespace(engines) as svc:
        yield svc


@pytest.fixture(scope="session")
def finding_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shrunk delimiter-injection finding from a real campaign, saved as a scenario."""
    result = run_campaign(
        CampaignConfig(target=TargetSpec("zoo:delimiter_injection"), max_examples=300, seed=1)
    )
    assert result.finding is not None
    scenario = result.finding.to_scenario(TargetSpec("zoo:delimiter_injection"), seed=1)
    return save_scenario(tmp_path_factory.mktemp("finding") / "scenario.json", scenario)


@pytest.fixture
def only_redis_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting an embedded Postgres or ClickHouse fails the test."""
    def boom(name: str) -> Callable[[], Any]:
        def start() -> Any:
            raise AssertionError(f"an embedded {name} was started")
        return start

    monkeypatch.setitem(_lifecycle._STARTERS, "postgres", boom("postgres"))
    monkeypatch.setitem(_lifecycle._STARTERS, "clickhouse", boom("clickhouse"))
    CALLS.clear()
    REFUSED.clear()
