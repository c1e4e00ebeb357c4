"""The ClickHouse user data context: versioned rows, parameterised and owner-filtered.

Memories are append-only versions (``argMax`` by version reads the latest; a
tombstone row forgets), the usual ClickHouse way to get immediate read-your-writes
without mutations.  Every query binds its values as parameters and filters by
owner.  Listing and aggregates go through a per-platform `ResultCache`, keyed by
user, invalidated by the user's own writes.

Seams for seeded-bug variants: `_owner`, `_cache_key`, `_owner_filter`, `_aggregate_filter`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.context import Aggregate, UserDataContext, UserExecutionContext
from isolation_fuzz.services import AsyncClickHouse

__all__ = ["ResultCache", "UserClickHouseContext"]

_versions = itertools.count(time.time_ns())


class ResultCache:
    """Cached query results of one platform instance, each remembered with its user.

    Shared by every context of the platform, so a cache key that omits the user
    serves one user's results to another (see `UserClickHouseContext._cache_key`).
    A per-user generation, bumped by every write of that user, keeps a result
    computed before a write from being stored after it.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], tuple[str, Any]] = {}
        self._generations: dict[str, int] = {}

    def get(self, key: tuple[Any, ...]) -> Any | None:
        """The cached result under ``key``, or None."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def generation(self, user_id: str) -> int:
        """How many times ``user_id``'s entries were invalidated; pass it to `put`."""
        return self._generations.get(user_id, 0)

    def put(self, key: tuple[Any, ...], user_id: str, value: Any, generation: int) -> None:
        """Cache ``value``, computed for ``user_id``, unless the user wrote since ``generation``."""
        if generation == self.generation(user_id):
            self._entries[key] = (user_id, value)

    def invalidate(self, user_id: str) -> None:
        """Forget every entry computed for ``user_id``."""
        self._generations[user_id] = self.generation(user_id) + 1
        self._entries = {k: e for k, e in self._entries.items() if e[0] != user_id}

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._generations.clear()

    def __len__(self) -> int:
        return len(self._entries)


class UserClickHouseContext(UserDataContext):
    """A user's ClickHouse context for one request."""

    store = "clickhouse"

    def __init__(
        self, ctx: UserExecutionContext, client: AsyncClickHouse, database: str, cache: ResultCache
    ) -> None:
        super().__init__(ctx)
        self.client = client
        self.db = database
        self.cache = cache

    # -- seams ---------------------------------------------------------------------

    def _owner(self) -> str:
        """The value stored in, and matched against, the ``owner`` column: the user id."""
        return self.ctx.user_id

    def _cache_key(self, query_name: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        """The cache key of a query result: the user is part of it."""
        return (self.ctx.user_id, query_name, params)

    def _owner_filter(self) -> str:
        """The SQL condition restricting rows to this user (``{owner:String}`` is bound)."""
        return "owner = {owner:String}"

    def _aggregate_filter(self) -> str:
        """The condition the aggregate query uses: the owner filter."""
        return self._owner_filter()

    # -- plumbing ------------------------------------------------------------------

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"owner": self._owner(), **extra}

    async def _cached(self, name: str, compute: Callable[[], Awaitable[Any]]) -> Any:
        key = self._cache_key(name, ())
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        generation = self.cache.generation(self.ctx.user_id)
        value = await compute()
        self.cache.put(key, self.ctx.user_id, value, generation)
        return value

    async def _write(self, key: str, value: str, deleted: int) -> None:
        await self.client.command(
            f"INSERT INTO {self.db}.memories (owner, key, value, deleted, version) VALUES "
            "({owner:String}, {key:String}, {value:String}, {deleted:UInt8}, {version:UInt64})",
            self._params(key=key, value=value, deleted=deleted, version=next(_versions)),
        )
        self.cache.invalidate(self.ctx.user_id)

    def _live(self, condition: str) -> str:
        return (
            f"SELECT owner, key, argMax(value, version) AS v, argMax(deleted, version) AS d "
            f"FROM {self.db}.memories WHERE {condition} GROUP BY owner, key"
        )

    # -- operations ----------------------------------------------------------------

    async def _do_initialize(self) -> None:
        pass  # the client is shared and already connected

    async def _do_cleanup(self) -> None:
        await checkpoint("clickhouse.cleanup")
        await self.client.command(
            f"ALTER TABLE {self.db}.scratch DELETE WHERE owner = {{owner:String}} "
            "AND run_id = {run:String} SETTINGS mutations_sync = 1",
            self._params(run=self.ctx.run_id),
        )

    async def _do_remember(self, key: str, value: str) -> None:
        await checkpoint("clickhouse.remember")
        await self._write(key, value, 0)

    async def _do_recall(self, key: str) -> str | None:
        await checkpoint("clickhouse.recall")
        return await self._current(key)

    async def _current(self, key: str) -> str | None:
        """The live value of ``key`` (no checkpoint: callers take one first)."""
        rows = await self.client.query_rows(
            f"SELECT v, d FROM ({self._live('owner = {owner:String} AND key = {key:String}')})",
            self._params(key=key),
        )
        if not rows or rows[0][1]:
            return None
        return str(rows[0][0])

    async def _do_list_keys(self) -> list[str]:
        await checkpoint("clickhouse.list")

        async def compute() -> list[str]:
            rows = await self.client.query_rows(
                f"SELECT key FROM ({self._live(self._owner_filter())}) WHERE d = 0 ORDER BY key",
                self._params(),
            )
            return [str(row[0]) for row in rows]

        keys: list[str] = await self._cached("list", compute)
        return list(keys)

    async def _do_aggregate(self) -> Aggregate:
        await checkpoint("clickhouse.aggregate")

        async def compute() -> Aggregate:
            rows = await self.client.query_rows(
                f"SELECT v FROM ({self._live(self._aggregate_filter())}) WHERE d = 0 ORDER BY v",
                self._params(),
            )
            return Aggregate(len(rows), tuple(str(row[0]) for row in rows))

        result: Aggregate = await self._cached("aggregate", compute)
        return result

    async def _do_forget(self, key: str) -> bool:
        await checkpoint("clickhouse.forget")
        # No checkpoint between the read and the tombstone: another run of the user
        # must not slip in between, or "existed" would describe a different state.
        existed = await self._current(key) is not None
        if existed:  # a tombstone for a missing key would only grow the table
            await self._write(key, "", 1)
        return existed

    async def _do_note(self, entry: str) -> None:
        await checkpoint("clickhouse.note")
        await self.client.command(
            f"INSERT INTO {self.db}.scratch (owner, thread_id, run_id, entry, version) VALUES "
            "({owner:String}, {thread:String}, {run:String}, {entry:String}, {version:UInt64})",
            self._params(thread=self.ctx.thread_id, run=self.ctx.run_id, entry=entry,
                         version=next(_versions)),
        )

    async def _do_own_notes(self) -> list[str]:
        await checkpoint("clickhouse.own_notes")
        rows = await self.client.query_rows(
            f"SELECT entry FROM {self.db}.scratch WHERE owner = {{owner:String}} "
            "AND run_id = {run:String} ORDER BY version",
            self._params(run=self.ctx.run_id),
        )
        return [str(row[0]) for row in rows]

    async def _do_scratch(self) -> list[str]:
        await checkpoint("clickhouse.scratch")
        rows = await self.client.query_rows(
            f"SELECT entry FROM {self.db}.scratch WHERE owner = {{owner:String}} "
            "AND thread_id = {thread:String} ORDER BY version",
            self._params(thread=self.ctx.thread_id),
        )
        return [str(row[0]) for row in rows]
