"""The emitter sends every event to every open connection.

Shortest interleaving: 0 moves.  The final reads alone show it: A looks at its
data, and B, connected like every identity, receives A's events
(``events_reach_only_owner``).
"""

from __future__ import annotations

from isolation_fuzz.platform.events import Connection, EmitterFactory, RunEmitter
from isolation_fuzz.platform.reference import variant

SHORTEST = 0


class BroadcastEmitter(RunEmitter):
    def _recipients(self) -> list[Connection]:
        return self.registry.all()


class BroadcastEmitters(EmitterFactory):
    emitter_class = BroadcastEmitter


open_target = variant(emitters=BroadcastEmitters)
