"""The campaign's long-lived event loop, driven from synchronous code.

Hypothesis calls the state machine's rules synchronously, one after another, while
the services, pools, servers and runs of a campaign live in one asyncio loop.
:class:`CampaignLoop` keeps that loop alive for the whole campaign (anyio's blocking
portal, in a thread of its own), so that everything entered into it outlives the
examples that use it, and every rule reaches it with one portal call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, ExitStack
from typing import Any, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from isolation_fuzz.errors import UsageError

__all__ = ["CampaignLoop"]

T = TypeVar("T")


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
