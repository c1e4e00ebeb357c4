"""Execution contexts and the abstract user data context of the reference platform.

A request to the platform runs as one :class:`UserExecutionContext` (who, which
thread, which run, which request).  For that request the platform opens one
concrete :class:`UserDataContext` per store; each is scoped to the user and must
be initialised before use and cleaned up afterwards.  Cleanup removes the
*request-scoped* data (the run's scratch entries); the user's memories persist.
"""

from __future__ import annotations

import abc
import unicodedata
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from isolation_fuzz.errors import ContextStateError

__all__ = ["Aggregate", "UserDataContext", "UserExecutionContext"]

_MAX_ID_LENGTH = 512


def _check_id(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if len(value) > _MAX_ID_LENGTH:
        raise ValueError(f"{name} is {len(value)} characters long; at most {_MAX_ID_LENGTH}")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError(f"{name} must not contain control characters: {value!r}")


@dataclass(frozen=True)
class UserExecutionContext:
    """Who a request runs as, and for which thread, run and request.

    Any non-empty string without control characters is a valid id: ids may hold
    ``:``, ``*``, ``%``, spaces or Unicode, and may be prefixes of each other, so
    every store must encode them unambiguously.
    """

    user_id: str
    thread_id: str
    run_id: str
    request_id: str

    def __post_init__(self) -> None:
        for name in ("user_id", "thread_id", "run_id", "request_id"):
            _check_id(name, getattr(self, name))


@dataclass(frozen=True)
class Aggregate:
    """A count and summary of one user's live memories in one store."""

    count: int
    values: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "values": list(self.values)}


_State = Literal["new", "ready", "closed"]


class UserDataContext(abc.ABC):
    """A user-scoped handle on one store for the span of one request.

    Subclasses implement the ``_do_*`` methods; the public methods check the
    lifecycle so that a context used before :meth:`initialize` or after
    :meth:`cleanup` fails loudly instead of touching another request's data.
    """

    store: str = "abstract"

    def __init__(self, ctx: UserExecutionContext) -> None:
        self.ctx = ctx
        self._state: _State = "new"

    # -- lifecycle -------------------------------------------------------------

    async def initialize(self) -> None:
        """Open the context; must be called once before any operation."""
        if self._state != "new":
            raise ContextStateError(
                f"{type(self).__name__} for request {self.ctx.request_id!r} is {self._state}; "
                "initialize() may be called only once, on a new context"
            )
        await self._do_initialize()
        self._state = "ready"

    async def cleanup(self) -> None:
        """Remove the request-scoped data and close the context (idempotent)."""
        if self._state == "ready":
            try:
                await self._do_cleanup()
            finally:
                self._state = "closed"
        else:
            self._state = "closed"

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cleanup()

    def _require_ready(self, operation: str) -> None:
        if self._state != "ready":
            hint = "call initialize() first" if self._state == "new" else "open a new context"
            raise ContextStateError(
                f"cannot {operation} on {type(self).__name__} for request "
                f"{self.ctx.request_id!r}: the context is {self._state}; {hint}"
            )

    # -- operations ------------------------------------------------------------

    async def remember(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in the user's memory."""
        self._require_ready("remember")
        await self._do_remember(key, value)

    async def recall(self, key: str) -> str | None:
        """Return the user's value under ``key``, or None."""
        self._require_ready("recall")
        return await self._do_recall(key)

    async def list_keys(self) -> list[str]:
        """Return the user's keys, sorted."""
        self._require_ready("list")
        return sorted(await self._do_list_keys())

    async def aggregate(self) -> Aggregate:
        """Count and summarise the user's live memories."""
        self._require_ready("aggregate")
        return await self._do_aggregate()

    async def forget(self, key: str) -> bool:
        """Delete the user's ``key``; return whether it existed."""
        self._require_ready("forget")
        return await self._do_forget(key)

    async def note(self, entry: str) -> None:
        """Append ``entry`` to this request's scratch (request-scoped data)."""
        self._require_ready("note")
        await self._do_note(entry)

    async def scratch(self) -> list[str]:
        """Scratch entries this user's requests left on this thread (request-scoped data)."""
        self._require_ready("scratch")
        return await self._do_scratch()

    async def own_notes(self) -> list[str]:
        """This request's own scratch entries, in the order they were noted."""
        self._require_ready("own_notes")
        return await self._do_own_notes()

    # -- to implement ----------------------------------------------------------

    @abc.abstractmethod
    async def _do_initialize(self) -> None: ...

    @abc.abstractmethod
    async def _do_cleanup(self) -> None: ...

    @abc.abstractmethod
    async def _do_remember(self, key: str, value: str) -> None: ...

    @abc.abstractmethod
    async def _do_recall(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def _do_list_keys(self) -> list[str]: ...

    @abc.abstractmethod
    async def _do_aggregate(self) -> Aggregate: ...

    @abc.abstractmethod
    async def _do_forget(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def _do_note(self, entry: str) -> None: ...

    @abc.abstractmethod
    async def _do_scratch(self) -> list[str]: ...

    @abc.abstractmethod
    async def _do_own_notes(self) -> list[str]: ...
