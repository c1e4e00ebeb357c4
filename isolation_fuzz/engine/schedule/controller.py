"""Step-by-step scheduling of agent runs, and the campaign's long-lived event loop.

Hypothesis runs one rule at a time and has no notion of concurrency, so each agent
run is a task that pauses at every `checkpoint` until the state machine says which
run moves next.  Exactly one run moves at a time: `RunController.step` resumes one
run and returns when it reaches its next checkpoint, finishes, fails, or is
*blocked* (reaches no checkpoint in time while every service answers and another
run is paused, typically because it waits on a lock a paused run holds; a slow or
stalled service is never "blocked", see :mod:`isolation_fuzz.engine.schedule.stall`).  The
same sequence of starts and steps over the same target therefore produces the same
history.  A run that waits on what a paused run holds (a row lock, a pool slot, a
lock) is not blocked: the controller moves the holder until it is free, and the
step's outcome says who moved (:mod:`isolation_fuzz.engine.schedule.waits`).  Which
suspensions are points (every real await, explicit checkpoints, or both) is the
controller's ``points`` mode, see :mod:`isolation_fuzz.engine.schedule.points`.

`CampaignLoop` keeps one event loop alive for a whole campaign (anyio's blocking
portal), so that services, pools and servers outlive the examples that use them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, ExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Self, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.from_thread import BlockingPortal, start_blocking_portal

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.engine.schedule.points import POINTS_MODES, Points, RunHook
from isolation_fuzz.engine.schedule.stall import DEFAULT_SERVICE_TIMEOUT, Probe, StallPolicy
from isolation_fuzz.engine.schedule.waits import LockQuery, holder_of, waiting
from isolation_fuzz.errors import UsageError

__all__ = ["CampaignLoop", "RunController", "RunFn", "StepOutcome", "Waited"]

T = TypeVar("T")
Status = Literal["paused", "finished", "failed", "blocked"]
#: What performs one run once called (``target.run`` bound to its token, thread, plan, id).
RunFn = Callable[[], Awaitable[Any]]
#: A silent run is first looked at after this long, then at doubling intervals up to
#: the second: short, since a run waiting on a paused run's lock is common.
_FIRST_LOOK, _LAST_LOOK = 0.01, 0.2
#: Holder moves one wait may take before the waiting run is judged as blocked.
_MAX_HOLDER_MOVES = 200


@dataclass(frozen=True)
class StepOutcome:
    """Where a run stopped: ``label`` when paused, ``result`` when finished, ``error``
    when failed; a blocked run reached no checkpoint within the block timeout."""

    status: Status
    label: str | None = None
    result: Any = None
    error: BaseException | None = None
    #: The paused runs moved, in order, because this run waited on what they held.
    waited: tuple[Waited, ...] = ()

    def with_waits(self, earlier: tuple[Waited, ...]) -> StepOutcome:
        """This outcome with ``earlier`` waits (of the same call's earlier steps) first."""
        return replace(self, waited=earlier + self.waited) if earlier else self


@dataclass(frozen=True)
class Waited:
    """The moving run waited on paused run ``holder`` (a ``kind``); it moved to ``outcome``."""

    holder: str
    kind: str
    outcome: StepOutcome


@dataclass(eq=False)
class _Run:
    """The controller's side of one run task: the events it hands control over with."""

    run_id: str
    resume: anyio.Event = field(default_factory=anyio.Event)
    stopped: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    outcome: StepOutcome | None = None  # None while it moves
    hook: RunHook | None = None

    def suspended(self) -> Any:
        """The run's suspended coroutine, where its current wait can be read."""
        if self.hook is None:
            return None
        if self.hook.coro is not None:
            return self.hook.coro
        return self.hook.task.get_coro() if self.hook.task is not None else None

    @property
    def status(self) -> str:
        """The outcome's status, or ``"moving"`` between a resume and the next stop."""
        return self.outcome.status if self.outcome is not None else "moving"


class RunController:
    """Starts runs as tasks and moves exactly one of them at a time.

    Use as an async context manager: it owns the task group the runs live in (a portal
    runs every call in a fresh task, so runs cannot belong to the caller's task), and
    on exit cancels every unfinished run, paused or blocked, and awaits its cleanup.
    """

    def __init__(
        self,
        block_timeout: float = 5.0,
        *,
        service_timeout: float = DEFAULT_SERVICE_TIMEOUT,
        probe: Probe | None = None,
        points: Points = "auto",
        locks: LockQuery | None = None,
    ) -> None:
        if block_timeout <= 0:
            raise UsageError(f"block_timeout must be positive, got {block_timeout}")
        if points not in POINTS_MODES:
            raise UsageError(f"points must be one of {list(POINTS_MODES)}, got {points!r}")
        self.block_timeout = block_timeout
        #: Which suspensions of a run are interleaving points (issue 12).
        self.points: Points = points
        #: Who decides whether a silent run is blocked or its services are at fault.
        self.stalls = StallPolicy(block_timeout, service_timeout, probe)
        #: Asks Postgres who holds up a backend, to see a run waiting on a row lock.
        self.locks = locks
        self._runs: dict[str, _Run] = {}  # unfinished runs (paused or blocked), by start order
        self._ended: dict[str, str] = {}  # only so that stepping an ended run says so
        self._group: TaskGroup | None = None
        self._moving: str | None = None

    async def __aenter__(self) -> Self:
        if self._group is not None:
            raise UsageError("this RunController is already entered")
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        group, self._group = self._group, None
        assert group is not None, "exited without being entered"
        self._cancel_runs()
        # The task group waits for every cancelled run, so nothing outlives the controller.
        return await group.__aexit__(*exc_info)

    def active(self) -> list[str]:
        """The ids of paused runs, in the order they were started."""
        return [r.run_id for r in self._runs.values() if r.status == "paused"]

    async def start(self, run_id: str, fn: RunFn) -> StepOutcome:
        """Start ``fn`` as run ``run_id``; return at its first checkpoint or its end."""
        if self._group is None:
            raise UsageError("enter the RunController (async with) before starting runs")
        if run_id in self._runs:
            raise UsageError(f"run {run_id!r} was already started; run ids must be unique")
        self._check_idle(run_id)
        run = _Run(run_id)
        self._runs[run_id] = run
        self._ended.pop(run_id, None)
        self._group.start_soon(self._body, run, fn, name=f"isolation-fuzz run {run_id}")
        return await self._wait(run)

    async def step(self, run_id: str) -> StepOutcome:
        """Resume paused run ``run_id``; return at its next checkpoint or its end."""
        run = self._runs.get(run_id)
        if run is None or run.status != "paused":
            state = self._ended.get(run_id, "unknown") if run is None else run.status
            raise UsageError(
                f"cannot step run {run_id!r}: it is {state}; paused runs are {self.active()}"
            )
        self._check_idle(run_id)
        return await self._resume(run)

    async def finish(self, run_id: str, max_steps: int = 1000) -> StepOutcome:
        """Step paused run ``run_id`` until it stops being paused, at most ``max_steps``."""
        outcome = await self.step(run_id)
        waited = outcome.waited
        for _ in range(max_steps - 1):
            if outcome.status != "paused":
                break
            outcome = await self.step(run_id)
            waited += outcome.waited
        return replace(outcome, waited=waited)

    async def run_to_end(self, run_id: str, fn: RunFn, max_steps: int = 1000) -> StepOutcome:
        """Start ``fn`` and step it to its end; only the runs it waits on move meanwhile."""
        outcome = await self.start(run_id, fn)
        if outcome.status == "paused":
            outcome = (await self.finish(run_id, max_steps)).with_waits(outcome.waited)
        return outcome

    async def cancel_all(self) -> None:
        """Cancel every unfinished run and wait (up to ``block_timeout``) for its cleanup."""
        runs = self._cancel_runs()
        # Bounded: a run stuck in code that ignores cancellation must not hang teardown;
        # the task group still collects it when the controller closes.
        with anyio.move_on_after(self.block_timeout):
            for run in runs:
                await run.done.wait()

    def _cancel_runs(self) -> list[_Run]:
        runs = list(self._runs.values())
        self._runs.clear()
        self._ended.clear()
        for run in runs:
            run.scope.cancel()
        return runs

    def _others_paused(self) -> bool:
        # The moving run is "moving", never "paused", so every paused run is another.
        return bool(self.active())

    def _check_idle(self, run_id: str) -> None:
        # Two callers moving runs at once (e.g. portal calls from two threads) would
        # break the one-run-at-a-time rule that makes interleavings replayable.
        if self._moving is not None:
            raise UsageError(f"cannot move run {run_id!r} while run {self._moving!r} moves")

    async def _resume(self, run: _Run) -> StepOutcome:
        run.outcome = None
        run.stopped = anyio.Event()
        # Swap before setting: the run's next pause must wait on a fresh event.
        resume, run.resume = run.resume, anyio.Event()
        resume.set()
        return await self._wait(run)

    async def _wait(self, run: _Run) -> StepOutcome:
        outer, self._moving = self._moving, run.run_id
        waited: list[Waited] = []
        try:
            await self._until_stopped(run, waited)
            if not run.stopped.is_set():
                # Silent for a block timeout with no paused run to move: a stalled
                # service raises here (exit 3); only a run silent while every service
                # answers and another run is paused comes back as blocked.
                try:
                    await self.stalls.judge_silence(run.stopped, run.run_id, self._others_paused)
                except BaseException:
                    # Given up on, as a blocked run is: it must never move again.
                    run.outcome = StepOutcome("blocked")
                    raise
        finally:
            self._moving = outer
        # No await between the check and the verdict, so the run cannot slip in between.
        if not run.stopped.is_set():
            # Blocked: it stays a task (cancelled on close) but is never stepped again.
            run.outcome = StepOutcome("blocked", waited=tuple(waited))
            return run.outcome
        assert run.outcome is not None
        if run.outcome.status != "paused":
            del self._runs[run.run_id]
            self._ended[run.run_id] = run.outcome.status
        return replace(run.outcome, waited=tuple(waited)) if waited else run.outcome

    async def _until_stopped(self, run: _Run, waited: list[Waited]) -> None:
        """Wait for ``run`` to stop, moving the paused runs it waits on.

        Returns once it stopped, or after a block timeout of silence with nothing to move.
        """
        look, silent_since = _FIRST_LOOK, anyio.current_time()
        while len(waited) < _MAX_HOLDER_MOVES:
            left = self.block_timeout - (anyio.current_time() - silent_since)
            if left <= 0:
                return
            with anyio.move_on_after(min(look, left)):
                await run.stopped.wait()
            if run.stopped.is_set():
                return
            look = min(2 * look, _LAST_LOOK)
            paused = [(r.run_id, r.suspended()) for r in self._runs.values()
                      if r.status == "paused"]
            if not paused:
                continue
            wait = await waiting(run.suspended(), self.locks)
            holder = None if wait is None else holder_of(wait, paused)
            if wait is None or holder is None:
                continue
            waited.append(Waited(holder, wait.kind, await self._resume(self._runs[holder])))
            look, silent_since = _FIRST_LOOK, anyio.current_time()

    async def _body(self, run: _Run, fn: RunFn) -> None:
        async def pause(label: str) -> None:
            if run.status == "blocked":
                # Given up on; moving again would race whichever run is being stepped.
                await anyio.sleep_forever()
            run.outcome = StepOutcome("paused", label=label)
            run.stopped.set()
            await run.resume.wait()

        def settle(outcome: StepOutcome) -> None:
            if run.status != "blocked":  # a late end must not overwrite the verdict
                run.outcome = outcome
                run.stopped.set()

        hook = RunHook(pause, self.points)
        hook.task = asyncio.current_task()
        run.hook = hook
        try:
            # The hook lives in this task's context (and its children's, which it never
            # pauses), nowhere else.
            with run.scope, installed_hook(hook):
                try:
                    result = await hook.drive(fn)
                except Exception as exc:  # a failing run is an outcome, not a crash
                    settle(StepOutcome("failed", error=exc))
                else:
                    settle(StepOutcome("finished", result=result))
        finally:
            run.done.set()


class CampaignLoop:
    """One event loop for a whole campaign, driven from synchronous code.

    ``call(fn, *args)`` runs an async function in the loop; ``enter_async(cm)`` enters
    an async context manager there and keeps it open until the loop closes, when
    everything entered is exited in reverse order and then the loop stops.
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None

    @property
    def portal(self) -> BlockingPortal:
        """The blocking portal into the campaign's event loop (only while open)."""
        if self._portal is None:
            raise UsageError("CampaignLoop is not open; use it as a context manager")
        return self._portal

    def __enter__(self) -> Self:
        if self._portal is not None:
            raise UsageError("this CampaignLoop is already open")
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal("asyncio"))
        return self

    def __exit__(self, *exc_info: Any) -> bool | None:
        try:
            if isinstance(exc_info[1], KeyboardInterrupt):
                # Thrown into the loop's context managers, a KeyboardInterrupt (a signal's
                # StopRequested) stops anyio's loop itself, and nothing entered is exited
                # ("This portal is not running").  Exit them as on success; it re-raises.
                self._stack.__exit__(None, None, None)
                return None
            return self._stack.__exit__(*exc_info)
        finally:
            self._portal = None

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` in the campaign's loop and return its result."""
        return self.portal.call(fn, *args)

    def enter_async(self, cm: AbstractAsyncContextManager[T]) -> T:
        """Enter ``cm`` in the loop; it is exited when the campaign loop closes."""
        return self._stack.enter_context(self.portal.wrap_async_context_manager(cm))
