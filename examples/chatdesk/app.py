"""ChatDesk: a small multi-user assistant, written the way an application team writes one.

Nothing here knows isolation-fuzz: no checkpoints, no fuzzer records, no fuzzer
imports.  It is the system under test of the README's "Fuzzing your own system"
walkthrough; ``adapter.py`` next to it is all the fuzzer needs.

What it does.  A user opens a socket with their JWT and sends chat requests, each
naming the tools the model decided to call.  The assistant runs them against the
user's notes in Redis and streams progress to every socket of that user:

    run.begin    {"tools": n}                      the request is accepted
    tool.call    {"name": ..., "args": {...}}      a tool is about to run
    tool.result  {"name": ..., "result": ...}      what it returned
    token        {"text": ...}                     a chunk of the assistant's reply
    run.end      {"ok": true}                      the request is done

Every message is ``{"type", "user", "thread", "request", "data"}``.

Key layout (``key_prefix`` comes from the deployment)::

    {prefix}notes:{user}            a hash: note name -> text
    {prefix}digest:{user}           the cached digest of the user's notes
    {prefix}req:{request}           the request's working log (deleted when it ends)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
import redis.asyncio as aioredis

__all__ = ["ChatDesk", "Settings", "Socket", "Unauthorized"]


class Unauthorized(Exception):
    """The request's token is missing, forged, expired or for someone else."""


@dataclass(frozen=True)
class Settings:
    """Deployment settings (from the environment, in production)."""

    redis_url: str
    jwt_key: str = field(repr=False)
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "chatdesk-auth"
    jwt_audience: str = "chatdesk"
    key_prefix: str = "chatdesk:"
    digest_ttl_seconds: int = 300


@dataclass
class Socket:
    """One open socket of one user: the messages pushed to it, in order."""

    user: str
    queue: asyncio.Queue[dict[str, Any]]
    hub: Hub

    async def close(self) -> None:
        self.hub.leave(self)


class Hub:
    """Who is connected: each user's open sockets."""

    def __init__(self) -> None:
        self._sockets: dict[str, list[Socket]] = {}

    def join(self, user: str) -> Socket:
        socket = Socket(user, asyncio.Queue(), self)
        self._sockets.setdefault(user, []).append(socket)
        return socket

    def leave(self, socket: Socket) -> None:
        sockets = self._sockets.get(socket.user, [])
        if socket in sockets:
            sockets.remove(socket)

    def publish(self, user: str, message: dict[str, Any]) -> None:
        for socket in self._sockets.get(user, []):
            socket.queue.put_nowait(message)


class ChatDesk:
    """The assistant service: authentication, tools over Redis, streamed progress."""

    def __init__(self, settings: Settings, redis: Any = None) -> None:
        self.settings = settings
        self.redis = redis
        self.hub = Hub()

    async def startup(self) -> None:
        if self.redis is None:
            self.redis = aioredis.from_url(self.settings.redis_url, decode_responses=True)

    async def shutdown(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    # -- auth --------------------------------------------------------------------

    def verify(self, token: str) -> str:
        """The user id the token was issued for."""
        s = self.settings
        try:
            claims = jwt.decode(
                token, s.jwt_key, algorithms=[s.jwt_algorithm], audience=s.jwt_audience,
                issuer=s.jwt_issuer, options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(type(exc).__name__) from None
        user = claims.get("sub")
        if not isinstance(user, str) or not user:
            raise Unauthorized("no subject")
        return user

    def open_socket(self, token: str) -> Socket:
        return self.hub.join(self.verify(token))

    # -- keys ----------------------------------------------------------------------

    def notes_key(self, user: str) -> str:
        return f"{self.settings.key_prefix}notes:{user}"

    def digest_key(self, user: str, thread: str) -> str:
        return f"{self.settings.key_prefix}digest:{user}"

    def request_key(self, request: str) -> str:
        return f"{self.settings.key_prefix}req:{request}"

    # -- chat ----------------------------------------------------------------------

    async def chat(
        self, token: str, thread: str, request: str, tool_calls: list[dict[str, Any]]
    ) -> list[Any]:
        """Run the tools the model chose, as the token's user; return their results."""
        user = self.verify(token)

        def say(kind: str, **data: Any) -> None:
            message = {"type": kind, "user": user, "thread": thread, "request": request}
            self.hub.publish(user, {**message, "data": data})

        say("run.begin", tools=len(tool_calls))
        results: list[Any] = []
        try:
            for call in tool_calls:
                name, args = call["name"], call.get("args", {})
                say("tool.call", name=name, args=args)
                await self.redis.rpush(self.request_key(request), json.dumps(call))
                result = await self._tool(user, thread, name, args)
                results.append(result)
                say("tool.result", name=name, result=result)
                say("token", text=_reply(name, result))
        finally:
            await self.redis.delete(self.request_key(request))
        say("run.end", ok=True)
        return results

    async def _tool(self, user: str, thread: str, name: str, args: dict[str, Any]) -> Any:
        notes, r = self.notes_key(user), self.redis
        if name == "save_note":
            await r.hset(notes, args["key"], args["text"])
            await r.delete(self.digest_key(user, thread))
            return "saved"
        if name == "read_note":
            return await r.hget(notes, args["key"])
        if name == "list_notes":
            return sorted(await r.hkeys(notes))
        if name == "delete_note":
            removed = bool(await r.hdel(notes, args["key"]))
            await r.delete(self.digest_key(user, thread))
            return removed
        if name == "digest":
            return await self._digest(user, thread)
        raise ValueError(f"unknown tool {name!r}")

    async def _digest(self, user: str, thread: str) -> dict[str, Any]:
        """Every note of the user, counted; cached, since models ask for it often."""
        key = self.digest_key(user, thread)
        cached = await self.redis.get(key)
        if cached is not None:
            return dict(json.loads(cached))
        texts = sorted(await self.redis.hvals(self.notes_key(user)))
        digest = {"count": len(texts), "values": texts}
        await self.redis.set(key, json.dumps(digest), ex=self.settings.digest_ttl_seconds)
        return digest


def _reply(name: str, result: Any) -> str:
    if name == "read_note":
        return "I could not find that note." if result is None else f"Your note says: {result}"
    if name == "digest":
        return f"You have {result['count']} notes: " + "; ".join(result["values"])
    return f"Done ({name})."
