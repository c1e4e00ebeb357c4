"""A ClickHouse result cache keyed by query and parameters, not by user.

The owner is bound separately from the cached query's parameters, so two users
running the same aggregate share one cache entry.

Shortest interleaving: 1 move.  B starts a run that remembers and aggregates on
ClickHouse; in the final reads B's run caches its aggregate with B's canary, and
A's look is served B's cached aggregate (``no_foreign_data``).  A listing served
from B's cache names B's keys, which the read model flags when the name is a shared
one (``read_your_writes``: a foreign key name).
"""

from __future__ import annotations

from typing import Any

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant


class UnscopedCacheContext(UserClickHouseContext):
    def _cache_key(self, query_name: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        return (query_name, params)


BUG = SeededBug(
    name="unscoped_cache_key",
    shortest=1,
    trips=("no_foreign_data", "read_your_writes"),
    open_target=variant(clickhouse_context=UnscopedCacheContext),
    summary=first_line(__doc__),
)
