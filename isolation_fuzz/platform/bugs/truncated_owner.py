"""ClickHouse owners are cut to 36 characters: ids sharing their first 36 share rows.

The ``owner`` column was sized for the UUIDs the first identity provider issued
(``FixedString(36)``, which refuses a longer value), so the code cuts every user id
to 36 characters before writing or filtering.  Provider-style ids are longer and
share long prefixes (``arn:aws:sts::…:assumed-role/deploy-…/session-…``,
``repo:acme/svc:ref:refs/heads/…``): two of them that agree on their first 36
characters are one owner.  Only ids built to share a long prefix reach it; random
and hand-picked ids never agree on 36 characters.

Shortest interleaving: 1 move.  B starts a run that remembers on ClickHouse; in
the final reads A, whose id agrees with B's on its first 36 characters, looks and
sees B's key name and canary (``no_foreign_data``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant

#: The width of the ``owner`` column: a UUID's.
OWNER_WIDTH = 36


class TruncatedOwnerContext(UserClickHouseContext):
    def _owner(self) -> str:
        return self.ctx.user_id[:OWNER_WIDTH]


BUG = SeededBug(
    name="truncated_owner",
    shortest=1,
    trips=("no_foreign_data",),
    open_target=variant(clickhouse_context=TruncatedOwnerContext),
    summary=first_line(__doc__),
)
