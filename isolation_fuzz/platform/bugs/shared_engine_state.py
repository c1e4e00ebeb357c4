"""The engine tracks active runs in a shared map keyed by thread id.

Two users' runs on the same thread id share one entry: the later run's state
(its user, contexts and emitter) replaces the earlier one's, and the earlier run
continues on it.

Shortest interleaving: 2 moves.  A starts a run on thread t that remembers, B
starts a run on t (replacing A's entry); in the final reads A's run goes on with
B's emitter, and B's connection receives A's events (``events_reach_only_owner``).
One run alone has the entry to itself.
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.engine import AgentEngine
from isolation_fuzz.platform.reference import variant


class ThreadKeyedEngine(AgentEngine):
    def _state_key(self, ctx: UserExecutionContext) -> str:
        return ctx.thread_id


BUG = SeededBug(
    name="shared_engine_state",
    shortest=2,
    trips=("no_foreign_data", "read_your_writes", "complete_lifecycle", "events_reach_only_owner"),
    open_target=variant(engine=ThreadKeyedEngine),
    summary=first_line(__doc__),
)
