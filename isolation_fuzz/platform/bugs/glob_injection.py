"""Listing with a SCAN pattern built from the raw user id.

Keys hold the user id raw (``mem:<uid>:<encoded key>``: the encoded key has no
``:``, so reads and writes stay unambiguous), but the SCAN pattern for listing and
aggregates embeds the id unescaped, so ``*``, ``?`` and ``[`` in a user id match
other users' keys.

Shortest interleaving: 1 move.  B (``x1``) starts a run that remembers on Redis;
in the final reads A (``x*``) looks at its data and sees B's canary
(``no_foreign_data``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext, segment
from isolation_fuzz.platform.reference import variant


class RawPatternContext(UserRedisContext):
    def _memory_key(self, key: str) -> str:
        return f"{self.prefix}mem:{self.ctx.user_id}:{segment(key)}"

    def _memory_pattern(self) -> str:
        return f"{self.prefix}mem:{self.ctx.user_id}:*"


BUG = SeededBug(
    name="glob_injection",
    shortest=1,
    trips=("no_foreign_data",),
    open_target=variant(redis_context=RawPatternContext),
    summary=first_line(__doc__),
)
