"""ChatDesk as an isolation-fuzz target: the whole adapter, 96 lines with this docstring.

The factory configures an unchanged ChatDesk with the campaign's engines and token
settings (``kit.ServiceHandles``, ``kit.Verification``); fuzzer tool calls become the
ChatDesk tools a model would call; each socket's queue feeds a ready event stream
(``kit.QueueEventStream``) numbering each request's messages (``kit.EventNumbering``).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from examples.chatdesk.app import ChatDesk, Settings, Unauthorized
from examples.chatdesk.beta import ChatDeskBeta
from isolation_fuzz import AuthError, Capabilities, Event, Plan, ToolCall
from isolation_fuzz.kit import EventNumbering, QueueEventStream, ServiceHandles, Verification

#: ChatDesk keeps notes in Redis and streams five kinds of its own.
CHATDESK = Capabilities(
    stores=("redis",), event_kinds=("run.begin", "tool.call", "tool.result", "token", "run.end"),
    begin_kinds=("run.begin",), end_kinds=("run.end",),
)

#: The ChatDesk tool a model would call for each fuzzer tool, and its arguments.
_TOOLS = {"remember": "save_note", "recall": "read_note", "list": "list_notes",
          "aggregate": "digest", "forget": "delete_note"}


def _tool(call: ToolCall) -> dict[str, Any]:
    args = {"key": call.key, "text": call.value} if call.value is not None else {"key": call.key}
    return {"name": _TOOLS[call.tool], "args": args if call.key is not None else {}}


class ChatDeskTarget:
    """The :class:`isolation_fuzz.Target` over one ChatDesk deployment."""

    def __init__(self, app: ChatDesk) -> None:
        self.app = app
        self._ids = itertools.count(1)

    async def connect(self, token: str) -> QueueEventStream:
        try:
            socket = self.app.open_socket(token)
        except Unauthorized as exc:
            raise AuthError(f"ChatDesk refused the socket: {exc}") from None
        numbering = EventNumbering()

        def convert(m: dict[str, Any]) -> Event:  # a ChatDesk message as an Event
            return numbering.event(m["type"], user_id=m["user"], thread_id=m["thread"],
                                   run_id=m["request"], payload=m["data"])

        return QueueEventStream(f"socket-{next(self._ids)}", source=socket.queue,
                                convert=convert, on_close=socket.close)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        try:
            return await self.app.chat(token, thread_id, run_id, [_tool(c) for c in plan])
        except Unauthorized as exc:
            raise AuthError(f"ChatDesk refused the request: {exc}") from None

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        key = self.app.request_key(run_id)
        return {"redis": [key]} if await self.app.redis.exists(key) else {}

    async def reset(self) -> None:
        """Delete every ChatDesk key, and start a new ChatDesk on the same client."""
        prefix = self.app.settings.key_prefix
        async for key in self.app.redis.scan_iter(match=f"{prefix}*", count=500):
            await self.app.redis.unlink(key)
        self.app = type(self.app)(self.app.settings, self.app.redis)


def _factory(app_class: type[ChatDesk]) -> Callable[..., AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def open_target(spec: Any, services: Any, auth: Any) -> AsyncIterator[ChatDeskTarget]:
        handles, tokens = ServiceHandles.of(services), Verification.of(auth)
        app = app_class(Settings(
            redis_url=handles.redis_url, key_prefix=f"{handles.redis_prefix}chatdesk:",
            jwt_key=tokens.key, jwt_algorithm=tokens.algorithm,
            jwt_issuer=tokens.issuer, jwt_audience=tokens.audience,
        ))
        await app.startup()
        try:
            yield ChatDeskTarget(app)
        finally:
            await app.shutdown()

    open_target.capabilities = CHATDESK  # type: ignore[attr-defined]
    return open_target


open_target = _factory(ChatDesk)
open_beta_target = _factory(ChatDeskBeta)
