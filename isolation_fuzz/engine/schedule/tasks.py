"""Tasks a run starts belong to it: adopted as its actors, stepped at their own points.

Design note (issue 19).  Before, only a run's own task paused; a task it started
(``asyncio.create_task``, ``ensure_future``, a ``TaskGroup`` or anyio task group
child, a fire-and-forget write) copied its context and ran freely.  Findings of a
system that writes through such tasks then depended on when they happened to run,
and the example's final reads could not wait for them.

Now, while a controller is open, the loop's task factory is :class:`TaskAdoption`.
A task created in a context whose checkpoint hook is one of the controller's runs
(the run itself, or one of its actors) is *adopted*: it is created paused, before
any of its code runs, as an actor of that run named ``r3/bg1``, ``r3/bg2`` in
creation order, with the line of the target's code that created it as its creation
site.  From then on it is a run like any other to the controller: the state machine
may step or finish it, it pauses at its own points, and the run's end (when its
writes must show) is recorded when its last task ends.  A look, run to its end in
one move, finishes its tasks too, and so do the final reads.

Three rules keep it from deadlocking or wandering:

* A run that waits on its own actor (``await task``, ``gather``, ``wait_for``, a task
  group's exit: :func:`awaited_tasks`) moves that actor, as a run waiting on a paused
  run's lock moves the holder.
* An actor that waits on an event, a condition or a queue is *idle* (a worker waiting
  for work, :func:`waits_for_work`): the step ends there, and the actor is paused
  again at its next point once something woke it.  An idle actor left at the end of
  an example is released to run freely and reported with its creation site: it
  outlived its example (``leaked_tasks``).
* Tasks the system starts outside any run (in its factory, at connect) are not
  adopted, nor are those a driver starts for itself (asyncpg shielding a release,
  a ``wait_for`` inside redis-py): they still run freely.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Generator
from types import FrameType
from typing import Any, Final

from isolation_fuzz.engine.schedule.points import await_chain, frame_module, is_own_module

__all__ = ["TaskAdoption", "awaited_tasks", "creation_site", "waits_for_work"]

#: Given the coroutine of a task being created, the coroutine to run instead
#: (the adopted actor's body), or ``None`` to leave the task alone.
Adopt = Callable[[Coroutine[Any, Any, Any]], Coroutine[Any, Any, Any] | None]

#: Frames never taken for the line that created a task.
_MACHINERY: Final = ("asyncio", "anyio", "contextlib", "functools", "isolation_fuzz.engine",
                     "isolation_fuzz.checkpoint", "sniffio")
#: Frames whose wait is for tasks to finish (wait, wait_for, a task group's exit).
_TASK_WAITS: Final = frozenset({
    ("asyncio.tasks", "wait"), ("asyncio.tasks", "_wait"), ("asyncio.tasks", "wait_for"),
    ("asyncio.taskgroups", "__aexit__"), ("asyncio.taskgroups", "_aexit"),
    ("anyio._backends._asyncio", "__aexit__"),
})
#: Waits that mean "no work yet": an event, a condition, a queue, a memory stream.
_WORK_WAITS: Final = (("asyncio.locks", "wait"), ("asyncio.queues", "get"),
                      ("anyio.streams.memory", "receive"), ("anyio._backends._asyncio", "wait"))


class TaskAdoption:
    """The loop's task factory while installed: ``adopt`` decides, the rest is as before."""

    def __init__(
        self, adopt: Adopt, bind: Callable[[Coroutine[Any, Any, Any], asyncio.Task[Any]], None]
    ) -> None:
        self._adopt = adopt
        self._bind = bind
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def install(self) -> None:
        """Become the running loop's task factory (the previous one is kept and used)."""
        self._loop = asyncio.get_running_loop()
        self._previous = self._loop.get_task_factory()
        self._loop.set_task_factory(self._create)

    def uninstall(self) -> None:
        """Give the loop its previous task factory back."""
        if self._loop is not None:
            self._loop.set_task_factory(self._previous)
            self._loop = None

    def _create(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Future[Any]:
        body = self._adopt(coro) if asyncio.iscoroutine(coro) else None
        chosen = body if body is not None else coro
        if self._previous is not None:
            task: asyncio.Future[Any] = self._previous(loop, chosen, **kwargs)
        else:
            task = asyncio.Task(chosen, loop=loop, **kwargs)
        if body is not None and isinstance(task, asyncio.Task):
            self._bind(body, task)
        return task


def creation_site(depth: int = 2) -> str | None:
    """``module:function:line`` of the code that created a task, if it is the target's own.

    The innermost frame from ``depth`` up that is not asyncio's or anyio's machinery:
    when it is a driver's (asyncpg shielding a release, a ``wait_for`` inside
    redis-py), the task is the driver's business, not adopted, and ``None`` says so.
    """
    frame: FrameType | None = sys._getframe(depth)
    while frame is not None:
        module = frame_module(frame)
        if not any(module == m or module.startswith(m + ".") for m in _MACHINERY):
            if not is_own_module(module):
                return None
            return f"{module}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def awaited_tasks(task: asyncio.Task[Any] | None, coro: Any) -> tuple[list[Any], bool]:
    """The tasks a suspended run visibly waits for, and whether it waits for tasks at all.

    Visible: the future its task waits on (a task, a gather of children) and what the
    innermost frames hold (``wait_for``'s task, a task group's set).  The flag is true
    when the innermost wait is one that waits for tasks (``gather``, ``wait``,
    ``wait_for``, a group's exit), so that the caller may move the run's actors even
    when none is named.
    """
    found: list[Any] = []
    waiter = getattr(task, "_fut_waiter", None)  # what the task's current await yielded
    for future in _futures_in(waiter):
        found.append(future)
    chain = await_chain(coro)
    for frame, _ in chain[-2:]:
        for value in frame.f_locals.values():
            for future in _futures_in(value):
                if future not in found:
                    found.append(future)
    innermost = chain[-1][0] if chain else None
    # Never "any future": a socket read is one too, and moving an actor because the run
    # was slow would make the schedule depend on timing.
    waits = innermost is not None and (
        (frame_module(innermost), innermost.f_code.co_name) in _TASK_WAITS
    )
    return found, waits


def _futures_in(value: Any) -> Generator[Any, None, None]:
    if isinstance(value, asyncio.Future):
        yield value
        yield from getattr(value, "_children", ())  # a gather's
        return
    tasks = getattr(value, "_tasks", None)  # a task group's
    if isinstance(value, set | list | tuple):
        tasks = value
    if isinstance(tasks, set | list | tuple) and len(tasks) < 64:
        yield from (t for t in tasks if isinstance(t, asyncio.Future))


def waits_for_work(coro: Any) -> bool:
    """Whether the suspended ``coro`` waits on an event, a condition, a queue or a stream."""
    chain = await_chain(coro)
    return any(
        frame_module(frame) == module and frame.f_code.co_name == name
        for frame, _ in chain[-3:]
        for module, name in _WORK_WAITS
    )
