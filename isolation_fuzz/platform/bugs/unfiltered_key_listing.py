"""The ClickHouse listing lists every user's key names: its query lost the owner filter.

The listing was rewritten to skip the cache for a "show all keys" admin page and
shares its query with it, without the owner condition.  Recall and the aggregate
still filter by owner, so no value ever crosses: only key names do, which the fuzzer
sees because every key name carries its owner's mark.

Shortest interleaving: 2 moves.  B starts a run that remembers on ClickHouse, A
starts a run that lists there; in the final reads B's run ends first and A's listing
returns B's key name, marked as B's (``no_foreign_data``, ``read_your_writes``: a
foreign key name).
"""

from __future__ import annotations

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant


class AllKeysListingContext(UserClickHouseContext):
    async def _do_list_keys(self) -> list[str]:
        await checkpoint("clickhouse.list")
        rows = await self.client.query_rows(
            f"SELECT DISTINCT key FROM ({self._live('1 = 1')}) WHERE d = 0 ORDER BY key"
        )
        return [str(row[0]) for row in rows]


BUG = SeededBug(
    name="unfiltered_key_listing",
    shortest=2,
    trips=("no_foreign_data", "read_your_writes"),
    open_target=variant(clickhouse_context=AllKeysListingContext),
    summary=first_line(__doc__),
)
