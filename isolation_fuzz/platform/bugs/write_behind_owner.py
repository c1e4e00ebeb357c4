"""A fire-and-forget write reads its owner when it runs, not when it was made.

Remembering no longer waits for Redis: the tool hands the write to a background
task and returns.  The write-behind helper keeps "the user whose writes it is
flushing" in one attribute that every remember sets, and the task reads it when it
runs.  If another user's remember came in between, the first user's value is
written into the second user's memory.

Shortest interleaving: 2 moves.  A starts a run that remembers, B starts one (both
pause before their remember).  In the final reads A's run returns (its write task
created, not yet run), B's returns (the attribute is now B), and then A's write task
runs: A's canary lands in B's memory, where B's look sees it (``no_foreign_data``),
and A's look misses it (``read_your_writes``).  Only a schedule that runs the write
task after B's request began shows it: the task is the run's, and runs when the
fuzzer says.
"""

from __future__ import annotations

import asyncio

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext, segment
from isolation_fuzz.platform.reference import variant

#: The user the write-behind helper is flushing for (the bug: one for everyone).
_flushing: dict[str, str] = {}


class WriteBehindContext(UserRedisContext):
    async def _do_remember(self, key: str, value: str) -> None:
        _flushing["owner"] = self.ctx.user_id
        asyncio.create_task(self._flush(key, value))  # noqa: RUF006  (fire and forget)

    async def _flush(self, key: str, value: str) -> None:
        owner = _flushing.get("owner", self.ctx.user_id)
        await self.redis.set(f"{self.prefix}mem:{segment(owner)}:{segment(key)}", value)


BUG = SeededBug(
    name="write_behind_owner",
    shortest=2,
    trips=("no_foreign_data", "read_your_writes"),
    open_target=variant(redis_context=WriteBehindContext),
    summary=first_line(__doc__),
)
