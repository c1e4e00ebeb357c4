"""Notes in Postgres (a user's memory, across their threads), listings cached in Redis."""

from __future__ import annotations

import json
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
"""


class NotesStore:
    """The data a run's tools read and write, always for one user at a time."""

    def __init__(self, pool: Any, cache: Any, prefix: str) -> None:
        self.pool, self.cache, self.prefix = pool, cache, prefix

    async def owner_of(self, thread_id: str, user: str) -> str:
        """The thread's owner; a new thread becomes the caller's."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO threads (id, owner) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                thread_id, user,
            )
            return str(await conn.fetchval("SELECT owner FROM threads WHERE id = $1", thread_id))

    def _listing(self, user: str) -> str:
        return f"{self.prefix}listing:{user}"

    async def save(self, user: str, key: str, text: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notes (owner, key, text) VALUES ($1, $2, $3) "
                "ON CONFLICT (owner, key) DO UPDATE SET text = EXCLUDED.text",
                user, key, text,
            )
        await self.cache.delete(self._listing(user))

    async def read(self, user: str, key: str) -> str | None:
        async with self.pool.acquire() as conn:
            text = await conn.fetchval(
                "SELECT text FROM notes WHERE owner = $1 AND key = $2", user, key
            )
        return None if text is None else str(text)

    async def keys(self, user: str) -> list[str]:
        cached = await self.cache.get(self._listing(user))
        if cached is not None:
            return list(json.loads(cached))
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT key FROM notes WHERE owner = $1 ORDER BY key", user)
        keys = [str(row["key"]) for row in rows]
        await self.cache.set(self._listing(user), json.dumps(keys), ex=300)
        return keys

    async def digest(self, user: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT text FROM notes WHERE owner = $1 ORDER BY key", user)
        values = [str(row["text"]) for row in rows]
        return {"count": len(values), "values": values}

    async def delete(self, user: str, key: str) -> bool:
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM notes WHERE owner = $1 AND key = $2", user, key
            )
        await self.cache.delete(self._listing(user))
        return bool(status.endswith(" 1"))
