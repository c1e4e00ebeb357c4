"""Interleaving points at every real await: a run is driven the way ``asyncio.Task`` drives it.

Design note (issue 12).  Before, a run moved only between the ``checkpoint()`` calls
its code made, so a system with none ran every run start to end in one move and its
races could not show.  Now the controller drives each run's coroutine itself:
:class:`Driven` is an awaitable whose ``__await__`` calls ``coro.send`` /
``coro.throw`` as a ``Task`` does.  When the coroutine yields a pending future (a
socket read in redis-py or asyncpg, a worker thread behind ``anyio.to_thread``, a
sleep, a lock), the future is yielded on to the real task, so the event loop
completes it while the other runs stay paused: a run waits on its *own* I/O, never
on a paused run, and pausing creates no deadlock.  Once it is done, and before the
coroutine resumes, the run pauses at an **automatic point** labelled with the
innermost frame of the target's own code (``module:function:line``, walking
``cr_await`` / ``gi_yieldfrom`` and skipping asyncio, anyio, the drivers and the
engine) and, where known, the driver operation (``redis GET``, ``asyncpg fetch``,
``clickhouse query``).  A bare ``yield`` (``sleep(0)``) is a point too.
Cancellation and errors are thrown into the coroutine with ``coro.throw``.

Stable steps.  A replay must do what the recording did, but the number of raw
suspensions of one driver call varies with timing (a response read in one or two
chunks, a connection opened on first use).  Chosen rule: *a point is the first
real suspension of each await expression of the target's own code*, not counting a
driver's setup (opening a connection, preparing a statement: cache-dependent round
trips that a replay in a fresh session would have where the recording had none).
Consecutive
suspensions with the same key (the own-code frame, its ``f_lasti`` and the very
awaitable it waits on, held so its id cannot be reused) make one point; a future
that is already done counts for nothing; driver background tasks are other tasks
and never count.  The pause comes after that first suspension completes, so a
worker-thread call pauses after anyio's opening ``sleep(0)``, before the thread
starts and before the capacity limiter is taken, and a command on an open
connection pauses after its reply arrived.  Why not "the last suspension": which
one is last is known only once the target's code has run on, past the point.
Why not every raw suspension: their count is timing, and a replay would diverge.

Held connections (issue 19).  A run pauses inside a held pooled connection and an
open transaction like anywhere else: code that does all its work inside
``async with pool.acquire()``, an asyncpg transaction or a SQLAlchemy ``AsyncSession``
interleaves at each statement (SQLAlchemy's and greenlet's frames are skipped like a
driver's, so the point names the statement's line in the target's code, and one
``session.execute`` is one point however many round trips it makes).  What that
pause holds (a row lock, a pool slot) may be what the next run needs: the controller
sees that run waiting and moves the holder (:mod:`.waits`), so a correct system
never looks blocked.

Explicit checkpoints.  The hook a run installs (:class:`RunHook`) is still what
``checkpoint()`` calls; while its pause waits, suspensions add no second point (a
flag on the run).  ``installed_hook(None)`` (a run's shielded clean-up) switches
automatic points off too.  Tasks a run starts copy its context, but the hook pauses
only its own task: the controller gives each such task a hook of its own.

Modes (:data:`POINTS_MODES`): ``auto`` (automatic points and explicit checkpoints,
the default), ``explicit`` (only ``checkpoint()`` calls: the coroutine is awaited
plainly, exactly as before, so a seed explores the same examples) and ``auto-only``
(explicit checkpoints ignored: what a system without markers gets).

Never inside a shield: a suspension in a shielded anyio cancel scope of the run
(anyio's ``cancel_shielded_checkpoint`` in a lock's acquire, a shielded clean-up)
is no point, since a run paused there could not be cancelled when the example ends.

What is not controlled.  A hook pauses only its own task; the tasks a run starts
get hooks of their own, as the run's actors (:mod:`.tasks`).  Still free: tasks the
system starts outside any run (in its factory, at connect, a server's handler task),
tasks a driver starts for itself, a worker once let go at an example's end, threads
(``to_thread``, executors: a worker-thread call pauses once, before the thread
starts, and the thread then runs to its end), other processes and callbacks from C
libraries.  Whatever they do happens between points at a time the schedule does not
choose, so an interleaving they take part in may not replay exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import FrameType
from typing import Any, Final, Literal, get_args

# Private to anyio, read only: which cancel scopes a task is in (see _shielded).
from anyio._backends._asyncio import _task_states

from isolation_fuzz.checkpoint import current_hook

__all__ = ["POINTS_MODES", "Driven", "Points", "RunHook", "await_chain", "describe_wait",
           "frame_module", "is_own_module"]

Points = Literal["auto", "explicit", "auto-only"]
#: Every interleaving-point mode, the default first.
POINTS_MODES: Final[tuple[str, ...]] = get_args(Points)

#: Modules whose frames are never "the target's own code".
_SKIPPED: Final = (
    "asyncio", "anyio", "redis", "asyncpg", "clickhouse_connect", "websockets", "chdb",
    "contextlib", "concurrent", "sniffio", "async_timeout", "hiredis", "functools",
    "sqlalchemy", "greenlet",
    "isolation_fuzz.engine", "isolation_fuzz.services", "isolation_fuzz.checkpoint",
)


class RunHook:
    """The hook a run installs: explicit checkpoints call it, :class:`Driven` asks it.

    Args:
        pause: the controller's pause for this run (returns when the run is stepped).
        mode: which points this run has.
    """

    def __init__(self, pause: Callable[[str], Awaitable[None]], mode: Points) -> None:
        self._pause = pause
        self.mode = mode
        #: The run's own task (set when it starts); other tasks are never paused.
        self.task: asyncio.Task[Any] | None = None
        #: True while a pause waits: its own suspensions are no points.
        self.pausing = False
        #: The coroutine being driven (auto modes): what a wait is read from.
        self.coro: Any = None
        #: Let go by the controller (an idle task left at an example's end): never pauses.
        self.released = False

    async def __call__(self, label: str) -> None:
        """An explicit ``checkpoint(label)`` in the run's code."""
        if (self.mode == "auto-only" or self.pausing or self.released
                or asyncio.current_task() is not self.task):
            return
        await self.pause(label)

    async def pause(self, label: str) -> None:
        """Hand control back to the controller until the run is stepped again."""
        if self.released:
            return
        self.pausing = True
        try:
            await self._pause(label)
        finally:
            self.pausing = False

    def wants_auto(self) -> bool:
        """Whether a suspension now may be an automatic point (this hook is in force)."""
        return (not self.pausing and not self.released and current_hook() is self
                and not _shielded(self.task))

    async def drive(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Await ``fn()``: plainly in ``explicit`` mode, else step by step (:class:`Driven`)."""
        if self.mode == "explicit":
            return await fn()

        async def call() -> Any:
            return await fn()

        return await Driven(call(), self)


class Driven:
    """Awaits a coroutine the way ``asyncio.Task`` steps it, with a point after each wait."""

    __slots__ = ("_coro", "_hook")

    def __init__(self, coro: Coroutine[Any, Any, Any], hook: RunHook) -> None:
        self._coro = coro
        self._hook = hook
        hook.coro = coro

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, hook = self._coro, self._hook
        value: Any = None
        error: BaseException | None = None
        last: tuple[Any, ...] | None = None
        while True:
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            label: str | None = None
            if hook.wants_auto() and not (isinstance(yielded, asyncio.Future) and yielded.done()):
                found = _inspect(coro)
                if found is not None:  # None: a driver's setup; the await's point is later
                    key, label = found
                    if last is not None and _same(key, last):
                        label = None
                    last = key
            try:
                value = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # forwarded into the coroutine, as a Task does
                error = exc
            if label is not None and not isinstance(error, asyncio.CancelledError):
                try:
                    yield from hook.pause(label).__await__()
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as exc:  # cancelled while paused: into the coroutine
                    error = exc


#: Driver frames whose round trips depend on what the driver has cached, not on the
#: target's code: opening a connection, preparing a statement, looking up types.
_SETUP: Final = frozenset({
    ("asyncpg.connection", "_get_statement"), ("asyncpg.connection", "prepare"),
    ("asyncpg.connection", "_prepare"), ("asyncpg.connection", "_introspect_types"),
    ("asyncpg.connection", "_introspect_type"), ("asyncpg.connection", "connect"),
    ("asyncpg.connect_utils", "_connect_addr"), ("asyncpg.pool", "connect"),
    ("redis.asyncio.connection", "connect"), ("redis.asyncio.connection", "on_connect"),
    ("redis.asyncio.connection", "connect_check_health"),
})


def _shielded(task: asyncio.Task[Any] | None) -> bool:
    """Whether ``task`` is inside a shielded anyio cancel scope of its own.

    A run paused there could never be cancelled (the controller's close would hang):
    anyio's own ``cancel_shielded_checkpoint`` in a lock's acquire, a clean-up.
    """
    state = _task_states.get(task) if task is not None else None
    scope = getattr(state, "cancel_scope", None)
    while scope is not None and getattr(scope, "_host_task", None) is task:
        if scope.shield:
            return True
        scope = getattr(scope, "_parent_scope", None)
    return False


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[0] is b[0] and a[1] == b[1] and a[2] is b[2]


def await_chain(coro: Any) -> list[tuple[FrameType, Any]]:
    """The frames of the await chain, outermost first, each with what it awaits."""
    out: list[tuple[FrameType, Any]] = []
    current = coro
    while current is not None:
        frame = (getattr(current, "cr_frame", None) or getattr(current, "gi_frame", None)
                 or getattr(current, "ag_frame", None))
        if frame is None:
            break
        awaited = (getattr(current, "cr_await", None) or getattr(current, "gi_yieldfrom", None)
                   or getattr(current, "ag_await", None))
        out.append((frame, awaited))
        current = awaited
    return out


def frame_module(frame: FrameType) -> str:
    """The name of the module ``frame`` runs in."""
    return str(frame.f_globals.get("__name__", ""))


def is_own_module(module: str) -> bool:
    """Whether ``module`` is the target's own code: no driver's, asyncio's or the engine's."""
    return not any(module == p or module.startswith(p + ".") for p in _SKIPPED)


def _inspect(coro: Any) -> tuple[tuple[Any, ...], str] | None:
    """The coalescing key and the label of the await ``coro`` is suspended in.

    ``None`` while it waits in a driver's setup (a connection, a statement, types):
    such a suspension is no point, since whether it happens depends on the driver's
    caches (a pool's first use, a statement not yet prepared on that connection), and
    a replay in a fresh session would otherwise pause before the statement where the
    recording paused after it.  The await's point is its first suspension after.
    """
    chain = await_chain(coro)
    if not chain:
        return (None, -1, None), "await"
    own = chain[0]  # no frame of the target's own: the run's outermost frame
    for frame, awaited in chain:
        module = frame_module(frame)
        if (module, frame.f_code.co_name) in _SETUP:
            return None
        if is_own_module(module):
            own = (frame, awaited)
    frame, awaited = own
    where = f"{frame_module(frame)}:{frame.f_code.co_name}:{frame.f_lineno}"
    op = describe_wait([f for f, _ in chain])
    return (frame, frame.f_lasti, awaited), f"{where} {op}" if op else where


def describe_wait(frames: list[FrameType]) -> str:
    """The driver operation a run waits in, where known: ``redis GET``, ``asyncpg fetch``."""
    for frame in frames:
        module, name = frame_module(frame), frame.f_code.co_name
        if module.startswith("redis.") and name == "execute_command":
            args = frame.f_locals.get("args") or ("?",)
            return f"redis {str(args[0]).upper()}"
        if module in ("asyncpg.connection", "asyncpg.prepared_stmt", "asyncpg.transaction") and (
            not name.startswith("_")
        ):
            return f"asyncpg {name}"
        if module.startswith("anyio.") and name == "run_sync_in_worker_thread":
            func = frame.f_locals.get("func")
            inner = getattr(func, "func", func)  # a functools.partial's function
            owner = type(getattr(inner, "__self__", None)).__module__
            what = getattr(inner, "__name__", "call")
            return f"clickhouse {what}" if owner.startswith("clickhouse_connect") else (
                f"thread {what}")
        if module == "asyncio.tasks" and name == "sleep":
            return "sleep"
        if module in ("asyncio.locks", "asyncio.queues") or (
            module.startswith("anyio.") and name in ("acquire", "wait", "receive", "send")
        ):
            return f"{module.rsplit('.', 1)[-1]} {name}"
    return ""
