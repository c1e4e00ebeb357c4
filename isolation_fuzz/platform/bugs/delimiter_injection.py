"""Redis keys joined as ``user:{uid}:{key}`` with raw segments.

User ``a``'s key ``b:x`` and user ``a:b``'s key ``x`` are the same Redis key.

Shortest interleaving: 1 move.  B (``a:b``) starts a run that remembers on Redis;
in the final reads B's run finishes and A (``a``) looks: the listing pattern
``user:a:*`` covers B's keys, so A sees B's canary (``no_foreign_data``).  No
scenario without a write can leak one.
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext
from isolation_fuzz.platform.reference import variant


class JoinedKeyContext(UserRedisContext):
    def _memory_key(self, key: str) -> str:
        return f"{self.prefix}user:{self.ctx.user_id}:{key}"

    def _memory_pattern(self) -> str:
        return f"{self.prefix}user:{_glob_escape(self.ctx.user_id)}:*"

    def _key_from_redis(self, redis_key: str) -> str:
        return redis_key[len(f"{self.prefix}user:{self.ctx.user_id}:"):]


def _glob_escape(text: str) -> str:
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


BUG = SeededBug(
    name="delimiter_injection",
    shortest=1,
    trips=("no_foreign_data", "read_your_writes"),
    open_target=variant(redis_context=JoinedKeyContext),
    summary=first_line(__doc__),
)
