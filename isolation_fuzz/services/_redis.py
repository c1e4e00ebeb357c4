"""Redis connections and namespace teardown (``redis.asyncio``)."""

from __future__ import annotations

from typing import Any

from isolation_fuzz.errors import ServiceUnavailable
from isolation_fuzz.redaction import redact_url
from isolation_fuzz.services._reach import reaching

__all__ = ["client", "drop_prefix", "ping"]

_SCAN_BATCH = 500


def client(url: str, timeout: float) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` (``redis://``, ``rediss://`` or ``unix://``)."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=max(timeout, 30), decode_responses=True
    )


async def ping(url: str, timeout: float) -> None:
    """Raise :class:`ServiceUnavailable` unless Redis at ``url`` answers within ``timeout``."""
    try:
        r = client(url, timeout)
    except ValueError as exc:  # a malformed URL
        raise ServiceUnavailable("redis", redact_url(url), str(exc)) from exc
    try:
        with reaching("redis", url, timeout + 1):
            await r.ping()
    finally:
        await r.aclose()


async def drop_prefix(r: Any, prefix: str) -> int:
    """Delete every key starting with ``prefix``; return how many.  Never FLUSHDB."""
    # The prefix is a validated namespace ending in ':', so it holds no glob metacharacters.
    deleted = 0
    try:
        batch: list[str] = []
        async for key in r.scan_iter(match=f"{prefix}*", count=_SCAN_BATCH):
            batch.append(key)
            if len(batch) >= _SCAN_BATCH:
                deleted += await r.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await r.unlink(*batch)
    finally:
        await r.aclose()
    return deleted
