"""Only the services asked for start; asking a namespace for another one says what to do."""

from __future__ import annotations

import pytest

from isolation_fuzz.errors import UsageError
from isolation_fuzz.services import ServiceConfig, open_services

pytestmark = pytest.mark.anyio


async def test_a_redis_only_namespace_has_redis_and_refuses_the_others() -> None:
    async with open_services(ServiceConfig(), services=("redis",)) as services:
        assert services.endpoints.services == ("redis",)
        assert set(services.describe()) == {"redis", "namespace"}
        client = services.redis()
        try:
            assert await client.ping()
        finally:
            await client.aclose()
        with pytest.raises(UsageError, match=r"postgres was not started: .* stores redis"):
            await services.postgres_pool()
        with pytest.raises(UsageError, match="add 'clickhouse' to its capabilities"):
            await services.clickhouse()
