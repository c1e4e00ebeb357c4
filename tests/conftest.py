"""Shared fixtures: the engines every service test runs on.

Every service test runs on the embedded engines, always, and also on the external
servers whose URLs are configured (``ISOLATION_FUZZ_REDIS_URL`` and friends); CI
configures the machine's Redis and PostgreSQL.  Nothing here skips when a service
is missing: an unreachable configured server is an error, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from isolation_fuzz.services import (
    ENV_VARS,
    Endpoints,
    ServiceConfig,
    ServiceSet,
    claim_namespace,
    start_engines,
)


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
