"""Reading a thread by id does not check who owns it.

The thread record a run resumes from is looked up by thread id alone, so a user
starting a run on a thread id another user has used resumes from (and sees) the
other user's summary.

Shortest interleaving: 2 moves.  A starts a run on thread t that remembers, B
starts a run on t (pausing before it loads the thread); in the final reads A's
run ends, saving a summary with its canary, and B's run resumes from it
(``no_foreign_data``).  The final reads use a thread of their own per identity,
so one move cannot put two users on one thread.
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.redis_context import UserRedisContext, segment
from isolation_fuzz.platform.reference import variant


class ThreadByIdContext(UserRedisContext):
    def _thread_key(self) -> str:
        return f"{self.prefix}thread:{segment(self.ctx.thread_id)}"


BUG = SeededBug(
    name="thread_ownership_unchecked",
    shortest=2,
    trips=("no_foreign_data",),
    open_target=variant(redis_context=ThreadByIdContext),
    summary=first_line(__doc__),
)
