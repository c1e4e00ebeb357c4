"""The reference platform's tables and the handles it keeps open on them.

`install` creates the tables once per campaign (idempotently).  `open_pools`
opens, once per campaign, the `Pools` every part of the platform shares: the
clients its user contexts run on and the administrative Postgres connection.
`clear` empties the tables between examples (fast: one SCAN over the namespace's
keys, Postgres DELETEs, ClickHouse TRUNCATEs); `residue` reads, with
administrative rights across all users, the request-scoped scratch a finished run
left behind, which is what the ``no_residue`` invariant needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from isolation_fuzz.platform.redis_context import decode_note, segment
from isolation_fuzz.services import AsyncClickHouse, ServiceSet

__all__ = ["OWNER_ONLY", "Pools", "clear", "install", "open_pools", "residue"]

_PG_TABLES = """
CREATE TABLE IF NOT EXISTS "{schema}".memories (
    owner text NOT NULL, key text NOT NULL, value text NOT NULL, PRIMARY KEY (owner, key));
CREATE TABLE IF NOT EXISTS "{schema}".scratch (
    id bigserial PRIMARY KEY, owner text NOT NULL, thread_id text NOT NULL,
    run_id text NOT NULL, entry text NOT NULL);
"""

_PG_POLICY = """
ALTER TABLE "{schema}".{table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE "{schema}".{table} FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS owner_only ON "{schema}".{table};
CREATE POLICY owner_only ON "{schema}".{table} USING ({policy}) WITH CHECK ({policy});
GRANT SELECT, INSERT, UPDATE, DELETE ON "{schema}".{table} TO "{role}";
"""


#: The row-level security policy: a row is visible to, and writable by, its owner only.
OWNER_ONLY = "owner = current_setting('isolation_fuzz.user_id', true)"


async def install(services: ServiceSet, policy: str = OWNER_ONLY) -> None:
    """Create the platform's Postgres and ClickHouse tables in the namespace.

    ``policy`` is the expression of the tables' row-level security policy (a
    seeded-bug variant installs a weaker one).

    The ClickHouse tables use the Memory engine: a fuzz namespace is short-lived, and
    MergeTree's part-per-insert and lightweight deletes cost tens to hundreds of
    milliseconds per operation on chdb, against about two on Memory.
    """
    schema, role = services.postgres_schema, services.postgres_app_role
    admin = await services.postgres_admin()
    try:
        async with admin.transaction():
            await admin.execute(_PG_TABLES.format(schema=schema))
            for table in ("memories", "scratch"):
                await admin.execute(
                    _PG_POLICY.format(schema=schema, table=table, role=role, policy=policy)
                )
            await admin.execute(
                f'GRANT USAGE ON SEQUENCE "{schema}".scratch_id_seq TO "{role}"'
            )
    finally:
        await admin.close()
    ch = await services.clickhouse()
    db = services.clickhouse_database
    try:
        await ch.command(
            f"CREATE TABLE IF NOT EXISTS {db}.memories (owner String, key String, value String, "
            "deleted UInt8, version UInt64) ENGINE = Memory"
        )
        await ch.command(
            f"CREATE TABLE IF NOT EXISTS {db}.scratch (owner String, thread_id String, "
            "run_id String, entry String, version UInt64) ENGINE = Memory"
        )
    finally:
        await ch.aclose()


@dataclass(frozen=True)
class Pools:
    """The open handles on one campaign's namespace, shared by the platform and its admin.

    ``redis`` and ``clickhouse`` serve both the platform's user contexts and the
    administrative `clear` and `residue` (neither store has a notion of a database
    user here, so one client is enough).  Postgres needs two: ``postgres`` is the
    platform's pool, whose connections act as the unprivileged application role so
    that row-level security applies, and ``admin`` is one connection as the
    configured user, which sees every user's rows.
    """

    services: ServiceSet
    redis: Any
    postgres: Any
    admin: Any
    clickhouse: AsyncClickHouse


@asynccontextmanager
async def open_pools(services: ServiceSet) -> AsyncIterator[Pools]:
    """Open the namespace's handles; close each one opened, even if a later one fails."""
    async with AsyncExitStack() as stack:
        redis = services.redis()
        stack.push_async_callback(redis.aclose)
        # Runs pause inside transactions (issue 19): a slot per run an example may hold
        # paused, and some for looks and probes, so paused holders never starve them.
        postgres = await services.postgres_pool(min_size=1, max_size=10)
        stack.push_async_callback(postgres.close)
        admin = await services.postgres_admin()
        stack.push_async_callback(admin.close)
        clickhouse = await services.clickhouse()
        stack.push_async_callback(clickhouse.aclose)
        yield Pools(services, redis, postgres, admin, clickhouse)


@asynccontextmanager
async def _pools(target: Pools | ServiceSet) -> AsyncIterator[Pools]:
    """``target`` itself if it is open handles, else handles opened for one call."""
    if isinstance(target, Pools):
        yield target
        return
    async with open_pools(target) as pools:
        yield pools


async def clear(target: Pools | ServiceSet) -> None:
    """Delete every row and key the platform stored in the namespace; keep the tables.

    Pass the campaign's `Pools` between fuzz examples (no connection set-up per
    call); a `ServiceSet` opens and closes handles for this one call.
    """
    async with _pools(target) as pools:
        services = pools.services
        keys = [
            k async for k in pools.redis.scan_iter(match=f"{services.redis_prefix}*", count=1000)
        ]
        if keys:
            await pools.redis.unlink(*keys)
        schema = services.postgres_schema
        # DELETE, not TRUNCATE: on tables this small it is several times faster, and
        # it takes no ACCESS EXCLUSIVE lock that an idle pooled transaction could block.
        await pools.admin.execute(
            f'DELETE FROM "{schema}".memories; DELETE FROM "{schema}".scratch'
        )
        for table in ("memories", "scratch"):
            await pools.clickhouse.command(
                f"TRUNCATE TABLE {services.clickhouse_database}.{table}"
            )


async def residue(target: Pools | ServiceSet, run_id: str) -> dict[str, list[str]]:
    """Scratch entries of ``run_id`` still stored, per store (stores with none omitted).

    Read with administrative rights, across all users: a leftover is a leftover
    whoever owns it.
    """
    async with _pools(target) as pools:
        services = pools.services
        found: dict[str, list[str]] = {}
        # Any user, any thread, this run; base64url segments hold no glob metacharacters.
        pattern = f"{services.redis_prefix}scratch:*:*:{segment(run_id)}"
        items: list[str] = []
        async for key in pools.redis.scan_iter(match=pattern, count=1000):
            items.extend(await pools.redis.lrange(key, 0, -1))
        if items:
            found["redis"] = [decode_note(item) for item in sorted(items)]
        rows = await pools.admin.fetch(
            f'SELECT entry FROM "{services.postgres_schema}".scratch WHERE run_id = $1 '
            "ORDER BY id",
            run_id,
        )
        if rows:
            found["postgres"] = [row["entry"] for row in rows]
        ch_rows = await pools.clickhouse.query_rows(
            f"SELECT entry FROM {services.clickhouse_database}.scratch "
            "WHERE run_id = {run:String} ORDER BY version",
            {"run": run_id},
        )
        if ch_rows:
            found["clickhouse"] = [str(row[0]) for row in ch_rows]
        return found
