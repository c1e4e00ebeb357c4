"""ClickHouse writes no longer invalidate the cached listing and aggregate.

Writes were moved to a batched insert helper that does not know about the result
cache, so a list or aggregate cached before a remember or forget is served after
it: a new value missing, a forgotten one still there.  Only the reading user's own
data is involved, so no canary of anyone else can show it.

Shortest interleaving: 1 move.  A starts a run that aggregates and then remembers on
ClickHouse; in the final reads the run ends, and A's look is served the aggregate
cached before the remember, without the new value (``read_your_writes``: a lost
write).
"""

from __future__ import annotations

from isolation_fuzz.platform import clickhouse_context
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant


class UninvalidatedCacheContext(UserClickHouseContext):
    async def _write(self, key: str, value: str, deleted: int) -> None:
        await self.client.command(
            f"INSERT INTO {self.db}.memories (owner, key, value, deleted, version) VALUES "
            "({owner:String}, {key:String}, {value:String}, {deleted:UInt8}, {version:UInt64})",
            self._params(key=key, value=value, deleted=deleted,
                         version=next(clickhouse_context._versions)),
        )


BUG = SeededBug(
    name="stale_result_cache",
    shortest=1,
    trips=("read_your_writes",),
    open_target=variant(clickhouse_context=UninvalidatedCacheContext),
    summary=first_line(__doc__),
)
