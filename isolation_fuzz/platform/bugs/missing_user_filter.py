"""One ClickHouse aggregate path lacks the owner filter.

Listing filters by owner; the aggregate query was written without the filter.

Shortest interleaving: 1 move.  B starts a run that remembers on ClickHouse; in
the final reads A looks and its aggregate holds B's canary (``no_foreign_data``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant


class UnfilteredAggregateContext(UserClickHouseContext):
    def _aggregate_filter(self) -> str:
        return "1 = 1"


BUG = SeededBug(
    name="missing_user_filter",
    shortest=1,
    trips=("no_foreign_data",),
    open_target=variant(clickhouse_context=UnfilteredAggregateContext),
    summary=first_line(__doc__),
)
