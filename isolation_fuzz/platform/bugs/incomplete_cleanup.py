"""Cleanup leaves the request's scratch keys behind in Redis.

The Redis context's cleanup forgets to delete the run's scratch list, so the notes
outlive the request, where a later run on the same thread id can read them.

Shortest interleaving: 0 moves.  The final reads alone show it: A's look notes each
call in Redis scratch, and after its cleanup the scratch is still stored
(``no_residue``).
"""

from __future__ import annotations

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext
from isolation_fuzz.platform.reference import variant


class LeakyCleanupContext(UserRedisContext):
    async def _do_cleanup(self) -> None:
        await checkpoint("redis.cleanup")


BUG = SeededBug(
    name="incomplete_cleanup",
    shortest=0,
    trips=("no_residue",),
    open_target=variant(redis_context=LeakyCleanupContext),
    summary=first_line(__doc__),
)
