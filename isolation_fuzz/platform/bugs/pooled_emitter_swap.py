"""Emitters pooled and handed out again still bound to their previous user.

Returning an emitter to the pool and taking it out again rebinds the thread and
the run, but not the user, so the next run's events go to the previous user's
connections.

Shortest interleaving: 0 moves.  The final reads alone show it: A looks (its
emitter goes back to the pool), then B looks with A's emitter, so A's connection
receives B's events (``events_reach_only_owner``).
"""

from __future__ import annotations

import dataclasses

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.events import ConnectionRegistry, EmitterFactory, RunEmitter
from isolation_fuzz.platform.reference import variant


class PooledEmitters(EmitterFactory):
    def __init__(self, registry: ConnectionRegistry) -> None:
        super().__init__(registry)
        self._pool: list[RunEmitter] = []

    def for_run(self, ctx: UserExecutionContext) -> RunEmitter:
        if not self._pool:
            return super().for_run(ctx)
        emitter = self._pool.pop()
        emitter.ctx = dataclasses.replace(emitter.ctx, thread_id=ctx.thread_id, run_id=ctx.run_id)
        emitter._seq = 0
        return emitter

    def release(self, emitter: RunEmitter) -> None:
        self._pool.append(emitter)


BUG = SeededBug(
    name="pooled_emitter_swap",
    shortest=0,
    trips=("events_reach_only_owner", "complete_lifecycle", "no_foreign_data"),
    open_target=variant(emitters=PooledEmitters),
    summary=first_line(__doc__),
)
