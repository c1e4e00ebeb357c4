"""Step-by-step scheduling of agent runs.

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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, Self

import anyio
from anyio.abc import TaskGroup

from isolation_fuzz.checkpoint import current_hook
from isolation_fuzz.engine.schedule.points import POINTS_MODES, Points, RunHook
from isolation_fuzz.engine.schedule.runs import RunSlot, StepOutcome, Waited, drive_slot
from isolation_fuzz.engine.schedule.stall import DEFAULT_SERVICE_TIMEOUT, Probe, StallPolicy
from isolation_fuzz.engine.schedule.tasks import (
    TaskAdoption,
    awaited_tasks,
    creation_site,
    waits_for_work,
)
from isolation_fuzz.engine.schedule.waits import LockQuery, holder_of, waiting
from isolation_fuzz.errors import UsageError

__all__ = ["RunController", "RunFn"]

#: What performs one run once called (``target.run`` bound to its token, thread, plan, id).
RunFn = Callable[[], Awaitable[Any]]
#: A silent run is first looked at after this long, then at doubling intervals up to
#: the second: short, since a run waiting on a paused run's lock is common.
_FIRST_LOOK, _LAST_LOOK = 0.01, 0.2
#: Holder moves one wait may take before the waiting run is judged as blocked.
_MAX_HOLDER_MOVES = 200


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
        self._runs: dict[str, RunSlot] = {}  # unfinished runs (paused or blocked), by start order
        self._ended: dict[str, str] = {}  # only so that stepping an ended run says so
        self._group: TaskGroup | None = None
        self._moving: str | None = None
        #: Tasks created inside runs become their actors (tasks.py).
        self._adoption = TaskAdoption(self._adopt, self._bind)
        self._pending: dict[Coroutine[Any, Any, Any], tuple[RunSlot, Any]] = {}
        self._actors_started: dict[str, int] = {}
        #: Creation sites of idle actors let go at an example's end (:meth:`take_released`).
        self._released: list[str] = []
        #: Runs inside an open ``_wait`` (the moving one, and those it waits on): never
        #: a holder to move, even if one pauses meanwhile.
        self._waiting: set[str] = set()
        #: Runs whose tasks ran other than as awaited by them: their calls are not in
        #: plan order for the read model (:meth:`runs_out_of_order`).
        self._unordered: set[str] = set()

    async def __aenter__(self) -> Self:
        if self._group is not None:
            raise UsageError("this RunController is already entered")
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._adoption.install()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        group, self._group = self._group, None
        assert group is not None, "exited without being entered"
        self._cancel_runs()
        self._adoption.uninstall()
        # The task group waits for every cancelled run, so nothing outlives the controller.
        return await group.__aexit__(*exc_info)

    def active(self) -> list[str]:
        """The ids of paused runs and actors, in the order they were started."""
        return [r.run_id for r in list(self._runs.values()) if r.status == "paused"]

    def root_of(self, run_id: str) -> str:
        """The run ``run_id`` belongs to: itself, or for an actor (``r3/bg1``) its run."""
        return run_id.split("/", 1)[0]

    def live_tasks(self, root: str) -> list[str]:
        """The actors of run ``root`` that are neither done nor idle, oldest first."""
        return [r.run_id for r in list(self._runs.values())
                if r.is_actor and r.root == root and r.status in ("paused", "moving")]

    def runs_out_of_order(self, root: str) -> bool:
        """Whether a task of run ``root`` moved other than while ``root`` awaited it.

        Such a task (a fire-and-forget write) may land after the run's later calls, so
        the read model must not take the run's calls to be in plan order.  A task the
        run awaited (a ``gather``) only ever moved inside the run's own wait.
        """
        return root in self._unordered

    def take_released(self) -> list[str]:
        """The creation sites of idle actors let go since the last call (they outlived it)."""
        released, self._released = self._released, []
        return released

    async def start(self, run_id: str, fn: RunFn) -> StepOutcome:
        """Start ``fn`` as run ``run_id``; return at its first checkpoint or its end."""
        if self._group is None:
            raise UsageError("enter the RunController (async with) before starting runs")
        if run_id in self._runs:
            raise UsageError(f"run {run_id!r} was already started; run ids must be unique")
        self._check_idle(run_id)
        run = RunSlot(run_id)
        self._runs[run_id] = run
        self._ended.pop(run_id, None)
        name = f"isolation-fuzz run {run_id}"
        self._group.start_soon(drive_slot, run, fn, self.points, name=name)
        outcome = await self._wait(run)
        await self._settle_woken()
        return outcome

    async def step(self, run_id: str) -> StepOutcome:
        """Resume paused run ``run_id``; return at its next checkpoint or its end."""
        run = self._runs.get(run_id)
        if run is None or run.status != "paused":
            state = self._ended.get(run_id, "unknown") if run is None else run.status
            raise UsageError(
                f"cannot step run {run_id!r}: it is {state}; paused runs are {self.active()}"
            )
        self._check_idle(run_id)
        if run.is_actor:
            self._unordered.add(run.root)
        outcome = await self._resume(run)
        await self._settle_woken()
        return outcome

    async def finish(self, run_id: str, max_steps: int = 1000) -> StepOutcome:
        """Step paused run ``run_id`` until it stops being paused, at most ``max_steps``.

        Only the run's own code: the tasks it started stay paused, actors of their own
        (a task is finished by finishing it; :meth:`run_to_end` finishes them too).
        """
        outcome = await self.step(run_id)
        waited = outcome.waited
        for _ in range(max_steps - 1):
            if outcome.status != "paused":
                break
            outcome = await self.step(run_id)
            waited += outcome.waited
        return replace(outcome, waited=waited)

    async def run_to_end(self, run_id: str, fn: RunFn, max_steps: int = 1000) -> StepOutcome:
        """Start ``fn`` and step it, and the tasks it starts, to their end.

        Only the runs it waits on move meanwhile; its tasks are finished oldest first
        (kind ``task`` in ``waited``), so that its writes are done when the move is.
        """
        outcome = await self.start(run_id, fn)
        if outcome.status == "paused":
            outcome = (await self.finish(run_id, max_steps)).with_waits(outcome.waited)
        waited = outcome.waited
        for _ in range(max_steps):
            actors = [a for a in self.live_tasks(run_id) if a in self.active()]
            if not actors:
                break
            done = await self.finish(actors[0], max_steps)  # marks the run unordered
            waited += (*done.waited, Waited(actors[0], "task", replace(done, waited=())))
        return replace(outcome, waited=waited)

    async def cancel_all(self) -> None:
        """Cancel every unfinished run and wait (up to ``block_timeout``) for its cleanup."""
        runs = self._cancel_runs()
        # Bounded: a run stuck in code that ignores cancellation must not hang teardown;
        # the task group still collects it when the controller closes.
        with anyio.move_on_after(self.block_timeout):
            for run in runs:
                await run.done.wait()

    def _cancel_runs(self) -> list[RunSlot]:
        """Cancel what still runs; let go the tasks that outlived the run that started them.

        A task that has waited for work (a worker, idle now or woken since) is the
        system's from then on: cancelling it would break the target for the next
        example, so it is released to run unscheduled, and named (:meth:`take_released`).
        Any other task is cancelled with its run, as a run cut short is.
        """
        runs = list(self._runs.values())
        self._runs.clear()
        self._ended.clear()
        self._actors_started.clear()  # run ids start again at the next example: so do theirs
        self._unordered.clear()
        self._waiting.clear()
        cancelled = []
        for run in runs:
            if run.is_actor and run.worker:
                self._release(run)
            else:
                run.scope.cancel()
                cancelled.append(run)
        return cancelled

    def _release(self, actor: RunSlot) -> None:
        if actor.hook is not None:
            actor.hook.released = True
        actor.resume.set()
        self._released.append(actor.site or "?")

    # -- adopting tasks (tasks.py) ----------------------------------------------------

    def _adopt(self, coro: Coroutine[Any, Any, Any]) -> Coroutine[Any, Any, Any] | None:
        hook = current_hook()
        if not isinstance(hook, RunHook) or hook.released or hook.pausing:
            return None  # outside any run of ours: the system's own task, left alone
        owner = next((r for r in self._runs.values() if r.hook is hook), None)
        site = creation_site(2)
        if owner is None or owner.scope.cancel_called or site is None:
            return None
        n = self._actors_started.get(owner.root, 0) + 1
        self._actors_started[owner.root] = n
        actor = RunSlot(f"{owner.root}/bg{n}", root=owner.root, site=site)
        actor.outcome = StepOutcome("paused", label=f"created at {actor.site}")
        actor.stopped.set()
        self._runs[actor.run_id] = actor
        body = drive_slot(actor, coro, self.points, starts_paused=True, reraise=True)
        self._pending[body] = (actor, coro)
        return body

    def _bind(self, body: Coroutine[Any, Any, Any], task: asyncio.Task[Any]) -> None:
        actor, coro = self._pending.pop(body, (None, None))
        if actor is None:
            return
        actor.task = task

        def ended(task: asyncio.Task[Any]) -> None:
            # Cancelled before its first step, the body never ran: it settles nothing.
            if actor.status == "paused" and actor.hook is None:
                if coro is not None:
                    coro.close()
                actor.outcome = StepOutcome("failed", error=asyncio.CancelledError())
                if self._runs.get(actor.run_id) is actor:
                    del self._runs[actor.run_id]
                    self._ended[actor.run_id] = "failed"

        task.add_done_callback(ended)


    def _others_paused(self) -> bool:
        # The moving run is "moving", never "paused", so every paused run is another.
        return bool(self.active())

    def _check_idle(self, run_id: str) -> None:
        # Two callers moving runs at once (e.g. portal calls from two threads) would
        # break the one-run-at-a-time rule that makes interleavings replayable.
        if self._moving is not None:
            raise UsageError(f"cannot move run {run_id!r} while run {self._moving!r} moves")

    async def _resume(self, run: RunSlot) -> StepOutcome:
        run.outcome = None
        run.stopped = anyio.Event()
        # Swap before setting: the run's next pause must wait on a fresh event.
        resume, run.resume = run.resume, anyio.Event()
        resume.set()
        return await self._wait(run)

    async def _settle_woken(self) -> None:
        """Let each idle actor woken during the move reach its next point before the move ends.

        A worker woken by the moving run (a put into its queue) runs on its own until
        its next point; waiting for that here makes the state after a move (which
        actors are paused) the same on every replay, never a matter of when it woke.
        """
        def woken(actor: RunSlot) -> bool:
            if actor.status != "idle" or actor.task is None or actor.task.done():
                return False
            waiter = getattr(actor.task, "_fut_waiter", None)
            return waiter is None or waiter.done()  # ready to run, not waiting for work

        with anyio.move_on_after(self.block_timeout):
            # Polled: what is watched is another task's own state, which sets no event.
            while any(woken(actor) for actor in list(self._runs.values())):  # noqa: ASYNC110
                await anyio.sleep(0.001)

    async def _wait(self, run: RunSlot) -> StepOutcome:
        outer, self._moving = self._moving, run.run_id
        self._waiting.add(run.run_id)
        waited: list[Waited] = []
        try:
            idle = await self._until_stopped(run, waited)
            if idle and not run.stopped.is_set():
                # Waiting for work: the step ends; its next point pauses it again.
                run.outcome = StepOutcome("idle", waited=tuple(waited))
                run.worker = True
                return run.outcome
            if not run.stopped.is_set():
                # Silent for a block timeout with no paused run to move: a stalled
                # service raises here (exit 3); only a run silent while every service
                # answers and another run is paused comes back as blocked.
                try:
                    await self.stalls.judge_silence(run.stopped, run.run_id, self._others_paused,
                                                    run.task)
                except BaseException:
                    # Given up on, as a blocked run is: it must never move again.
                    run.outcome = StepOutcome("blocked")
                    raise
        finally:
            self._moving = outer
            self._waiting.discard(run.run_id)
        # No await between the check and the verdict, so the run cannot slip in between.
        if not run.stopped.is_set():
            # Blocked: it stays a task (cancelled on close) but is never stepped again.
            run.outcome = StepOutcome("blocked", waited=tuple(waited))
            return run.outcome
        assert run.outcome is not None
        if run.outcome.status != "paused":
            self._runs.pop(run.run_id, None)
            self._ended[run.run_id] = run.outcome.status
        return replace(run.outcome, waited=tuple(waited)) if waited else run.outcome

    async def _until_stopped(self, run: RunSlot, waited: list[Waited]) -> bool:
        """Wait for ``run`` to stop, moving the paused runs and actors it waits on.

        Returns once it stopped, or after a block timeout of silence with nothing to
        move; true (at once) when an actor is found waiting for work.
        """
        look, silent_since = _FIRST_LOOK, anyio.current_time()
        while len(waited) < _MAX_HOLDER_MOVES:
            left = self.block_timeout - (anyio.current_time() - silent_since)
            if left <= 0:
                return False
            with anyio.move_on_after(min(look, left)):
                await run.stopped.wait()
            if run.stopped.is_set():
                return False
            look = min(2 * look, _LAST_LOOK)
            paused = [r for r in self._runs.values()
                      if r.status == "paused" and r.run_id not in self._waiting]
            moved = await self._move_what_it_waits_on(run, paused)
            if moved is None:
                if run.is_actor and waits_for_work(run.suspended()):
                    return True
                continue
            waited.append(moved)
            look, silent_since = _FIRST_LOOK, anyio.current_time()
        return False

    async def _move_what_it_waits_on(self, run: RunSlot, paused: list[RunSlot]) -> Waited | None:
        """Move the paused actor or run that silent ``run`` waits on, if one is known."""
        if not paused:
            return None
        mine = [a for a in paused if a.is_actor and a.root == run.root]
        if mine:
            futures, waits = awaited_tasks(run.task, run.suspended())
            named = [a for a in mine if a.task is not None and a.task in futures]
            child = named[0] if named else (mine[0] if waits else None)
            if child is not None:
                return Waited(child.run_id, "task", await self._resume(child))
        wait = await waiting(run.suspended(), self.locks)
        suspended = [(r.run_id, r.suspended(), r.task) for r in paused]
        holder = None if wait is None else holder_of(wait, suspended)
        if wait is None or holder is None:
            return None
        slot = self._runs[holder]
        if slot.is_actor:
            self._unordered.add(slot.root)
        return Waited(holder, wait.kind, await self._resume(slot))
