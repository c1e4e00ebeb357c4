"""What the controller knows of each run: where it stopped, and the events it moves by.

A run is a task that hands control back and forth with the controller through two
events (``resume`` to go on, ``stopped`` once it reached a point or its end); its
:class:`StepOutcome` says where it stopped, and :class:`Waited` what moved meanwhile
because it waited on them.  A run's *actors* (the tasks it starts, adopted by
:mod:`isolation_fuzz.engine.schedule.tasks`) are slots of their own, with the run they
belong to as their ``root``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import anyio

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.engine.schedule.points import Points, RunHook

__all__ = ["RunSlot", "Status", "StepOutcome", "Waited", "drive_slot"]

#: ``idle``: an actor suspended on an event or a queue, waiting for work (tasks.py).
Status = Literal["paused", "finished", "failed", "blocked", "idle"]


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
    """The moving run waited on paused run ``holder`` (a ``kind``); it moved to ``outcome``.

    Kind ``task``: the holder is one of the moving run's own actors (a task it started
    and awaits, or one that ``finish`` finished with it).
    """

    holder: str
    kind: str
    outcome: StepOutcome


@dataclass(eq=False)
class RunSlot:
    """The controller's side of one run task: the events it hands control over with."""

    run_id: str
    resume: anyio.Event = field(default_factory=anyio.Event)
    stopped: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    outcome: StepOutcome | None = None  # None while it moves
    hook: RunHook | None = None
    #: The run this slot belongs to: its own id for a run, its run's for an actor.
    root: str = ""
    #: Where the target's code created it (actors only).
    site: str | None = None
    #: The task it runs in, once known.
    task: asyncio.Task[Any] | None = None
    #: An actor that has waited for work (been idle) once: a worker, the system's.
    worker: bool = False

    def __post_init__(self) -> None:
        self.root = self.root or self.run_id

    @property
    def is_actor(self) -> bool:
        """Whether this is a task a run started, not the run itself."""
        return self.root != self.run_id

    def suspended(self) -> Any:
        """The run's suspended coroutine, where its current wait can be read."""
        if self.hook is None:
            return None
        if self.hook.coro is not None:
            return self.hook.coro
        return self.task.get_coro() if self.task is not None else None

    @property
    def status(self) -> str:
        """The outcome's status, or ``"moving"`` between a resume and the next stop."""
        return self.outcome.status if self.outcome is not None else "moving"


async def drive_slot(
    slot: RunSlot,
    fn: Callable[[], Awaitable[Any]] | Coroutine[Any, Any, Any],
    points: Points,
    *,
    starts_paused: bool = False,
    reraise: bool = False,
) -> Any:
    """Perform ``fn`` as ``slot``'s task: pause at its points, settle its outcome at the end.

    A run's failure is an outcome, not a crash; an actor's (``reraise``) is raised on
    too, since the target's own code may await that task and must see it fail.  An
    actor ``starts_paused``: it waits to be stepped before any of its code runs (its
    coroutine, given as such, is closed unstarted if it never is).
    """
    if isinstance(fn, Coroutine):
        coro = fn

        def fn() -> Coroutine[Any, Any, Any]:
            return coro
    else:
        coro = None

    async def pause(label: str) -> None:
        if slot.status == "blocked":
            # Given up on; moving again would race whichever run is being stepped.
            await anyio.sleep_forever()
        slot.outcome = StepOutcome("paused", label=label)
        slot.stopped.set()
        await slot.resume.wait()

    def settle(outcome: StepOutcome) -> None:
        if slot.status != "blocked":  # a late end must not overwrite the verdict
            slot.outcome = outcome
            slot.stopped.set()

    hook = RunHook(pause, points)
    hook.task = slot.task = asyncio.current_task()
    slot.hook = hook
    try:
        # The hook lives in this task's context (and its children's, which adopt it
        # as their creator), nowhere else.
        with slot.scope, installed_hook(hook):
            if starts_paused:
                try:
                    await slot.resume.wait()
                except BaseException as exc:
                    if coro is not None:
                        coro.close()  # never started: no "never awaited" warning
                    settle(StepOutcome("failed", error=exc))  # never left looking paused
                    raise
            try:
                result = await hook.drive(fn)
            except Exception as exc:
                settle(StepOutcome("failed", error=exc))
                if reraise:
                    raise
            except BaseException as exc:  # cancelled: never left looking paused
                settle(StepOutcome("failed", error=exc))
                if reraise or slot.scope.cancel_called:
                    raise
                # A cancellation of the target's own escaping a run (``t.cancel();
                # await t``) is the run's failure; raised on, it would cancel the
                # controller's task group and every other run with it.
            else:
                settle(StepOutcome("finished", result=result))
                return result
    finally:
        slot.done.set()
    return None
