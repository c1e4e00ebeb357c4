"""A sequence counter shared by the runs on a thread makes events skip or repeat.

The counter is kept per thread id (and dropped when a run ends), so two runs on the
same thread at once take numbers from each other.

Shortest interleaving: 4 moves.  A starts a run on thread t, B starts a run on t,
B is stepped twice (emitting ``agent_started`` as number 0); in the final reads A's
run goes on and numbers its events from 1 (``complete_lifecycle``).  Fewer steps
of B emit nothing, and a run that ends drops the counter, so finishing B instead
hides the bug.

With automatic points only (``--points auto-only``): 3 moves.  Each step then runs
to the next real await instead of the next emit, so one step of B (past its
thread load) already emits ``agent_started`` and more.
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.events import ConnectionRegistry, EmitterFactory, RunEmitter
from isolation_fuzz.platform.reference import variant


class ThreadCounterEmitter(RunEmitter):
    def __init__(
        self, registry: ConnectionRegistry, ctx: UserExecutionContext, counters: dict[str, int]
    ) -> None:
        super().__init__(registry, ctx)
        self.counters = counters

    def _next_seq(self) -> int:
        seq = self.counters.get(self.ctx.thread_id, 0)
        self.counters[self.ctx.thread_id] = seq + 1
        return seq


class ThreadCounterEmitters(EmitterFactory):
    def __init__(self, registry: ConnectionRegistry) -> None:
        super().__init__(registry)
        self.counters: dict[str, int] = {}

    def for_run(self, ctx: UserExecutionContext) -> RunEmitter:
        return ThreadCounterEmitter(self.registry, ctx, self.counters)

    def release(self, emitter: RunEmitter) -> None:
        self.counters.pop(emitter.ctx.thread_id, None)


BUG = SeededBug(
    name="lost_event",
    shortest=4,
    shortest_auto=3,
    trips=("complete_lifecycle",),
    open_target=variant(emitters=ThreadCounterEmitters),
    summary=first_line(__doc__),
)
