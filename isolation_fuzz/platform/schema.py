"""The reference platform's tables, created inside a campaign's namespace.

`install` creates them once per campaign (idempotently); `clear` empties them
between examples (fast: one SCAN over the namespace's keys, Postgres DELETEs,
ClickHouse TRUNCATEs); `residue` reads, with
administrative rights across all users, the request-scoped scratch a finished run
left behind, which is what the ``no_residue`` invariant needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from isolation_fuzz.platform.redis_context import decode_note, segment
from isolation_fuzz.services import AsyncClickHouse, ServiceSet

__all__ = ["Admin", "clear", "install", "open_admin", "residue"]

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
CREATE POLICY owner_only ON "{schema}".{table}
    USING (owner = current_setting('isolation_fuzz.user_id', true))
    WITH CHECK (owner = current_setting('isolation_fuzz.user_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "{schema}".{table} TO "{role}";
"""


async def install(services: ServiceSet) -> None:
    """Create the platform's Postgres and ClickHouse tables in the namespace.

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
                await admin.execute(_PG_POLICY.format(schema=schema, table=table, role=role))
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


@dataclass
class Admin:
    """Administrative handles on the namespace, opened once per campaign."""

    services: ServiceSet
    redis: Any
    postgres: Any
    clickhouse: AsyncClickHouse

    async def aclose(self) -> None:
        try:
            await self.postgres.close()
        finally:
            await self.redis.aclose()
            await self.clickhouse.aclose()


async def open_admin(services: ServiceSet) -> Admin:
    """Open the handles `clear` and `residue` use."""
    postgres = await services.postgres_admin()
    return Admin(services, services.redis(), postgres, await services.clickhouse())


@asynccontextmanager
async def _admin(target: Admin | ServiceSet) -> AsyncIterator[Admin]:
    """``target`` itself if it is open handles, else handles opened for one call."""
    if isinstance(target, Admin):
        yield target
        return
    admin = await open_admin(target)
    try:
        yield admin
    finally:
        await admin.aclose()


async def clear(target: Admin | ServiceSet) -> None:
    """Delete every row and key the platform stored in the namespace; keep the tables.

    Pass the campaign's `Admin` between fuzz examples (no connection set-up per
    call); a `ServiceSet` opens and closes handles for this one call.
    """
    async with _admin(target) as admin:
        services = admin.services
        keys = [
            k async for k in admin.redis.scan_iter(match=f"{services.redis_prefix}*", count=1000)
        ]
        if keys:
            await admin.redis.unlink(*keys)
        schema = services.postgres_schema
        # DELETE, not TRUNCATE: on tables this small it is several times faster, and
        # it takes no ACCESS EXCLUSIVE lock that an idle pooled transaction could block.
        await admin.postgres.execute(
            f'DELETE FROM "{schema}".memories; DELETE FROM "{schema}".scratch'
        )
        for table in ("memories", "scratch"):
            await admin.clickhouse.command(
                f"TRUNCATE TABLE {services.clickhouse_database}.{table}"
            )


async def residue(target: Admin | ServiceSet, run_id: str) -> dict[str, list[str]]:
    """Scratch entries of ``run_id`` still stored, per store (stores with none omitted).

    Read with administrative rights, across all users: a leftover is a leftover
    whoever owns it.
    """
    async with _admin(target) as admin:
        services = admin.services
        found: dict[str, list[str]] = {}
        # Any user, any thread, this run; base64url segments hold no glob metacharacters.
        pattern = f"{services.redis_prefix}scratch:*:*:{segment(run_id)}"
        items: list[str] = []
        async for key in admin.redis.scan_iter(match=pattern, count=1000):
            items.extend(await admin.redis.lrange(key, 0, -1))
        if items:
            found["redis"] = [decode_note(item) for item in sorted(items)]
        rows = await admin.postgres.fetch(
            f'SELECT entry FROM "{services.postgres_schema}".scratch WHERE run_id = $1 '
            "ORDER BY id",
            run_id,
        )
        if rows:
            found["postgres"] = [row["entry"] for row in rows]
        ch_rows = await admin.clickhouse.query_rows(
            f"SELECT entry FROM {services.clickhouse_database}.scratch "
            "WHERE run_id = {run:String} ORDER BY version",
            {"run": run_id},
        )
        if ch_rows:
            found["clickhouse"] = [str(row[0]) for row in ch_rows]
        return found
