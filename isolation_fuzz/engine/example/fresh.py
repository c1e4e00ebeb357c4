"""A fresh target per example: the factory is called again after every example.

Design note.  Examples must not depend on each other, or shrinking stops short and
replays differ (issue 11: a system's adapter missed one process-wide global in its
``reset()``, and shrinking stopped at 16 moves).  ``reset()`` is the fast path: the
target stays open and clears what the example left.  When the user cannot enumerate
their system's in-process state (module globals, caches, singletons built on
import), ``Limits(fresh_target=True)`` (``--fresh-target``) wraps the target in a
:class:`FreshTarget`: after every example it calls the old target's ``reset()`` (the
stored data still has to go: the engines and the namespace stay up), closes it,
and opens a new one from the factory.  What the factory builds (a new app object,
new clients, a new hub) is then new for every example; what lives in a module's
globals is only new if the factory rebuilds it.

The price is whatever the factory costs, once per example (see the throughput
benchmark); the engines, the namespace and the run controller are not reopened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from isolation_fuzz.model import Plan
from isolation_fuzz.target import EventStream, Target

__all__ = ["FreshTarget", "fresh_target"]

Opener = Callable[[], AbstractAsyncContextManager[Target]]


class FreshTarget:
    """A :class:`~isolation_fuzz.target.Target` whose ``reset()`` opens a new target.

    Every call goes to the target opened last.  ``capabilities`` is the first
    target's (what the campaign was set up for), so a declaration cannot change
    between examples.
    """

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._stack = AsyncExitStack()
        self._current: Target | None = None
        #: How many targets have been opened (the first one included).
        self.opened = 0
        self.capabilities: Any = None

    async def _open(self) -> None:
        self._stack = AsyncExitStack()
        self._current = await self._stack.enter_async_context(self._opener())
        self.opened += 1

    async def start(self) -> None:
        """Open the first target."""
        await self._open()
        self.capabilities = getattr(self._current, "capabilities", None)

    @property
    def current(self) -> Target:
        """The target opened last."""
        if self._current is None:
            raise RuntimeError("FreshTarget used before start() or after aclose()")
        return self._current

    async def connect(self, token: str) -> EventStream:
        return await self.current.connect(token)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        return await self.current.run(token, thread_id, plan, run_id)

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return await self.current.residue(run_id)

    async def reset(self) -> None:
        """Clear the example's data, close this target and open a new one."""
        try:
            await self.current.reset()
        finally:
            await self.aclose()
        await self._open()

    async def aclose(self) -> None:
        """Close the target opened last (the factory's context manager exits)."""
        self._current = None
        await self._stack.aclose()


@asynccontextmanager
async def fresh_target(opener: Opener) -> AsyncIterator[FreshTarget]:
    """A :class:`FreshTarget` over ``opener``, open for the body and closed after it."""
    target = FreshTarget(opener)
    await target.start()
    try:
        yield target
    finally:
        await target.aclose()
