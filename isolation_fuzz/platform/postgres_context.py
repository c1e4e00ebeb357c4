"""The Postgres user data context: rows carry their owner, row-level security enforces it.

Every operation runs in its own transaction that first sets the acting user
(``set_config('isolation_fuzz.user_id', ..., true)``, transaction-local, so a pooled
connection never carries one request's user into the next).  The queries
themselves do not filter by owner: the forced RLS policy does, as the application
role is neither a superuser nor the tables' owner.

The checkpoint comes before the transaction opens, never inside it: a run paused
inside a transaction would hold row locks and block every other run.

Seams for seeded-bug variants: `_acting_user`, `_scratch_sql`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.context import Aggregate, UserDataContext, UserExecutionContext

__all__ = ["UserPostgresContext"]

T = TypeVar("T")


class UserPostgresContext(UserDataContext):
    """A user's Postgres context for one request, over an asyncpg pool."""

    store = "postgres"

    def __init__(self, ctx: UserExecutionContext, pool: Any) -> None:
        super().__init__(ctx)
        self.pool = pool

    # -- seams ---------------------------------------------------------------------

    def _acting_user(self) -> str:
        """The user row-level security is told this transaction acts for."""
        return self.ctx.user_id

    def _scratch_sql(self) -> str:
        """The query for the scratch notes on this thread (``$1`` is the thread id)."""
        return "SELECT entry FROM scratch WHERE thread_id = $1 ORDER BY id"

    # -- plumbing ------------------------------------------------------------------

    async def _as_user(self, label: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        await checkpoint(f"postgres.{label}")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT set_config('isolation_fuzz.user_id', $1, true)", self._acting_user()
            )
            return await fn(conn)

    # -- operations ----------------------------------------------------------------

    async def _do_initialize(self) -> None:
        pass  # the pool is shared and already open

    async def _do_cleanup(self) -> None:
        run_id = self.ctx.run_id
        await self._as_user("cleanup", lambda c: c.execute(
            "DELETE FROM scratch WHERE run_id = $1", run_id))

    async def _do_remember(self, key: str, value: str) -> None:
        await self._as_user("remember", lambda c: c.execute(
            "INSERT INTO memories (owner, key, value) "
            "VALUES (current_setting('isolation_fuzz.user_id'), $1, $2) "
            "ON CONFLICT (owner, key) DO UPDATE SET value = EXCLUDED.value", key, value))

    async def _do_recall(self, key: str) -> str | None:
        value: str | None = await self._as_user("recall", lambda c: c.fetchval(
            "SELECT value FROM memories WHERE key = $1", key))
        return value

    async def _do_list_keys(self) -> list[str]:
        rows = await self._as_user("list", lambda c: c.fetch("SELECT key FROM memories"))
        return [row["key"] for row in rows]

    async def _do_aggregate(self) -> Aggregate:
        rows = await self._as_user("aggregate", lambda c: c.fetch(
            "SELECT value FROM memories ORDER BY value"))
        return Aggregate(len(rows), tuple(row["value"] for row in rows))

    async def _do_forget(self, key: str) -> bool:
        gone = await self._as_user("forget", lambda c: c.fetchval(
            "DELETE FROM memories WHERE key = $1 RETURNING 1", key))
        return gone is not None

    async def _do_note(self, entry: str) -> None:
        ctx = self.ctx
        await self._as_user("note", lambda c: c.execute(
            "INSERT INTO scratch (owner, thread_id, run_id, entry) "
            "VALUES (current_setting('isolation_fuzz.user_id'), $1, $2, $3)",
            ctx.thread_id, ctx.run_id, entry))

    async def _do_own_notes(self) -> list[str]:
        run_id = self.ctx.run_id
        rows = await self._as_user("own_notes", lambda c: c.fetch(
            "SELECT entry FROM scratch WHERE run_id = $1 ORDER BY id", run_id))
        return [row["entry"] for row in rows]

    async def _do_scratch(self) -> list[str]:
        rows = await self._as_user("scratch", lambda c: c.fetch(
            self._scratch_sql(), self.ctx.thread_id))
        return [row["entry"] for row in rows]
