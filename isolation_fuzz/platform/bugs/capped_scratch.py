"""Each note trims the request's Redis scratch, keeping the oldest entry, not the newest.

To bound memory, the scratch list of a request is trimmed after every note with
``LTRIM key 0 CAP-1``, which keeps the *first* ``CAP`` entries, and the cap came from
the one use the author had in mind (the agent re-reading its last step): one.  A
run that keeps a value after any earlier call on that store cannot read it back.
Nothing leaks and nothing is left behind, so no canary and no residue probe shows it.

Shortest interleaving: 1 move.  A starts a run that lists on Redis, then keeps a
value in its Redis scratch; in the final reads it runs to its end, and the scratch
it reads back lacks the value (``read_your_writes``: a lost write).
"""

from __future__ import annotations

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext, encode_note
from isolation_fuzz.platform.reference import variant

#: How many notes a request's scratch keeps.
SCRATCH_CAP = 1


class CappedScratchContext(UserRedisContext):
    async def _do_note(self, entry: str) -> None:
        await checkpoint("redis.note")
        sequence = await self.redis.incr(f"{self.prefix}seq:scratch")
        await self.redis.rpush(self._scratch_key(), encode_note(sequence, entry))
        await self.redis.ltrim(self._scratch_key(), 0, SCRATCH_CAP - 1)


BUG = SeededBug(
    name="capped_scratch",
    shortest=1,
    trips=("read_your_writes",),
    open_target=variant(redis_context=CappedScratchContext),
    summary=first_line(__doc__),
)
