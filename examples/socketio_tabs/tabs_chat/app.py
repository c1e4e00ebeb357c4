"""Tabs Chat: each browser tab is a socket.io connection; a run's events go to its tab.

POST /threads/{thread}/messages   run a message's actions on a thread the caller owns;
                                  the X-Session-Id header names the tab it came from
socket.io /socket.io/             auth={"token": ...}; events task_start, step, task_end
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import jwt
import redis.asyncio as aioredis
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tabs_chat import settings

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
tabs: dict[str, str] = {}  # socket.io sid -> the user whose tab it is


def user_of(token: str | None) -> str | None:
    if not token:
        return None
    try:
        claims = jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"],
                            options={"require": ["exp", "sub"], "verify_aud": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) and subject else None


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
    user = user_of((auth or {}).get("token"))
    if user is None:
        raise socketio.exceptions.ConnectionRefusedError("invalid token")
    tabs[sid] = user


@sio.event
async def disconnect(sid: str, *args: Any) -> None:
    tabs.pop(sid, None)


class Threads:
    """Each thread's owner and notes, in Redis."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix

    async def claim(self, thread: str, user: str) -> bool:
        """Whether ``user`` owns ``thread`` (the first to post in it does)."""
        key = f"{self.prefix}thread:{thread}:owner"
        await self.redis.set(key, user, nx=True)
        return bool(await self.redis.get(key) == user)

    async def act(self, thread: str, action: dict[str, Any]) -> Any:
        notes = f"{self.prefix}thread:{thread}:notes"
        what = action.get("action")
        if what == "save":
            await self.redis.hset(notes, action["key"], action["text"])
            return {"saved": action["key"]}
        if what == "read":
            return await self.redis.hget(notes, action["key"])
        if what == "list":
            return sorted(await self.redis.hkeys(notes))
        if what == "digest":
            return " | ".join(v for _, v in sorted((await self.redis.hgetall(notes)).items()))
        if what == "delete":
            return bool(await self.redis.hdel(notes, action["key"]))
        raise ValueError(f"unknown action {what!r}")


Send = Callable[[str, dict[str, Any], str], Any]


async def to_the_tab(event: str, data: dict[str, Any], sid: str) -> None:
    await sio.emit(event, data, to=sid)


def create_app(send: Send = to_the_tab) -> Any:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = aioredis.from_url(settings.REDIS_URL, decode_responses=True)
        app.state.threads = Threads(redis, settings.KEY_PREFIX)
        yield
        await redis.aclose()

    async def post_message(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        user = user_of(header.removeprefix("Bearer ") if header.startswith("Bearer ") else None)
        if user is None:
            return JSONResponse({"detail": "invalid token"}, status_code=401)
        sid = request.headers.get("x-session-id", "")
        if sid and tabs.get(sid) != user:
            return JSONResponse({"detail": "not your tab"}, status_code=403)
        thread = request.path_params["thread"]
        threads: Threads = request.app.state.threads
        if not await threads.claim(thread, user):
            return JSONResponse({"detail": "this thread belongs to someone else"},
                                status_code=403)
        body = await request.json()
        about = {"for": body["id"], "thread": thread}
        if sid:
            await send("task_start", about, sid)
        results = []
        for action in body["actions"]:
            output = await threads.act(thread, action)
            if sid:
                await send("step", {**about, "action": action["action"], "output": output}, sid)
            results.append(output)
        if sid:
            await send("task_end", about, sid)
        return JSONResponse({"id": body["id"], "results": results})

    web = Starlette(routes=[Route("/threads/{thread}/messages", post_message,
                                  methods=["POST"])], lifespan=lifespan)
    return socketio.ASGIApp(sio, other_asgi_app=web)


app = create_app()
