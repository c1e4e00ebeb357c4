"""The Notes API: an agent run executes its tool calls against the caller's notes.

POST /threads/{thread_id}/runs   run an agent's tool calls on a thread the caller owns
GET  /health                      liveness
WS   /ws?token=...                the caller's run events
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from notes_api.auth import current_user, websocket_user
from notes_api.events import Hub
from notes_api.settings import settings
from notes_api.store import SCHEMA, NotesStore


class Step(BaseModel):
    tool: str
    args: dict[str, str] = {}


class RunRequest(BaseModel):
    run_id: str
    steps: list[Step]


class Agent:
    """Runs one user's tool calls; made per request, so it always knows whose they are."""

    def __init__(self, store: NotesStore, user: str) -> None:
        self.store, self.user = store, user

    async def bind(self, user: str) -> None:
        self.user = user

    async def call(self, step: Step) -> Any:
        args = step.args
        if step.tool == "save_note":
            await self.store.save(self.user, args["key"], args["text"])
            return {"saved": args["key"]}
        if step.tool == "read_note":
            return await self.store.read(self.user, args["key"])
        if step.tool == "list_notes":
            return await self.store.keys(self.user)
        if step.tool == "digest":
            return await self.store.digest(self.user)
        if step.tool == "delete_note":
            return await self.store.delete(self.user, args["key"])
        raise HTTPException(422, f"unknown tool {step.tool!r}")


def create_app(agent_for: Any = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=10)
        async with pool.acquire() as conn:
            await conn.execute(SCHEMA)
        cache = aioredis.from_url(settings.redis_url, decode_responses=True)
        app.state.store = NotesStore(pool, cache, settings.cache_prefix)
        app.state.hub = Hub()
        yield
        await cache.aclose()
        await pool.close()

    app = FastAPI(title="Notes API", lifespan=lifespan)
    make_agent = agent_for or (lambda store, user: Agent(store, user))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/threads/{thread_id}/runs")
    async def run(
        thread_id: str, body: RunRequest, request: Request,
        user: Annotated[str, Depends(current_user)],
    ) -> dict[str, Any]:
        store: NotesStore = request.app.state.store
        hub: Hub = request.app.state.hub
        agent = make_agent(store, user)
        await agent.bind(user)
        if await store.owner_of(thread_id, user) != user:
            raise HTTPException(403, "this thread belongs to someone else")
        seq = 0

        async def emit(kind: str, **data: Any) -> None:
            nonlocal seq
            frame = {"type": kind, "run": body.run_id, "thread": thread_id, "user": user,
                     "seq": seq, **data}
            seq += 1
            await hub.publish(user, frame)

        await emit("run.started")
        results = []
        for step in body.steps:
            await emit("tool.started", tool=step.tool)
            output = await agent.call(step)
            await emit("tool.result", tool=step.tool, output=output)
            results.append({"tool": step.tool, "output": output})
        await emit("run.completed")
        return {"run_id": body.run_id, "results": results}

    @app.websocket("/ws")
    async def events(websocket: WebSocket) -> None:
        user = websocket_user(websocket)
        if user is None:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        hub: Hub = websocket.app.state.hub
        hub.join(user, websocket)
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            hub.leave(user, websocket)

    return app


app = create_app()
