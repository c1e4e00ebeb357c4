"""Event routing: connections, the registry of who is connected, and per-run emitters.

A user may hold several connections; thread ids are shared across users.  A
`RunEmitter` is bound to one run's execution context and delivers that run's
events to the connections of the run's user, and to nobody else.

Seams: seeded-bug variants override exactly one of `RunEmitter._recipients`,
`RunEmitter._next_seq` or `EmitterFactory.for_run` / `release`, so each of those
is a separate method and the factory builds emitters from `emitter_class`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.model import Event, EventKind
from isolation_fuzz.platform.context import UserExecutionContext

__all__ = ["Connection", "ConnectionRegistry", "EmitterFactory", "LocalConnection", "RunEmitter"]


class Connection(Protocol):
    """One open event connection of one user.

    `send` raises `OSError` (usually `ConnectionError`) when the connection is gone.
    """

    connection_id: str
    user_id: str

    async def send(self, event: Event) -> None: ...


class ConnectionRegistry:
    """Who is connected, and which users have runs on which threads.

    Connections are kept by identity in registration order, not keyed by their
    id: ids may come from clients (``X-Connection-Id``), and one client reusing
    another's id must not evict, or be evicted by, the other's connection.
    """

    def __init__(self) -> None:
        self._connections: list[Connection] = []
        self._watchers: dict[str, list[str]] = {}

    def register(self, connection: Connection) -> None:
        """Start delivering to ``connection`` (registering it twice changes nothing)."""
        if not any(c is connection for c in self._connections):
            self._connections.append(connection)

    def unregister(self, connection: Connection) -> None:
        """Stop delivering to ``connection``; unknown connections are ignored."""
        self._connections = [c for c in self._connections if c is not connection]

    def connections_of(self, user_id: str) -> list[Connection]:
        """The user's connections, by exact id equality (no case or Unicode folding)."""
        return [c for c in self._connections if c.user_id == user_id]

    def all(self) -> list[Connection]:
        """Every registered connection, in registration order."""
        return list(self._connections)

    def watch(self, thread_id: str, user_id: str) -> None:
        """Record that ``user_id`` has (had) a run on ``thread_id``."""
        watchers = self._watchers.setdefault(thread_id, [])
        if user_id not in watchers:
            watchers.append(user_id)

    def watching(self, thread_id: str) -> list[Connection]:
        """Connections of every user who ever had a run on ``thread_id``.

        Correct routing never uses this: it exists for the seeded bug that routes
        events by thread id alone.
        """
        users = self._watchers.get(thread_id, [])
        return [c for c in self._connections if c.user_id in users]


class LocalConnection:
    """An in-process connection; also the fuzzer's `EventStream` for it."""

    def __init__(self, connection_id: str, user_id: str, registry: ConnectionRegistry) -> None:
        self.connection_id = connection_id
        self.user_id = user_id
        self._registry = registry
        self._received: list[Event] = []
        self._closed = False

    async def send(self, event: Event) -> None:
        """Deliver ``event`` at once; a closed connection refuses, like a closed socket."""
        if self._closed:
            raise ConnectionError(f"connection {self.connection_id} is closed")
        self._received.append(event)

    def take(self) -> list[Event]:
        """Return (and forget) the events received since the last call."""
        received, self._received = self._received, []
        return received

    async def sync(self) -> None:
        """Delivery is synchronous in process: everything sent is already here."""

    async def aclose(self) -> None:
        """Stop receiving; events already received stay available to `take`."""
        self._closed = True
        self._registry.unregister(self)


class RunEmitter:
    """Emits the events of one run to the connections of the run's user."""

    def __init__(self, registry: ConnectionRegistry, ctx: UserExecutionContext) -> None:
        self.registry = registry
        self.ctx = ctx
        self._seq = 0
        registry.watch(ctx.thread_id, ctx.user_id)

    def _next_seq(self) -> int:
        """The next sequence number of this run's events: a per-emitter counter from 0."""
        seq = self._seq
        self._seq += 1
        return seq

    def _recipients(self) -> list[Connection]:
        """The connections that receive this run's events: its user's, and only those."""
        return self.registry.connections_of(self.ctx.user_id)

    async def emit(self, kind: EventKind | str, payload: Mapping[str, Any]) -> Event:
        """Build the run's next event, deliver it, and return it.

        The checkpoint comes first so the scheduler can interleave other runs
        between deciding to emit and numbering/routing the event: that window is
        where shared counters and mis-bound emitters show.
        """
        await checkpoint(f"emit.{kind}")
        ctx = self.ctx
        event = Event(kind, ctx.user_id, ctx.thread_id, ctx.run_id, self._next_seq(), payload)
        for connection in self._recipients():
            try:
                await connection.send(event)
            except OSError:
                # A socket that went away must not fail the run of the user it belonged to.
                self.registry.unregister(connection)
        return event


class EmitterFactory:
    """Hands each run its emitter, and takes it back when the run ends."""

    emitter_class: ClassVar[type[RunEmitter]] = RunEmitter

    def __init__(self, registry: ConnectionRegistry) -> None:
        self.registry = registry

    def for_run(self, ctx: UserExecutionContext) -> RunEmitter:
        """A new emitter bound to ``ctx``."""
        return self.emitter_class(self.registry, ctx)

    def release(self, emitter: RunEmitter) -> None:
        """Called when the run ends; nothing is pooled, so there is nothing to do."""
