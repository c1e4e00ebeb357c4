"""One ClickHouse aggregate path lacks the owner filter.

Listing filters by owner; the aggregate query was written without the filter.

Shortest interleaving: 1 move.  B starts a run that remembers on ClickHouse; in
the final reads A looks and its aggregate holds B's canary (``no_foreign_data``).
"""

from __future__ import annotations

from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant

SHORTEST = 1


class UnfilteredAggregateContext(UserClickHouseContext):
    def _aggregate_filter(self) -> str:
        return "1 = 1"


open_target = variant(clickhouse_context=UnfilteredAggregateContext)
