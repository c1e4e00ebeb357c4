"""Is every service answering right now?  :func:`probe_services`.

Design note.  The run controller calls this when a run has been silent for a whole
block timeout, to tell a stalled service apart from a run waiting on another paused
run (issue 10: a Redis stalled for 7 s under SIGSTOP used to become a
``runs_make_progress`` violation against a correct platform).  Each probe is the
cheapest round trip that needs the server itself, not only its kernel (a stopped
process still accepts TCP connections into its backlog): Redis ``PING``, Postgres
``SELECT 1``, ClickHouse ``SELECT 1``, each on a fresh connection of its own so that
a pool's busy or broken connection cannot answer for the server.

The three probes run at once, each under the service timeout, so a probe costs at
most one service timeout whatever fails.  A probe that fails or does not answer in
time raises :class:`ServiceUnavailable` naming the service (the first failing one in
``redis, postgres, clickhouse`` order; the others are added as notes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import anyio

from isolation_fuzz.errors import IsolationFuzzError, ServiceUnavailable
from isolation_fuzz.redaction import redact_url
from isolation_fuzz.services import _postgres, _redis
from isolation_fuzz.services._clickhouse import connect_clickhouse

__all__ = ["probe_services"]


async def _redis_ping(url: str, timeout: float) -> None:
    await _redis.ping(url, timeout)


async def _postgres_select(url: str, timeout: float) -> None:
    conn = await _postgres.connect(url, timeout)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close(timeout=timeout)


async def _clickhouse_select(url: str, timeout: float) -> None:
    ch = await connect_clickhouse(url, timeout=timeout)  # it runs SELECT 1 itself
    await ch.aclose()


_PROBES: Mapping[str, Callable[[str, float], Awaitable[None]]] = {
    "redis": _redis_ping,
    "postgres": _postgres_select,
    "clickhouse": _clickhouse_select,
}


def _silent(timeout: float) -> str:
    return f"did not answer within {timeout:g}s (--service-timeout)"


async def probe_services(urls: Mapping[str, str], timeout: float) -> None:
    """Raise :class:`ServiceUnavailable` unless every service in ``urls`` answers in time.

    Args:
        urls: Each service's name (``redis``, ``postgres``, ``clickhouse``) and URL.
        timeout: Seconds each service has to answer its probe.

    Raises:
        ServiceUnavailable: a service did not answer within ``timeout`` or failed; its
            reason reads ``"did not answer within 10s"`` or the driver's first line.
    """
    failures: dict[str, ServiceUnavailable] = {}

    async def one(name: str, url: str) -> None:
        try:
            with anyio.fail_after(timeout):
                await _PROBES[name](url, timeout)
        except TimeoutError:
            failures[name] = ServiceUnavailable(name, redact_url(url), _silent(timeout))
        except ServiceUnavailable as exc:
            reason = (
                exc.reason if exc.reason != "timed out" else (f"did not answer within {timeout:g}s")
            )
            failures[name] = ServiceUnavailable(name, exc.where, reason)
        except IsolationFuzzError:
            raise
        except Exception as exc:
            failures[name] = ServiceUnavailable(
                name, redact_url(url), str(exc).splitlines()[0] if str(exc) else repr(exc)
            )

    async with anyio.create_task_group() as group:
        for name, url in urls.items():
            group.start_soon(one, name, url)
    if failures:
        names = [n for n in _PROBES if n in failures] + sorted(set(failures) - set(_PROBES))
        first = failures[names[0]]
        for other in names[1:]:
            first.add_note(str(failures[other]))
        raise first
