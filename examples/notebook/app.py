"""Notebook: each user's notes in one Postgres row, edited through SQLAlchemy sessions.

Nothing here knows isolation-fuzz: no checkpoints, no fuzzer imports.  A user opens
a socket with their JWT and sends requests naming the tools to run; every tool is
one unit of work (``async with session.begin()``) on the user's notebook row, and
every request appends to an activity log from a background task, so that the
request does not wait on it.  Progress goes to every socket of the user:

    run.begin    {"tools": n}
    tool.result  {"name": ..., "result": ...}
    run.end      {"ok": true}

A notebook is one row (``owner``, ``notes``: a JSON object, note name -> text).  An
edit reads the row ``FOR UPDATE``, changes a copy of the notes and writes them back,
so two requests of one user, in two tabs, never lose each other's edits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import jwt
from sqlalchemy import JSON, Integer, String, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Activity", "Base", "Notebook", "NotebookRow", "Settings", "Unauthorized"]


class Unauthorized(Exception):
    """The request's token is missing, forged, expired or for someone else."""


class Base(DeclarativeBase):
    pass


class NotebookRow(Base):
    __tablename__ = "notebooks"

    owner: Mapped[str] = mapped_column(String, primary_key=True)
    notes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class Activity(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    request: Mapped[str] = mapped_column(String)
    tool: Mapped[str] = mapped_column(String)


@dataclass(frozen=True)
class Settings:
    """Deployment settings (from the environment, in production)."""

    jwt_key: str = field(repr=False)
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "notebook-auth"
    jwt_audience: str = "notebook"


class Notebook:
    """The service: authentication, tools over the user's notebook row, streamed progress."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.sockets: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}

    def verify(self, token: str) -> str:
        s = self.settings
        try:
            claims = jwt.decode(token, s.jwt_key, algorithms=[s.jwt_algorithm],
                                audience=s.jwt_audience, issuer=s.jwt_issuer,
                                options={"require": ["exp", "sub"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(type(exc).__name__) from None
        return str(claims["sub"])

    def open_socket(self, token: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sockets.setdefault(self.verify(token), []).append(queue)
        return queue

    def close_socket(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        for queues in self.sockets.values():
            if queue in queues:
                queues.remove(queue)

    def publish(self, user: str, message: dict[str, Any]) -> None:
        for queue in self.sockets.get(user, []):
            queue.put_nowait(message)

    async def request(self, token: str, thread: str, request: str,
                      tools: list[dict[str, Any]]) -> list[Any]:
        user = self.verify(token)

        def say(kind: str, **data: Any) -> None:
            self.publish(user, {"type": kind, "user": user, "thread": thread,
                                "request": request, "data": data})

        say("run.begin", tools=len(tools))
        results = []
        for tool in tools:
            result = await self.tool(user, tool["name"], tool.get("args", {}))
            asyncio.create_task(self.log(user, request, tool["name"]))  # noqa: RUF006
            say("tool.result", name=tool["name"], result=result)
            results.append(result)
        say("run.end", ok=True)
        return results

    async def tool(self, user: str, name: str, args: dict[str, Any]) -> Any:
        if name in ("save", "delete"):
            return await self.edit(user, name, args["key"], args.get("text"))
        async with self.sessions() as session:
            row = await session.get(NotebookRow, user)
            notes = dict(row.notes) if row is not None else {}
        if name == "read":
            return notes.get(args["key"])
        if name == "names":
            return sorted(notes)
        return {"count": len(notes), "values": sorted(notes.values())}

    async def edit(self, user: str, name: str, key: str, text: str | None) -> Any:
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(NotebookRow).values(owner=user, notes={}).on_conflict_do_nothing()
            )
            row = await self.notebook_for_edit(session, user)
            notes = dict(row.notes)
            existed = notes.pop(key, None) is not None
            if name == "save":
                notes[key] = text or ""
            row.notes = notes
        return "saved" if name == "save" else existed

    async def notebook_for_edit(self, session: AsyncSession, user: str) -> NotebookRow:
        """The user's row, locked until the edit commits."""
        row = await session.scalar(
            select(NotebookRow).where(NotebookRow.owner == user).with_for_update()
        )
        assert row is not None
        return row

    async def log(self, user: str, request: str, tool: str) -> None:
        async with self.sessions() as session, session.begin():
            session.add(Activity(owner=user, request=request, tool=tool))

    async def clear(self) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(delete(Activity))
            await session.execute(delete(NotebookRow))
