"""The emitter sends every event to every open connection.

Shortest interleaving: 0 moves.  The final reads alone show it: A looks at its
data, and B, connected like every identity, receives A's events
(``events_reach_only_owner``).
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.events import Connection, EmitterFactory, RunEmitter
from isolation_fuzz.platform.reference import variant


class BroadcastEmitter(RunEmitter):
    def _recipients(self) -> list[Connection]:
        return self.registry.all()


class BroadcastEmitters(EmitterFactory):
    emitter_class = BroadcastEmitter


BUG = SeededBug(
    name="broadcast_events",
    shortest=0,
    trips=("events_reach_only_owner", "no_foreign_data"),
    open_target=variant(emitters=BroadcastEmitters),
    summary=first_line(__doc__),
)
