"""The shared example database: a directory, or Redis for several workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.campaign.database import KEY_PREFIX, open_database
from isolation_fuzz.errors import ServiceUnavailable, UsageError
from isolation_fuzz.services import Endpoints
from isolation_fuzz.target import TargetSpec


def _campaign(db_spec: str) -> None:
    result = run_campaign(
        CampaignConfig(
            target=TargetSpec("zoo:broadcast_events"), max_examples=30, seed=1, shrink=False,
            database=open_database(db_spec),
        )
    )
    assert result.finding is not None


def test_a_directory_database_keeps_the_failing_example(tmp_path: Path) -> None:
    _campaign(str(tmp_path / "db"))
    assert any(p.is_file() for p in (tmp_path / "db").rglob("*"))


@pytest.mark.anyio
async def test_a_redis_database_keeps_it_under_its_own_prefix(engines: Endpoints) -> None:
    import anyio
    import redis

    url = engines.urls["redis"]
    client = redis.Redis.from_url(url)
    sentinel = b"not-ours:sentinel"
    client.set(sentinel, b"1")
    try:
        await anyio.to_thread.run_sync(_campaign, url)
        ours = list(client.scan_iter(match=KEY_PREFIX + b"*"))
        assert ours, "the failing example was not saved"
        assert client.get(sentinel) == b"1"
    finally:
        for key in client.scan_iter(match=KEY_PREFIX + b"*"):
            client.delete(key)
        client.delete(sentinel)


def test_bad_database_specs_are_refused() -> None:
    with pytest.raises(UsageError, match="directory path or a redis"):
        open_database("postgres://x/y")
    with pytest.raises(ServiceUnavailable, match=r"127\.0\.0\.1:1"):
        open_database("redis://127.0.0.1:1/0")
