"""Leases: how a live campaign's namespace is told apart from an abandoned one.

Design note.  A campaign removes its namespace on every exit path it controls, but a
SIGKILL, a power cut or a lost container leaves Redis keys, a Postgres schema and a
role behind (issue 10).  ``isolation-fuzz clean`` removes those, and must never
remove a live campaign's namespace or anything isolation-fuzz did not create.  So:

* **Marks.**  Whatever a campaign creates is marked as ours: its namespace joins the
  Redis set :data:`REGISTRY`; its schema and role carry a comment starting with
  :data:`MARK`.  ``clean`` only ever considers marked namespaces, never a name that
  merely looks like one.
* **Leases.**  A live campaign holds a lease and renews it every third of its TTL
  from a task on the campaign's loop: the Redis key ``isolation-fuzz:lease:<ns>``
  (``SET ... PX ttl``), and, because the campaign's Redis may be an embedded one that
  ``clean`` cannot see, the same expiry in its schema's comment, in the Postgres
  server's own clock (so the two hosts' clocks never need to agree).  Its namespace
  is stale once neither lease is live, and only then does ``clean`` remove it.

Only the services a campaign started carry marks and leases (a target that
declares only Redis starts only Redis, issue 11): each step below skips a service
that is absent, and a campaign on ClickHouse alone holds no lease, since ``clean``
never looks at ClickHouse.

Names with a hyphen (``isolation-fuzz:...``) can never be a namespace's keys, since
namespaces hold only ``[a-z0-9_]``; so a campaign's teardown never deletes its own
mark by accident, and the mark outlives everything it names.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator, Container
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import anyio


class _Urls(Protocol):
    @property
    def urls(self) -> Container[str]: ...


class LeasedServices(Protocol):
    """What the lease needs of a campaign's services (``_lifecycle.ServiceSet`` has it).

    A local protocol, so that this module, which ``_lifecycle`` imports, imports
    nothing back from it.
    """

    @property
    def endpoints(self) -> _Urls: ...
    @property
    def namespace(self) -> str: ...
    @property
    def postgres_schema(self) -> str: ...
    @property
    def postgres_app_role(self) -> str: ...
    def redis(self) -> Any: ...
    async def postgres_admin(self) -> Any: ...

__all__ = [
    "DEFAULT_TTL",
    "LEASE_PREFIX",
    "MARK",
    "REGISTRY",
    "hold_lease",
    "lease_key",
    "mark",
    "release",
    "renew",
]

#: Seconds a lease lives unless renewed; renewed every third of that.
DEFAULT_TTL = 30.0
LEASE_PREFIX = "isolation-fuzz:lease:"
REGISTRY = "isolation-fuzz:namespaces"
#: Every schema and role comment isolation-fuzz writes starts with this.
MARK = "isolation-fuzz namespace"


def lease_key(namespace: str) -> str:
    """The Redis key whose presence means ``namespace``'s campaign is alive."""
    return f"{LEASE_PREFIX}{namespace}"


def _holder() -> str:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})


def _has(services: LeasedServices, name: str) -> bool:
    return name in services.endpoints.urls


async def mark(services: LeasedServices) -> None:
    """Mark a new namespace as isolation-fuzz's, on Redis and on Postgres (those started)."""
    ns = services.namespace
    if _has(services, "postgres"):
        admin: Any = await services.postgres_admin()
        try:
            role = services.postgres_app_role
            database = await admin.fetchval("SELECT current_database()")
            await admin.execute(
                f"COMMENT ON ROLE \"{role}\" IS '{MARK} role; database {database}'"
            )
        finally:
            await admin.close()
    if _has(services, "redis"):
        r = services.redis()
        try:
            await r.sadd(REGISTRY, ns)
        finally:
            await r.aclose()


async def renew(services: LeasedServices, ttl: float) -> None:
    """Take or extend the lease on ``services.namespace`` for ``ttl`` seconds."""
    if _has(services, "redis"):
        r = services.redis()
        try:
            await r.set(lease_key(services.namespace), _holder(), px=max(1, int(ttl * 1000)))
        finally:
            await r.aclose()
    if not _has(services, "postgres"):
        return
    admin = await services.postgres_admin()
    try:
        # COMMENT takes only a literal: build it server-side, in the server's clock.
        await admin.execute(
            "DO $$ BEGIN EXECUTE format('COMMENT ON SCHEMA %I IS %L', "
            f"'{services.postgres_schema}', '{MARK}; lease until ' || "
            f"(extract(epoch FROM clock_timestamp()) + {float(ttl)})::text); END $$"
        )
    finally:
        await admin.close()


async def release(services: LeasedServices) -> None:
    """Drop the lease and the registry entry: the namespace is gone (call it last)."""
    if not _has(services, "redis"):
        return  # the Postgres lease went with the schema
    r = services.redis()
    try:
        await r.delete(lease_key(services.namespace))
        await r.srem(REGISTRY, services.namespace)
    finally:
        await r.aclose()


@asynccontextmanager
async def hold_lease(services: LeasedServices, ttl: float = DEFAULT_TTL) -> AsyncIterator[None]:
    """Hold the lease while the body runs, renewing it every ``ttl / 3`` seconds.

    The lease is taken before the body starts.  A failed renewal is not fatal: the
    service that failed will fail the campaign itself, in one clear line; the lease
    then simply lapses, which is what ``clean`` needs to know.
    """
    await renew(services, ttl)

    async def renew_forever() -> None:
        while True:
            await anyio.sleep(ttl / 3)
            with suppress(Exception):
                await renew(services, ttl)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(renew_forever, name=f"isolation-fuzz lease {services.namespace}")
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    except BaseExceptionGroup as group_error:
        # The renewer never fails, so the group holds the body's own error: let it
        # leave as itself, not wrapped, or the CLI could not tell what it is.
        if len(group_error.exceptions) != 1:
            raise
        raise group_error.exceptions[0] from group_error.exceptions[0].__cause__
