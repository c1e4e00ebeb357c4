"""The reference platform assembled from its parts, and the target adapter over it.

`Parts` names the class used for each part (authenticator, emitter factory,
engine, the three contexts).  The correct platform uses the defaults; a seeded-bug
variant is the same platform with one part replaced::

    open_target = variant(redis_context=MyBuggyRedisContext)

`open_reference_target` installs the schema in the campaign's namespace, opens
the pools once (`schema.Pools`, shared by the platform and its administrative
`clear` and `residue`), and yields a `ReferenceTarget` (the
`isolation_fuzz.target.Target` protocol) whose `reset()` gives every example a
fresh platform over the same engines.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.model import TOOLS, Plan, Store
from isolation_fuzz.platform import schema
from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.platform.clickhouse_context import ResultCache, UserClickHouseContext
from isolation_fuzz.platform.context import UserDataContext, UserExecutionContext
from isolation_fuzz.platform.engine import AgentEngine
from isolation_fuzz.platform.events import ConnectionRegistry, EmitterFactory, LocalConnection
from isolation_fuzz.platform.postgres_context import UserPostgresContext
from isolation_fuzz.platform.redis_context import UserRedisContext
from isolation_fuzz.services import ServiceSet
from isolation_fuzz.target import EventStream, Target, TargetSpec
from isolation_fuzz.tokens import AuthConfig

__all__ = ["Parts", "Platform", "ReferenceTarget", "open_reference_target", "variant"]


@dataclass(frozen=True)
class Parts:
    """The class used for each replaceable part of the platform."""

    authenticator: type[Authenticator] = Authenticator
    emitters: type[EmitterFactory] = EmitterFactory
    engine: type[AgentEngine] = AgentEngine
    redis_context: type[UserRedisContext] = UserRedisContext
    postgres_context: type[UserPostgresContext] = UserPostgresContext
    clickhouse_context: type[UserClickHouseContext] = UserClickHouseContext
    #: Who is connected, and where each user's events go.
    registry: type[ConnectionRegistry] = ConnectionRegistry
    #: The Postgres tables' row-level security policy (an expression over ``owner``).
    postgres_policy: str = schema.OWNER_ONLY


class Platform:
    """One instance of the multi-user agent platform over open pools."""

    def __init__(self, parts: Parts, pools: schema.Pools, auth: AuthConfig) -> None:
        self.parts = parts
        self.pools = pools
        self.registry = parts.registry()
        self.authenticator = parts.authenticator(auth)
        self.cache = ResultCache()
        self.engine = parts.engine(self._open_context, parts.emitters(self.registry))

    def _open_context(self, store: Store, ctx: UserExecutionContext) -> UserDataContext:
        pools = self.pools
        if store == "redis":
            return self.parts.redis_context(ctx, pools.redis, pools.services.redis_prefix)
        if store == "postgres":
            return self.parts.postgres_context(ctx, pools.postgres)
        return self.parts.clickhouse_context(
            ctx, pools.clickhouse, pools.services.clickhouse_database, self.cache
        )

    async def handle(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        """One agent request: authenticate, then execute the plan as that user."""
        user_id = self.authenticator.authenticate(token)
        ctx = UserExecutionContext(user_id, thread_id, run_id, request_id=f"req-{run_id}")
        return await self.engine.execute(ctx, plan)


class ReferenceTarget:
    """The `Target` adapter over a `Platform`, local or over real WebSockets."""

    def __init__(self, spec: TargetSpec, parts: Parts, pools: schema.Pools, auth: AuthConfig,
                 server_url: Callable[[Platform], AbstractAsyncContextManager[str]] | None
                 ) -> None:
        self.spec = spec
        self._parts = parts
        self._pools = pools
        self._auth = auth
        self._server_url = server_url
        self._ids = itertools.count(1)
        self._stack = AsyncExitStack()
        self._url: str | None = None
        self.platform = Platform(parts, pools, auth)

    async def start(self) -> None:
        if self._server_url is not None:
            self._url = await self._stack.enter_async_context(self._server_url(self.platform))

    async def connect(self, token: str) -> EventStream:
        connection_id = f"conn-{next(self._ids)}"
        if self._url is None:
            user_id = self.platform.authenticator.authenticate(token)
            connection = LocalConnection(connection_id, user_id, self.platform.registry)
            self.platform.registry.register(connection)
            return connection
        from isolation_fuzz.platform.wsclient import open_event_stream

        return await open_event_stream(self._url, token, connection_id)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        return await self.platform.handle(token, thread_id, plan, run_id)

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return await schema.residue(self._pools, run_id)

    async def reset(self) -> None:
        """Drop every example's data and start a fresh platform (the server stays up)."""
        await schema.clear(self._pools)
        await self._stack.aclose()
        self._stack = AsyncExitStack()
        self.platform = Platform(self._parts, self._pools, self._auth)
        await self.start()

    async def aclose(self) -> None:
        await self._stack.aclose()


def _websocket_server(platform: Platform) -> AbstractAsyncContextManager[str]:
    from isolation_fuzz.platform.server import EventServer

    @asynccontextmanager
    async def serve() -> AsyncIterator[str]:
        async with EventServer(platform.registry, platform.authenticator) as server:
            yield server.url

    return serve()


@asynccontextmanager
async def _open(
    parts: Parts, spec: TargetSpec, services: ServiceSet, auth: AuthConfig
) -> AsyncIterator[Target]:
    await schema.install(services, parts.postgres_policy)
    server = _websocket_server if spec.transport == "websocket" else None
    async with schema.open_pools(services) as pools:
        target = ReferenceTarget(spec, parts, pools, auth, server)
        try:
            await target.start()
            yield target
        finally:
            await target.aclose()


_CAPABILITIES = Capabilities(tools=TOOLS)


def variant(**changes: Any) -> Callable[..., AbstractAsyncContextManager[Target]]:
    """A target factory for the reference platform with some parts replaced."""
    parts = replace(Parts(), **changes)

    def open_target(
        spec: TargetSpec, services: ServiceSet, auth: AuthConfig
    ) -> AbstractAsyncContextManager[Target]:
        return _open(parts, spec, services, auth)

    # Everything else is the defaults; the platform also implements `scratch`, a run
    # reading back its own request-scoped data (issue 13).
    open_target.capabilities = _CAPABILITIES  # type: ignore[attr-defined]
    return open_target


open_reference_target = variant()
