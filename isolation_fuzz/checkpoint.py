"""The scheduling hook every target calls around store operations and event emission.

A *checkpoint* is a point where an agent run may hand control back to the fuzzer's
scheduler.  Targets call ``await checkpoint("redis.get")`` before (and after) each
store operation and each event emission.  Outside a campaign, or in a task the
scheduler did not start, it is a no-op costing one ``ContextVar.get``.

Why a context variable: the scheduler starts each run in its own task and installs
the hook there; anyio copies the context into child tasks, so whatever the run
awaits reaches the same hook, while unrelated tasks (server handlers, pools) do not.
Tasks a run starts copy the hook but are not the run: the engine's hook pauses only
the run's own task (see :mod:`isolation_fuzz.engine.schedule.points`, which also makes every
real suspension of a run a point, so a target needs no checkpoints at all).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["CheckpointHook", "checkpoint", "current_hook", "installed_hook"]

CheckpointHook = Callable[[str], Awaitable[None]]

_hook: ContextVar[CheckpointHook | None] = ContextVar("isolation_fuzz_checkpoint", default=None)


async def checkpoint(label: str) -> None:
    """Offer the scheduler a chance to switch runs here.

    Args:
        label: a short name for the point, such as ``"redis.set"`` or ``"emit"``;
            it appears in traces and scenario files.
    """
    hook = _hook.get()
    if hook is not None:
        await hook(label)


def current_hook() -> CheckpointHook | None:
    """The hook in force in the current context (``None`` outside a run)."""
    return _hook.get()


@contextmanager
def installed_hook(hook: CheckpointHook | None) -> Iterator[None]:
    """Install ``hook`` for the current task (and the tasks it starts) for a block."""
    token = _hook.set(hook)
    try:
        yield
    finally:
        _hook.reset(token)
