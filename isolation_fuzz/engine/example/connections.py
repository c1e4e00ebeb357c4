"""Connection moves: an identity opens another connection, closes one, or reconnects.

Design note (issue 13).  Before this module every identity connected once at log-in
and stayed connected, so bugs in how a backend keeps its connections (a slot reused
after a disconnect that still routes the old user's events, a registration left
behind by a reconnect, a second tab that steals the first one's events) could not
be reached.  Three moves reach them:

* ``connect``: the identity opens one more connection beside those it holds (a
  second tab);
* ``disconnect``: one of its connections closes (the identity may end with none:
  its runs still run, their events have nowhere to land);
* ``reconnect``: one of its connections closes and a new one opens for the same
  identity, in one move (a page reload; one move, so a shrunk scenario stays short).

Connections have ids of the engine's own, ``c1``, ``c2``, ... in the order they
open (``c1`` is A's log-in connection).  A move records the ids it opened or
closed and a replay passes them back, so ids survive the deletion of earlier moves
while shrinking, as run ids do; a move aimed at a connection that is not open is
skipped by a lenient replay.

What the oracle makes of it: each connection's open interval is in the history
(`ConnectionOpened` / `ConnectionClosed`), and every delivery names its
connection.  ``events_reach_only_owner`` judges a delivery by the identity of the
connection it arrived on; ``complete_lifecycle`` expects a finished run's whole
lifecycle, exactly once, on each of its owner's connections open for the run's whole
life, and nothing twice on a connection open for part of it (see
:func:`isolation_fuzz.engine.oracle.invariants.complete_lifecycle`).

Before a connection closes, the events that reached it are collected, so nothing
it received is lost to the history.  The moves live here, as a base class of
:class:`~isolation_fuzz.engine.example.execution.Execution`, to keep that module to one job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from isolation_fuzz.engine.example.harness import Harness
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.model import ConnectionClosed, ConnectionOpened, EventDelivered
from isolation_fuzz.target import EventStream

__all__ = ["ConnectionMoves"]


class _HasToken(Protocol):
    @property
    def token(self) -> str: ...


class ConnectionMoves:
    """The connection moves of an example; :class:`Execution` provides the state."""

    harness: Harness
    history: History
    identities: Mapping[str, _HasToken]
    moves: list[Move]
    #: Open connections: connection id -> (identity name, stream).
    streams: dict[str, tuple[str, EventStream]]
    #: Connection moves made so far (the machine's budget reads it).
    connection_moves: int
    #: Every connection id used in this example, open or closed.
    _connection_ids: set[str]

    def _next_step(self) -> int:
        raise NotImplementedError

    def _bounded(self, what: str, fn: Any, *args: Any) -> Any:
        raise NotImplementedError

    # -- queries -------------------------------------------------------------------

    def connections_of(self, name: str) -> list[str]:
        """``name``'s open connections, oldest first."""
        return [cid for cid, (owner, _) in self.streams.items() if owner == name]

    # -- moves ---------------------------------------------------------------------

    def connect(self, name: str, *, connection_id: str | None = None) -> str:
        """``name`` opens one more connection; returns its id."""
        step = self._next_step()
        self.connection_moves += 1
        opened = self._open(name, step, connection_id)
        self.moves.append(Move(step, "connect", name, connection_id=opened))
        return opened

    def disconnect(self, connection_id: str) -> None:
        """Close the open connection ``connection_id``."""
        name = self.streams[connection_id][0]
        step = self._next_step()
        self.connection_moves += 1
        self._close(connection_id, step)
        self.moves.append(Move(step, "disconnect", name, connection_id=connection_id))

    def reconnect(self, connection_id: str, *, opened: str | None = None) -> str:
        """Close ``connection_id`` and open a new one for its identity; returns the new id."""
        name = self.streams[connection_id][0]
        step = self._next_step()
        self.connection_moves += 1
        self._close(connection_id, step)
        new = self._open(name, step, opened)
        self.moves.append(Move(step, "reconnect", name, connection_id=connection_id,
                               extra={"opened": new}))
        return new

    # -- internals -------------------------------------------------------------------

    def _open(self, name: str, step: int, connection_id: str | None = None) -> str:
        """Connect ``name`` with its token and record the connection as opened at ``step``."""
        if connection_id is None or connection_id in self._connection_ids:
            n = len(self._connection_ids) + 1
            while f"c{n}" in self._connection_ids:
                n += 1
            connection_id = f"c{n}"
        token = self.identities[name].token
        stream = self._bounded("connect", self.harness.target.connect, token)
        self._connection_ids.add(connection_id)
        self.streams[connection_id] = (name, stream)
        self.history.append(ConnectionOpened(step, connection_id, name))
        return connection_id

    def _close(self, connection_id: str, step: int) -> None:
        """Collect what reached ``connection_id``, close it, and record it closed at ``step``."""
        name, stream = self.streams.pop(connection_id)
        self._bounded("event delivery", stream.sync)
        for event in stream.take():
            self.history.append(EventDelivered(step, connection_id, name, event))
        self._bounded("closing of an event stream", stream.aclose)
        self.history.append(ConnectionClosed(step, connection_id, name))
