"""An async face on clickhouse-connect's synchronous client.

clickhouse-connect's chdb backend (and its HTTP client) is synchronous, so every
call goes through ``anyio.to_thread``.  One capacity limiter per client keeps the
calls of one campaign in order: chdb is a single in-process engine, and only one
agent run moves at a time anyway, so parallelism would buy nothing but nondeterminism.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from isolation_fuzz.errors import MissingDependency
from isolation_fuzz.services._reach import reaching

__all__ = ["AsyncClickHouse", "connect_clickhouse"]


class AsyncClickHouse:
    """A clickhouse-connect client whose calls run in a worker thread, one at a time."""

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url
        self._limiter = anyio.CapacityLimiter(1)

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self._limiter)

    async def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """Run a statement that returns no rows (DDL, DELETE, ...)."""
        return await self._call(self._client.command, sql, parameters=parameters)

    async def query_rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        result = await self._call(self._client.query, sql, parameters=parameters)
        return [tuple(row) for row in result.result_rows]

    async def insert(
        self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]
    ) -> None:
        """Insert ``rows`` into ``table`` (a ``database.table`` name)."""
        await self._call(self._client.insert, table, list(rows), column_names=list(column_names))

    async def aclose(self) -> None:
        """Close the client (chdb clients share the process-wide engine, which stays up)."""
        await self._call(self._client.close)


async def connect_clickhouse(url: str, *, timeout: float = 5.0) -> AsyncClickHouse:
    """Open a client for ``url`` (``chdb://`` or ``http(s)://user:pw@host:port``) and ping it."""
    try:
        import clickhouse_connect
    except ImportError as exc:
        raise MissingDependency("clickhouse_connect") from exc

    def _open() -> Any:
        if url.startswith("chdb"):
            return clickhouse_connect.get_client(dsn=url)
        return clickhouse_connect.get_client(
            dsn=url, connect_timeout=timeout, send_receive_timeout=max(timeout, 30)
        )

    with reaching("clickhouse", url, timeout + 5):
        client = await anyio.to_thread.run_sync(_open)
        ch = AsyncClickHouse(client, url)
        await ch.query_rows("SELECT 1")
    return ch
