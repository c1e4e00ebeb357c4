"""A thread is claimed by check-then-act on a held connection, and the WATCH guards nothing.

Threads are owned: a thread's record (``thread:{thread}``, one hash per thread) keeps
the user who owns it and the latest summary.  Opening a thread checks its owner and,
if it has none, lists it among the user's threads, claims it and loads its summary,
all on one connection after a ``WATCH`` of the record; but the writes go out without
``MULTI``, at once, so the ``WATCH`` aborts nothing.  If the owner's run claims the
thread and saves its summary between another user's check (no owner yet) and that
user's claim, the other user takes the thread over and resumes from the owner's
summary (the class of Chainlit's thread takeover: an ownership check, then an upsert
that overwrites the owner).

Shortest interleaving: 4 moves (automatic points), both runs on thread t.  A starts
a run that remembers and B starts one; B steps twice, into its check (its ``HGET`` of
the owner is sent: no owner yet; a third step, into its listing, is as good).  In the
final reads A's run claims t, remembers and saves its summary; then B's claims t over
it and resumes from A's summary (``no_foreign_data``).  The pause between the check
and the claim is inside the held connection, where no checkpoint is.
"""

from __future__ import annotations

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext, segment
from isolation_fuzz.platform.reference import variant


class ClaimedThreadContext(UserRedisContext):
    def _thread_key(self) -> str:
        return f"{self.prefix}thread:{segment(self.ctx.thread_id)}"

    async def load_thread(self) -> str | None:
        self._require_ready("load_thread")
        await checkpoint("redis.load_thread")
        key, me = self._thread_key(), self.ctx.user_id
        async with self.redis.pipeline() as pipe:
            await pipe.watch(key)
            owner = await pipe.hget(key, "owner")
            if owner not in (None, me):
                return None  # someone else's thread: start afresh
            # The bug: no ``pipe.multi()``, so these run at once and the WATCH is moot.
            await pipe.sadd(f"{self.prefix}threads:{segment(me)}", self.ctx.thread_id)
            await pipe.hset(key, "owner", me)
            summary: str | None = await pipe.hget(key, "summary")
            return summary

    async def save_thread(self, summary: str) -> None:
        self._require_ready("save_thread")
        await checkpoint("redis.save_thread")
        key = self._thread_key()
        if await self.redis.hget(key, "owner") == self.ctx.user_id:
            await self.redis.hset(key, "summary", summary)


BUG = SeededBug(
    name="unguarded_thread_claim",
    shortest=4,
    trips=("no_foreign_data",),
    open_target=variant(redis_context=ClaimedThreadContext),
    summary=first_line(__doc__),
)
