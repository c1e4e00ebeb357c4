"""Remove the namespaces of campaigns that died without removing them: :func:`clean_expired`.

Design note.  Only marked namespaces are candidates (:mod:`isolation_fuzz.services.lease`):
the members of the Redis registry, the Postgres schemas whose comment carries the
mark, and the roles whose comment carries the mark and names this database (roles
are cluster-wide; a role of a campaign on another database is that database's
business).  A candidate is live while its Redis lease key exists or its schema's
comment lease has not run out in the Postgres server's clock; live candidates are
never touched.  For a stale one, exactly what carries its mark goes: its Redis keys
(``<namespace>:*``) if it is in the registry, its schema if marked, its role if
marked; then its registry entry.  Nothing is flushed, nothing unmarked is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from isolation_fuzz.errors import UsageError
from isolation_fuzz.services import _postgres, _redis
from isolation_fuzz.services._reach import reaching
from isolation_fuzz.services.lease import MARK, REGISTRY, lease_key
from isolation_fuzz.services.namespace import validate_namespace

__all__ = ["Removed", "clean_expired"]

_LEASE_UNTIL = re.compile(r"lease until (\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Removed:
    """What :func:`clean_expired` removed of one stale namespace."""

    namespace: str
    redis_keys: int = 0
    schema: bool = False
    role: bool = False

    def describe(self) -> str:
        """One line: the namespace and each thing removed."""
        parts = [f"{self.redis_keys} redis key(s)"] if self.redis_keys else []
        parts += ["postgres schema"] * self.schema + ["postgres role"] * self.role
        return f"{self.namespace}: {', '.join(parts) or 'registry entry only'}"


def _valid(name: str) -> str | None:
    try:
        return validate_namespace(name)
    except UsageError:
        return None


async def clean_expired(
    redis_url: str | None, postgres_url: str | None, *, timeout: float = 5.0
) -> list[Removed]:
    """Remove every marked namespace whose leases have all expired; return what went.

    Args:
        redis_url: the Redis campaigns used (registry, leases, keys), or None.
        postgres_url: the Postgres campaigns used (schemas, roles), or None.
        timeout: seconds to reach each server.

    Raises:
        UsageError: neither URL was given.
        ServiceUnavailable: a server could not be reached.
    """
    if not redis_url and not postgres_url:
        raise UsageError("clean needs --redis-url, --postgres-url or both")
    registered: set[str] = set()
    schemas: set[str] = set()
    roles: set[str] = set()
    live: set[str] = set()
    r = _redis.client(redis_url, timeout) if redis_url else None
    admin = await _postgres.connect(postgres_url, timeout) if postgres_url else None
    try:
        if admin is not None:
            assert postgres_url is not None
            with reaching("postgres", postgres_url, timeout + 5):
                await _read_postgres(admin, schemas, roles, live)
        if r is not None:
            assert redis_url is not None
            with reaching("redis", redis_url, timeout + 5):
                members = await r.smembers(REGISTRY)
                registered = {ns for ns in map(_valid, members) if ns is not None}
                for ns in registered | schemas | roles:
                    if await r.exists(lease_key(ns)):
                        live.add(ns)
        removed = []
        for ns in sorted((registered | schemas | roles) - live):
            keys = 0
            if r is not None and ns in registered:
                keys = await _redis.drop_prefix(_redis.client(redis_url or "", timeout), f"{ns}:")
            if admin is not None and ns in schemas:
                await admin.execute(f'DROP SCHEMA IF EXISTS "{ns}" CASCADE')
            if admin is not None and ns in roles:
                await admin.execute(f'DROP OWNED BY "{ns}_app"')
                await admin.execute(f'DROP ROLE IF EXISTS "{ns}_app"')
            if r is not None:
                await r.srem(REGISTRY, ns)
            removed.append(Removed(ns, keys, ns in schemas, ns in roles))
        return removed
    finally:
        if r is not None:
            await r.aclose()
        if admin is not None:
            await admin.close()


async def _read_postgres(admin: Any, schemas: set[str], roles: set[str], live: set[str]) -> None:
    now = float(await admin.fetchval("SELECT extract(epoch FROM clock_timestamp())"))
    rows = await admin.fetch(
        "SELECT n.nspname, d.description FROM pg_namespace n JOIN pg_description d "
        "ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass "
        "WHERE starts_with(d.description, $1)",
        MARK,
    )
    for name, comment in rows:
        ns = _valid(name)
        if ns is None:
            continue
        schemas.add(ns)
        until = _LEASE_UNTIL.search(comment)
        if until is None or float(until.group(1)) > now:
            live.add(ns)  # a mark without a lease is being created right now: leave it
    rows = await admin.fetch(
        "SELECT r.rolname FROM pg_roles r JOIN pg_shdescription d "
        "ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass "
        "WHERE d.description = $1 || ' role; database ' || current_database()",
        MARK,
    )
    for (name,) in rows:
        ns = _valid(name.removesuffix("_app")) if name.endswith("_app") else None
        if ns is not None:
            roles.add(ns)
