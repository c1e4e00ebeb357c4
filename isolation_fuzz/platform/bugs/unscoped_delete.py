"""ClickHouse drops a key's old rows by its name alone: every user's key of that name.

Versions and tombstones piled up, so ``remember`` became an upsert (delete the key's
rows with a mutation, then insert) and ``forget`` a plain delete; both mutations name
the key but not the owner.  Users whose apps use the same key names (``profile``,
``settings``) destroy each other's data.  Nothing foreign is ever read and nothing is
left behind: only the read model sees the loss, and who caused it.

Shortest interleaving: 2 moves.  A starts a run that remembers ``k`` on ClickHouse;
B starts a run that forgets ``k`` there.  In the final reads A's run finishes, then
B's deletes both users' ``k``, and A's look misses its own ``k``
(``read_your_writes``: data destroyed by another identity).
"""

from __future__ import annotations

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant


class KeyOnlyDeleteContext(UserClickHouseContext):
    async def _delete_key(self, key: str) -> None:
        await self.client.command(
            f"ALTER TABLE {self.db}.memories DELETE WHERE key = {{key:String}} "
            "SETTINGS mutations_sync = 1",
            self._params(key=key),
        )

    async def _do_remember(self, key: str, value: str) -> None:
        await checkpoint("clickhouse.remember")
        await self._delete_key(key)
        await self._write(key, value, 0)

    async def _do_forget(self, key: str) -> bool:
        await checkpoint("clickhouse.forget")
        existed = await self._current(key) is not None
        await self._delete_key(key)
        self.cache.invalidate(self.ctx.user_id)
        return existed


BUG = SeededBug(
    name="unscoped_delete",
    shortest=2,
    trips=("read_your_writes",),
    open_target=variant(clickhouse_context=KeyOnlyDeleteContext),
    summary=first_line(__doc__),
)
