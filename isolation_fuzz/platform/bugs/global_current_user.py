"""The request's user kept in a process-wide variable across an ``await``.

The engine records "the current user" when a request starts and reads it back
when it opens a store context for a tool call.  Another request that starts in
between overwrites it, so the first request acts on the second user's data.

Shortest interleaving: 2 moves.  B starts a run that remembers on Postgres (and
pauses), A starts a run (setting the variable to A); in the final reads B's run
goes on as A and writes B's canary into A's memory, and A's look sees it
(``no_foreign_data``).  One run alone only ever sets the variable to its own user.
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.engine import AgentEngine
from isolation_fuzz.platform.reference import variant

_current_user: dict[str, str] = {}


class GlobalCurrentUserEngine(AgentEngine):
    def _begin(self, ctx: UserExecutionContext) -> None:
        _current_user["id"] = ctx.user_id

    def _acting_user(self, ctx: UserExecutionContext) -> str:
        return _current_user.get("id", ctx.user_id)


BUG = SeededBug(
    name="global_current_user",
    shortest=2,
    trips=("no_foreign_data", "read_your_writes"),
    open_target=variant(engine=GlobalCurrentUserEngine),
    summary=first_line(__doc__),
)
