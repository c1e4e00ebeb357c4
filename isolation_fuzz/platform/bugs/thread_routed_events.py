"""Events are routed by thread id alone.

Every connection of every user who has a run on a thread receives the events of
every run on that thread, whoever owns it.

Shortest interleaving: 2 moves.  B starts a run on thread t (and so watches t), A
starts a run on t; in the final reads both finish and B's connection receives A's
events (``events_reach_only_owner``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.events import Connection, EmitterFactory, RunEmitter
from isolation_fuzz.platform.reference import variant


class ThreadRoutedEmitter(RunEmitter):
    def _recipients(self) -> list[Connection]:
        return self.registry.watching(self.ctx.thread_id)


class ThreadRoutedEmitters(EmitterFactory):
    emitter_class = ThreadRoutedEmitter


BUG = SeededBug(
    name="thread_routed_events",
    shortest=2,
    trips=("events_reach_only_owner", "no_foreign_data"),
    open_target=variant(emitters=ThreadRoutedEmitters),
    summary=first_line(__doc__),
)
