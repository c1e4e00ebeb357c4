"""Ownership matched by string prefix: ``u1`` owns ``u10``'s rows.

ClickHouse listing and aggregates filter with ``startsWith(owner, user)`` instead
of equality, as code that once stored owners as ``"<user>:<org>"`` did.

Shortest interleaving: 1 move.  B (``u10``) starts a run that remembers on
ClickHouse; in the final reads A (``u1``) looks and sees B's canary
(``no_foreign_data``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant


class PrefixOwnerContext(UserClickHouseContext):
    def _owner_filter(self) -> str:
        return "startsWith(owner, {owner:String})"


BUG = SeededBug(
    name="prefix_ownership",
    shortest=1,
    trips=("no_foreign_data",),
    open_target=variant(clickhouse_context=PrefixOwnerContext),
    summary=first_line(__doc__),
)
