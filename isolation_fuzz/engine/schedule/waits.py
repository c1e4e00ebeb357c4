"""Waiting is not blocked: a run that waits on what a paused run holds.

Design note (issue 19).  With points inside held connections and transactions, a
paused run may hold what the moving run needs: a row lock (an ``UPDATE`` of the same
row, a ``SELECT ... FOR UPDATE``, an advisory lock), a slot of a connection pool, an
``asyncio.Lock``.  The moving run then waits, and before this it was silent for a
block timeout and reported *blocked*, a deadlock the real system never has: there
the holder would simply have gone on.

So the controller looks at a silent run (:func:`waiting`) before it waits out the
block timeout.  A run waits on another run when its innermost wait is

* a Postgres statement whose backend is held up by another backend
  (``pg_blocking_pids``, asked on a connection of the engine's own: *row lock*);
* the wait queue of a connection pool (asyncpg's, SQLAlchemy's): *pool slot*;
* the ``acquire`` of an asyncio or anyio lock or semaphore: *lock*.

An event, a condition or a plain queue is not taken for a wait on a run: what sets
it is often a task of the system's own (a flusher, a server's reader), and moving a
paused run because of it would make the interleaving depend on that task's timing.

It then moves the holder (:func:`holder_of`): the paused run whose connection's
backend holds the row lock, or whose task owns the lock (anyio's locks say), when
that is known, else the earliest started paused run, one step at a time until the
waiting run is free.  The guess can be wrong for an ``asyncio.Lock`` (it names no
owner): the run moved in its place may then wait on the same lock, and with its
holder itself waiting it is judged blocked, a false "blocked" that only more runs
than two on one asyncio lock can show.  Both choices depend only on the
interleaving, so a replay moves the same holder the same number of steps, and the
move's outcome names them.  A run waiting on nothing paused (a true deadlock, or a
service that stalls) is judged as before, by :mod:`.stall`.

What is not seen: a wait on another process or a thread, a Redis ``BLPOP`` fed by a
paused run.  Those still look blocked after a block timeout, as they did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final

from isolation_fuzz.engine.schedule.points import await_chain, frame_module

__all__ = ["LockQuery", "Wait", "backend_pids", "holder_of", "waiting"]

#: Asks Postgres which backends hold up backend ``pid`` (``pg_blocking_pids``).
LockQuery = Callable[[int], Awaitable[tuple[int, ...]]]

#: Modules whose ``acquire`` frames wait for a lock or semaphore another task holds.
_LOCKS: Final = ("asyncio.locks", "anyio._core._synchronization", "anyio._backends._asyncio")
#: Frames that say a wait is for a connection pool's slot.
_POOLS: Final = ("asyncpg.pool", "sqlalchemy.pool", "sqlalchemy.util.queue")


@dataclass(frozen=True)
class Wait:
    """What a silent run waits on: its kind and, for a row lock, the backends holding it."""

    kind: str  # "row lock", "pool slot" or "lock"
    blockers: tuple[int, ...] = ()
    #: The task holding the lock, where the lock says (anyio's does; asyncio's does not).
    owner: Any = None


async def waiting(coro: Any, locks: LockQuery | None) -> Wait | None:
    """What the suspended ``coro`` waits on, if it is something another run may hold."""
    chain = [frame for frame, _ in await_chain(coro)]
    if not chain:
        return None
    modules = [frame_module(frame) for frame in chain]
    innermost = modules[-1]
    if innermost.startswith(("asyncio.locks", "asyncio.queues")) and any(
        m.startswith(_POOLS) for m in modules
    ):
        return Wait("pool slot")
    acquiring = [f for m, f in zip(modules, chain, strict=True)
                 if m.startswith(_LOCKS) and f.f_code.co_name == "acquire"]
    if acquiring:
        owners = [getattr(f.f_locals.get("self"), "_owner_task", None) for f in acquiring]
        return Wait("lock", owner=next((o for o in owners if o is not None), None))
    if locks is None:
        return None
    pids = backend_pids(chain[-4:] if len(chain) > 4 else chain, statement_only=True)
    for pid in pids:
        blockers = await locks(pid)
        if blockers:
            return Wait("row lock", blockers)
    return None


def holder_of(wait: Wait, paused: Iterable[tuple[str, Any, Any]]) -> str | None:
    """The paused run to move for ``wait``: the lock's holder if known, else the oldest.

    ``paused`` is each paused run's id, its suspended coroutine and its task, in start
    order.  An owner that is known but not among them (it is itself waiting) names no
    one: moving another run would not free the lock.
    """
    runs = list(paused)
    if not runs:
        return None
    if wait.owner is not None:
        return next((run_id for run_id, _, task in runs if task is wait.owner), None)
    if wait.blockers:
        wanted = set(wait.blockers)
        for run_id, coro, _ in runs:
            if wanted & set(backend_pids([f for f, _ in await_chain(coro)])):
                return run_id
    return runs[0][0]


def backend_pids(frames: Iterable[FrameType], *, statement_only: bool = False) -> list[int]:
    """The Postgres backends of the asyncpg connections the ``frames`` hold, in order.

    With ``statement_only``, only the connection an asyncpg frame runs a statement on
    (its ``self``); else every connection in a local of any frame, which is how a
    paused run's held connections are found (a pooled proxy, a SQLAlchemy adapter).
    """
    pids: list[int] = []
    for frame in frames:
        if statement_only and not frame_module(frame).startswith("asyncpg"):
            continue
        values = [frame.f_locals.get("self")] if statement_only else frame.f_locals.values()
        for value in values:
            pid = _pid_of(value)
            if pid is not None and pid not in pids:
                pids.append(pid)
    return pids


def _pid_of(value: Any) -> int | None:
    """The backend pid of an asyncpg connection, however it is wrapped; else ``None``."""
    for _ in range(3):  # a statement's connection, a pool proxy's, a SQLAlchemy adapter's
        if value is None:
            return None
        kind = type(value)
        if kind.__module__.startswith("asyncpg") and kind.__name__ == "Connection":
            if value.is_closed():
                return None
            pid: int = value.get_server_pid()
            return pid
        value = _inner_connection(value)
    return None


def _inner_connection(value: Any) -> Any:
    kind = type(value)
    module = kind.__module__
    if module.startswith("asyncpg"):
        # A pooled proxy's connection (None once released), a statement's connection.
        return getattr(value, "_con", None) or getattr(value, "_connection", None)
    if module.startswith("sqlalchemy") and kind.__name__.startswith("AsyncAdapt_asyncpg"):
        return getattr(value, "_connection", None)
    return None
