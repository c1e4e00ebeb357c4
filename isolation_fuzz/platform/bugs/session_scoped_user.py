"""The acting user is set per session on a pooled connection, and unset means "everyone".

A write sets the acting user session-wide (``set_config(..., false)``, where ``true``
would scope it to the transaction) and reads trust the connection to carry it
from there: the team took a connection to stay the request's.  It does not: the
pool resets a connection when it is given back (asyncpg's ``RESET ALL``; behind a
transaction pooler, which resets nothing, it would carry the last user instead).
And the row-level security policy lets everything through when no user is set, so
that migrations and admin scripts see every row.  A read on a connection handed out
again therefore sees every user's rows (the class of aurora PR #259, and
django-tenants behind PgBouncer, #545).

Shortest interleaving: 1 move.  A starts a run that remembers on Postgres.  In the
final reads A's run files its canary as A's; B's look then aggregates on a reset
connection, with no user set, and sees A's canary (``no_foreign_data``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.postgres_context import UserPostgresContext
from isolation_fuzz.platform.reference import variant
from isolation_fuzz.platform.schema import OWNER_ONLY

T = TypeVar("T")

#: Permissive when unset: no acting user means every row.
_UNLESS_UNSET: Final = (
    f"{OWNER_ONLY} OR coalesce(current_setting('isolation_fuzz.user_id', true), '') = ''"
)


class SessionUserContext(UserPostgresContext):
    _READS = frozenset({"recall", "list", "aggregate", "own_notes", "scratch"})

    async def _as_user(self, label: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        await checkpoint(f"postgres.{label}")
        async with self.pool.acquire() as conn:
            if label not in self._READS:  # reads trust the connection to be set already
                await conn.execute(
                    "SELECT set_config('isolation_fuzz.user_id', $1, false)", self._acting_user()
                )
            async with conn.transaction():
                return await fn(conn)


BUG = SeededBug(
    name="session_scoped_user",
    shortest=1,
    trips=("no_foreign_data",),
    open_target=variant(postgres_context=SessionUserContext, postgres_policy=_UNLESS_UNSET),
    summary=first_line(__doc__),
)
