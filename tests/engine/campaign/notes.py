"""A small multi-user notes app on Redis, written for the declared-capabilities tests.

It is written here, not built from the reference platform: it keeps each user's
notes in one Redis hash (``notes:<len>:<user id>``, so no user id can reach into
another's), numbers its own events (``run_begin``, ``tool_call``, ``usage``,
``tool_result``, ``run_end``) and verifies the fuzzer's tokens through the kit.
``notes_app`` makes a factory that declares the given capabilities on itself; its
options misroute one kind of event to every connection, or refuse user ids.

Not a test module: tests/engine/campaign/test_declared.py runs campaigns on it,
and tests/cli/test_run_command.py hands ``isolation-fuzz run`` bad declarations.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.kit import QueueEventStream, Verification
from isolation_fuzz.model import Event, Plan, ToolCall
from isolation_fuzz.target import TargetSpec

KINDS = ("run_begin", "tool_call", "usage", "tool_result", "run_end")
NOTES = Capabilities(
    stores=("redis",), event_kinds=KINDS, begin_kinds=("run_begin",), end_kinds=("run_end",)
)

#: Every tool call any notes app performed, and every user id one refused.
CALLS: list[ToolCall] = []
REFUSED: list[str] = []


def alnum_ids(user_id: str) -> bool:
    """The notes app's rule for user ids: 3 to 40 ASCII letters and digits."""
    return user_id.isascii() and user_id.isalnum() and 3 <= len(user_id) <= 40


class Notes:
    """A multi-user notes app on Redis, with events of its own."""

    def __init__(self, services: Any, auth: Any, misroute: str | None,
                 refuse: Callable[[str], bool] | None) -> None:
        self.redis = services.redis()
        self.prefix = services.redis_prefix
        self.verify = Verification.of(auth).verify
        self.misroute = misroute  # this kind goes to every connection: the bug
        self.refuse = refuse
        self.streams: list[tuple[str, QueueEventStream]] = []
        self.ids = itertools.count(1)

    def _user(self, token: str) -> str:
        user = self.verify(token)
        if self.refuse is not None and not self.refuse(user):
            REFUSED.append(user)
            raise ValueError(f"user id {user!r} refused")
        return user

    async def connect(self, token: str) -> QueueEventStream:
        stream = QueueEventStream(f"c{next(self.ids)}")
        self.streams.append((self._user(token), stream))
        return stream

    def _send(self, event: Event) -> None:
        for user, stream in self.streams:
            if user == event.user_id or event.kind == self.misroute:
                stream.put(event)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        user = self._user(token)
        seq = itertools.count()

        def emit(kind: str, **payload: Any) -> None:
            self._send(Event(kind, user, thread_id, run_id, next(seq), payload))

        emit("run_begin")
        results = []
        for call in plan:
            CALLS.append(call)
            await checkpoint("tool")
            emit("tool_call", tool=call.tool)
            results.append(await self._do(user, call))
            emit("usage", tokens=1)
            emit("tool_result", result=results[-1])
        emit("run_end")
        return results

    async def _do(self, user: str, call: ToolCall) -> Any:
        notes = f"{self.prefix}notes:{len(user)}:{user}"
        if call.tool == "remember":
            await self.redis.hset(notes, call.key, call.value)
            return "ok"
        if call.tool == "forget":
            await self.redis.hdel(notes, call.key)
            return "ok"
        if call.tool == "recall":
            value = await self.redis.hget(notes, call.key)
            return value.decode() if isinstance(value, bytes) else value
        found = await self.redis.hgetall(notes)
        texts = sorted(
            (k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
            for k, v in found.items()
        )
        return [k for k, _ in texts] if call.tool == "list" else [v for _, v in texts]

    async def residue(self, run_id: str) -> dict[str, list[str]]:
        return {}

    async def reset(self) -> None:
        async for key in self.redis.scan_iter(match=f"{self.prefix}notes:*"):
            await self.redis.delete(key)


def notes_app(capabilities: Any, misroute: str | None = None,
              refuse: Callable[[str], bool] | None = None) -> Any:
    """A factory for the notes app, declaring ``capabilities``."""

    @asynccontextmanager
    async def open_notes(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Notes]:
        notes = Notes(services, auth, misroute, refuse)
        try:
            yield notes
        finally:
            await notes.redis.aclose()

    open_notes.capabilities = capabilities  # type: ignore[attr-defined]
    return open_notes
