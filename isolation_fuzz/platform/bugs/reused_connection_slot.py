"""A freed connection slot is reused while the old user's routing still points at it.

The registry keeps connections in numbered slots, the way a server keeps sockets by
file descriptor: a new connection takes the lowest free slot, and a user's events go
to the slots an index lists for that user.  A disconnect frees the slot but leaves
the index alone, so when another user's connection takes the slot, it receives the
first user's events.

Shortest interleaving: 2 moves.  A closes its connection (slot 0 is freed; A's
index still names it), then B opens another connection, which takes slot 0.  In the
final reads A looks, and its events go to B's new connection
(``events_reach_only_owner``).  Only connection moves find it: without a disconnect
no slot is ever freed.
"""

from __future__ import annotations

from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.events import Connection, ConnectionRegistry
from isolation_fuzz.platform.reference import variant


class SlotRegistry(ConnectionRegistry):
    def __init__(self) -> None:
        super().__init__()
        self._slots: list[Connection | None] = []
        self._slots_of: dict[str, set[int]] = {}

    def register(self, connection: Connection) -> None:
        super().register(connection)
        if any(c is connection for c in self._slots):
            return
        free = [slot for slot, c in enumerate(self._slots) if c is None]
        slot = free[0] if free else len(self._slots)
        if slot == len(self._slots):
            self._slots.append(connection)
        self._slots[slot] = connection
        self._slots_of.setdefault(connection.user_id, set()).add(slot)

    def unregister(self, connection: Connection) -> None:
        super().unregister(connection)
        for slot, c in enumerate(self._slots):
            if c is connection:
                self._slots[slot] = None  # the user's index keeps the slot: the bug

    def connections_of(self, user_id: str) -> list[Connection]:
        slots = (self._slots[slot] for slot in sorted(self._slots_of.get(user_id, ())))
        return [c for c in slots if c is not None]


BUG = SeededBug(
    name="reused_connection_slot",
    shortest=2,
    trips=("events_reach_only_owner", "no_foreign_data"),
    open_target=variant(registry=SlotRegistry),
    summary=first_line(__doc__),
)
