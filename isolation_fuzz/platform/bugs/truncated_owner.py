"""ClickHouse rows are owned by a short id, the first 8 characters: ids sharing them share rows.

The analytics tables were keyed by a short owner id, the first 8 characters of the
user id, as a UUID's first 8 hex digits are unique enough among one tenant's users
(``FixedString(8)``, like a short commit hash).  Provider-style ids share far longer
prefixes (``auth0|64f…``, ``google-oauth2|1098…``, ``arn:aws:sts::…``,
``user_2024_…``), and so do 64-bit numeric ids: two of them that agree on their
first 8 characters are one owner.  Only ids built to share a prefix reach it: the
generator before identity families never drew two ids agreeing on 8 characters.

Shortest interleaving: 1 move.  B starts a run that remembers on ClickHouse; in
the final reads A, whose id agrees with B's on its first 8 characters, looks and
sees B's key name and canary (``no_foreign_data``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.clickhouse_context import UserClickHouseContext
from isolation_fuzz.platform.reference import variant

#: The width of the short owner id.
OWNER_WIDTH = 8


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
