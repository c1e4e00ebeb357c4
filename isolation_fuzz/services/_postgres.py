"""Postgres connections, the application role, and namespace create/drop (``asyncpg``).

The platform must not query as a superuser or as the owner of its tables, or
row-level security would not apply to it.  Each campaign therefore gets a NOLOGIN
role ``<namespace>_app``; pool connections log in as the configured user and switch
to that role through the ``role`` startup parameter, which also survives the
``RESET ALL`` asyncpg runs when a connection goes back to the pool.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from isolation_fuzz.errors import MissingDependency
from isolation_fuzz.services._reach import reaching


class NamespacedPostgres(Protocol):
    """What namespace creation needs of a campaign's services (``ServiceSet`` has it).

    A local protocol, so that this module, which ``_lifecycle`` imports, imports
    nothing back from it.
    """

    @property
    def postgres_schema(self) -> str: ...
    @property
    def postgres_app_role(self) -> str: ...
    async def postgres_admin(self) -> Any: ...

__all__ = ["app_pool", "connect", "create_namespace", "drop_namespace"]


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:
        raise MissingDependency("asyncpg", extra="") from exc
    # A pool that loses its server logs a traceback per reconnect attempt; with no
    # handler configured, logging's last resort printed it on the user's terminal
    # ahead of our one-line error (issue 10).  A NullHandler stops only that fallback:
    # an application's own handlers still receive every record.
    logging.getLogger("asyncpg").addHandler(_QUIET)
    return asyncpg


_QUIET = logging.NullHandler()


async def connect(url: str, timeout: float) -> Any:
    """An ``asyncpg`` connection to ``url``; :class:`ServiceUnavailable` if it fails in time."""
    asyncpg = _asyncpg()
    with reaching("postgres", url, timeout + 1):
        return await asyncpg.connect(url, timeout=timeout)


async def app_pool(url: str, *, schema: str, role: str, timeout: float, **kwargs: Any) -> Any:
    """A pool whose connections act as ``role`` with ``search_path`` set to ``schema``."""
    asyncpg = _asyncpg()
    settings = {"role": role, "search_path": schema}
    with reaching("postgres", url, timeout + 5):
        return await asyncpg.create_pool(url, timeout=timeout, server_settings=settings, **kwargs)


async def create_namespace(services: NamespacedPostgres) -> None:
    """Create the campaign's schema and application role."""
    schema, role = services.postgres_schema, services.postgres_app_role
    conn = await services.postgres_admin()
    try:
        async with conn.transaction():
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS')
            # The login user must be a member to switch to the role; superusers already may.
            is_super = await conn.fetchval(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            if not is_super:
                await conn.execute(f'GRANT "{role}" TO CURRENT_USER')
            # CREATE too: an app fuzzed through its front door makes its own tables at
            # start-up, as the role it runs as (issue 20).  Its tables die with the schema.
            await conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"')
    finally:
        await conn.close()


async def drop_namespace(services: NamespacedPostgres) -> None:
    """Drop the campaign's schema (with its tables) and role; touch nothing else."""
    schema, role = services.postgres_schema, services.postgres_app_role
    conn = await services.postgres_admin()
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if exists:
            # Only this campaign's role: its grants in this database go, then the role.
            await conn.execute(f'DROP OWNED BY "{role}"')
            await conn.execute(f'DROP ROLE "{role}"')
    finally:
        await conn.close()
