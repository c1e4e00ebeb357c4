"""Notebook as an isolation-fuzz target: the whole adapter, 91 lines (69 of code).

The factory points an unchanged Notebook at the campaign's Postgres (an SQLAlchemy
engine on the kit's DSN, its tables in the campaign's schema); fuzzer tool calls
become Notebook tools; each socket's queue feeds a ready event stream.  No
``checkpoint()`` anywhere: the points are every statement of every session.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from examples.notebook.app import Base, Notebook, Settings, Unauthorized
from examples.notebook.beta import NotebookBeta
from isolation_fuzz import AuthError, Capabilities, Event, Plan, ToolCall
from isolation_fuzz.kit import EventNumbering, QueueEventStream, ServiceHandles, Verification

NOTEBOOK = Capabilities(
    stores=("postgres",), event_kinds=("run.begin", "tool.result", "run.end"),
    begin_kinds=("run.begin",), end_kinds=("run.end",),
)
_TOOLS = {"remember": "save", "recall": "read", "list": "names", "aggregate": "everything",
          "forget": "delete"}


def _tool(call: ToolCall) -> dict[str, Any]:
    return {"name": _TOOLS[call.tool], "args": {"key": call.key, "text": call.value}}


class NotebookTarget:
    def __init__(self, app: Notebook) -> None:
        self.app = app
        self._ids = itertools.count(1)

    async def connect(self, token: str) -> QueueEventStream:
        try:
            queue = self.app.open_socket(token)
        except Unauthorized as exc:
            raise AuthError(f"Notebook refused the socket: {exc}") from None
        numbering = EventNumbering()

        def convert(m: dict[str, Any]) -> Event:
            return numbering.event(m["type"], user_id=m["user"], thread_id=m["thread"],
                                   run_id=m["request"], payload=m["data"])

        async def close() -> None:
            self.app.close_socket(queue)

        return QueueEventStream(f"socket-{next(self._ids)}", source=queue, convert=convert,
                                on_close=close)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        try:
            return await self.app.request(token, thread_id, run_id, [_tool(c) for c in plan])
        except Unauthorized as exc:
            raise AuthError(f"Notebook refused the request: {exc}") from None

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return {}

    async def reset(self) -> None:
        await self.app.clear()  # waits for nothing: the fuzzer finished every log task


def _factory(app_class: type[Notebook]) -> Callable[..., AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def open_target(spec: Any, services: Any, auth: Any) -> AsyncIterator[NotebookTarget]:
        handles, tokens = ServiceHandles.of(services), Verification.of(auth)
        dsn = handles.postgres_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        engine = create_async_engine(dsn, connect_args={
            "server_settings": {"search_path": handles.postgres_schema}})
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        settings = Settings(jwt_key=tokens.key, jwt_algorithm=tokens.algorithm,
                            jwt_issuer=tokens.issuer, jwt_audience=tokens.audience)
        try:
            yield NotebookTarget(app_class(settings, engine))
        finally:
            await engine.dispose()

    open_target.capabilities = NOTEBOOK  # type: ignore[attr-defined]
    return open_target


open_target = _factory(Notebook)
open_beta_target = _factory(NotebookBeta)
