"""The Redis user data context: memories and a request's scratch notes.

Layout: every segment (user id, key, thread id, run id) is base64url-encoded, so no
id can contain the ``:`` separator or a SCAN glob metacharacter, and no id can be a
prefix of another's segment::

    {prefix}mem:{user}:{key}                 one string per memory
    {prefix}scratch:{user}:{thread}:{run}    one list per request (removed by cleanup)
    {prefix}seq:scratch                      a counter ordering notes across requests
    {prefix}thread:{thread}:{user}           the user's summary of the thread

A scratch list item is ``{sequence:016x}:{entry}`` (see `encode_note`): the
sequence lets `UserRedisContext.scratch` merge the lists of several requests back
into insertion order, which the lists' key order alone would not give.

Seams for seeded-bug variants: `_memory_key`, `_memory_pattern`, `_key_from_redis`,
`_scratch_key`, `_scratch_pattern`, `_thread_key`.
"""

from __future__ import annotations

import base64
from typing import Any

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.platform.context import Aggregate, UserDataContext, UserExecutionContext

__all__ = ["UserRedisContext", "decode_note", "decode_segment", "encode_note", "segment"]


def segment(text: str) -> str:
    """``text`` as a base64url key segment without padding (no ``:``, no glob characters)."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def decode_segment(seg: str) -> str:
    """The inverse of `segment`."""
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)).decode()


def encode_note(sequence: int, entry: str) -> str:
    """A scratch list item: fixed-width hex sequence (sorts as it counts), then the entry."""
    return f"{sequence:016x}:{entry}"


def decode_note(item: str) -> str:
    """The entry of a scratch list item made by `encode_note`."""
    return item.split(":", 1)[1]


class UserRedisContext(UserDataContext):
    """A user's Redis context for one request (``redis.asyncio`` client, decoded replies)."""

    store = "redis"

    def __init__(self, ctx: UserExecutionContext, redis: Any, prefix: str) -> None:
        super().__init__(ctx)
        self.redis = redis
        self.prefix = prefix

    # -- seams ---------------------------------------------------------------------

    def _memory_key(self, key: str) -> str:
        """The Redis key of this user's memory ``key``."""
        return f"{self.prefix}mem:{segment(self.ctx.user_id)}:{segment(key)}"

    def _memory_pattern(self) -> str:
        """The SCAN pattern matching exactly this user's memories."""
        return f"{self.prefix}mem:{segment(self.ctx.user_id)}:*"

    def _key_from_redis(self, redis_key: str) -> str:
        """The memory key a Redis key found by `_memory_pattern` stands for."""
        return decode_segment(redis_key.rsplit(":", 1)[1])

    def _scratch_key(self) -> str:
        """The list holding this request's scratch notes."""
        ctx = self.ctx
        return (
            f"{self.prefix}scratch:{segment(ctx.user_id)}:{segment(ctx.thread_id)}:"
            f"{segment(ctx.run_id)}"
        )

    def _scratch_pattern(self) -> str:
        """The SCAN pattern for this user's scratch lists on this thread."""
        ctx = self.ctx
        return f"{self.prefix}scratch:{segment(ctx.user_id)}:{segment(ctx.thread_id)}:*"

    def _thread_key(self) -> str:
        """Where this user's record of this thread lives: keyed by thread AND user."""
        ctx = self.ctx
        return f"{self.prefix}thread:{segment(ctx.thread_id)}:{segment(ctx.user_id)}"

    # -- thread records (not request-scoped: they outlive the request) ----------------

    async def save_thread(self, summary: str) -> None:
        """Record what the latest run on this thread did, for the next run to resume."""
        self._require_ready("save_thread")
        await checkpoint("redis.save_thread")
        await self.redis.set(self._thread_key(), summary)

    async def load_thread(self) -> str | None:
        """The summary the latest run of this user on this thread left, if any."""
        self._require_ready("load_thread")
        await checkpoint("redis.load_thread")
        summary: str | None = await self.redis.get(self._thread_key())
        return summary

    # -- operations ----------------------------------------------------------------

    async def _scan(self, pattern: str) -> list[str]:
        return sorted([key async for key in self.redis.scan_iter(match=pattern, count=500)])

    async def _do_initialize(self) -> None:
        pass  # the client is shared and already connected

    async def _do_cleanup(self) -> None:
        await checkpoint("redis.cleanup")
        await self.redis.unlink(self._scratch_key())

    async def _do_remember(self, key: str, value: str) -> None:
        await checkpoint("redis.remember")
        await self.redis.set(self._memory_key(key), value)

    async def _do_recall(self, key: str) -> str | None:
        await checkpoint("redis.recall")
        value: str | None = await self.redis.get(self._memory_key(key))
        return value

    async def _do_list_keys(self) -> list[str]:
        await checkpoint("redis.list")
        return [self._key_from_redis(k) for k in await self._scan(self._memory_pattern())]

    async def _do_aggregate(self) -> Aggregate:
        await checkpoint("redis.aggregate")
        keys = await self._scan(self._memory_pattern())
        values = [v for v in (await self.redis.mget(keys) if keys else []) if v is not None]
        return Aggregate(len(values), tuple(sorted(values)))

    async def _do_forget(self, key: str) -> bool:
        await checkpoint("redis.forget")
        return bool(await self.redis.unlink(self._memory_key(key)))

    async def _do_note(self, entry: str) -> None:
        await checkpoint("redis.note")
        # INCR is atomic, so sequences are unique across concurrent requests.
        sequence = await self.redis.incr(f"{self.prefix}seq:scratch")
        await self.redis.rpush(self._scratch_key(), encode_note(sequence, entry))

    async def _do_own_notes(self) -> list[str]:
        await checkpoint("redis.own_notes")
        items: list[str] = await self.redis.lrange(self._scratch_key(), 0, -1)
        return [decode_note(item) for item in items]

    async def _do_scratch(self) -> list[str]:
        await checkpoint("redis.scratch")
        items: list[str] = []
        for key in await self._scan(self._scratch_pattern()):
            items.extend(await self.redis.lrange(key, 0, -1))
        # Fixed-width hex sequences sort lexically in numeric order: insertion order.
        return [decode_note(item) for item in sorted(items)]
