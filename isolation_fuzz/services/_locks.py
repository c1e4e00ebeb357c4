"""Who holds up a Postgres backend?  :func:`postgres_locks`, for the run controller.

Design note (issue 19).  Runs now pause inside open transactions, so a run's
statement can wait on a row lock a paused run holds.  The controller asks
``pg_blocking_pids`` for the waiting statement's backend, on a connection of its
own opened on first use and kept for the session (asked every few milliseconds
while a run is silent, a fresh connection each time would cost more than the
wait).  Any failure answers "nobody": the silent run is then judged the old way,
whose probes name a sick service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio

from isolation_fuzz.services import _postgres

__all__ = ["postgres_locks"]


@asynccontextmanager
async def postgres_locks(
    url: str, timeout: float
) -> AsyncIterator[Callable[[int], Awaitable[tuple[int, ...]]]]:
    """A query ``pid -> the pids of the backends that hold it up``, for this block's length."""
    conn: Any = None

    async def blocking(pid: int) -> tuple[int, ...]:
        nonlocal conn
        try:
            with anyio.fail_after(timeout):
                if conn is None or conn.is_closed():
                    conn = await _postgres.connect(url, timeout)
                pids = await conn.fetchval("SELECT pg_blocking_pids($1)", pid)
        except Exception:
            return ()
        return tuple(pids or ())

    try:
        yield blocking
    finally:
        if conn is not None:
            with suppress(Exception):
                await conn.close(timeout=timeout)
