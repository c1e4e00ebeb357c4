"""The three user data contexts on real engines: isolation, cleanup, lifecycle, RLS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.errors import ContextStateError
from isolation_fuzz.platform import schema
from isolation_fuzz.platform.clickhouse_context import ResultCache, UserClickHouseContext
from isolation_fuzz.platform.context import UserDataContext, UserExecutionContext
from isolation_fuzz.platform.postgres_context import UserPostgresContext
from isolation_fuzz.platform.redis_context import UserRedisContext
from isolation_fuzz.services import Endpoints, ServiceSet, claim_namespace

pytestmark = pytest.mark.anyio


@dataclass
class Opener:
    """Builds contexts of one store over shared clients, as the platform does."""

    store: str
    build: Callable[[UserExecutionContext], UserDataContext]
    idle: Callable[[], bool] = lambda: True  # no pooled connection checked out

    def __call__(self, ctx: UserExecutionContext) -> UserDataContext:
        return self.build(ctx)


@pytest.fixture(scope="module")
async def installed(engines: Endpoints) -> AsyncIterator[ServiceSet]:
    """One namespace for the module, with the platform's tables installed."""
    async with claim_namespace(engines) as svc:
        await schema.install(svc)
        yield svc


@pytest.fixture
async def services(installed: ServiceSet) -> ServiceSet:
    """The module's namespace, emptied: cheaper than a namespace per test."""
    await schema.clear(installed)
    return installed


@pytest.fixture(params=["redis", "postgres", "clickhouse"])
async def opener(request: pytest.FixtureRequest, services: ServiceSet) -> AsyncIterator[Opener]:
    async with AsyncExitStack() as stack:
        if request.param == "redis":
            redis = services.redis()
            stack.push_async_callback(redis.aclose)
            yield Opener("redis", lambda c: UserRedisContext(c, redis, services.redis_prefix))
        elif request.param == "postgres":
            pool = await services.postgres_pool(min_size=1, max_size=2)
            stack.push_async_callback(pool.close)
            yield Opener(
                "postgres",
                lambda c: UserPostgresContext(c, pool),
                lambda: bool(pool.get_idle_size() == pool.get_size()),
            )
        else:
            ch = await services.clickhouse()
            stack.push_async_callback(ch.aclose)
            cache = ResultCache()
            db = services.clickhouse_database
            yield Opener("clickhouse", lambda c: UserClickHouseContext(c, ch, db, cache))


def ctx(user: str, thread: str = "t1", run: str = "r1") -> UserExecutionContext:
    return UserExecutionContext(user, thread, run, f"req-{run}")


# Keys and values that break naive quoting, globbing, LIKE or parameter syntax.
AWKWARD = ["it's", 'a "b"', "{owner:String}", "$1", "%_", "x*?[y]", "back\\slash", "ü 文"]


async def test_round_trip(opener: Opener) -> None:
    async with opener(ctx("alice")) as c:
        assert await c.recall("k") is None
        await c.remember("k", "v1")
        await c.remember("k", "v2")
        await c.remember("b:x", "w")
        assert await c.recall("k") == "v2"
        assert await c.list_keys() == ["b:x", "k"]
        agg = await c.aggregate()
        assert (agg.count, agg.values) == (2, ("v2", "w"))
        assert await c.forget("k") is True
        assert await c.forget("k") is False
        assert await c.recall("k") is None
        assert await c.list_keys() == ["b:x"]
        assert (await c.aggregate()).count == 1
        for text in AWKWARD:
            await c.remember(text, text)
        assert await c.list_keys() == sorted([*AWKWARD, "b:x"])
        assert [await c.recall(text) for text in AWKWARD] == AWKWARD
        assert (await c.aggregate()).values == tuple(sorted([*AWKWARD, "w"]))


CONFUSABLE = [("u1", "u10"), ("a", "a:b"), ("x*", "xy"), ("a%", "ab"), ("É", "E\u0301"),
              ("a_", "ab"), ("u", "u "), ("[ab]", "a")]


async def test_confusable_users_see_only_their_own(opener: Opener, services: ServiceSet) -> None:
    # One test per store rather than per pair: a namespace per test costs more than the
    # checks, and `schema.clear` between pairs keeps them independent.
    async with schema.open_pools(services) as pools:
        await _check_confusable_pairs(opener, pools)


async def _check_confusable_pairs(opener: Opener, pools: schema.Pools) -> None:
    for one, two in CONFUSABLE:
        pair = f"{one!r} vs {two!r}"
        async with opener(ctx(one, run="r1")) as a, opener(ctx(two, run="r2")) as b:
            await a.remember("b:x", f"{one}-secret")
            await b.remember("x", f"{two}-secret")
            await a.note(f"{one}-note")
            await b.note(f"{two}-note")
            assert await a.recall("x") is None, pair
            assert await b.recall("b:x") is None, pair
            assert await a.list_keys() == ["b:x"], pair
            assert await b.list_keys() == ["x"], pair
            assert (await a.aggregate()).values == (f"{one}-secret",), pair
            assert (await b.aggregate()).values == (f"{two}-secret",), pair
            assert await a.scratch() == [f"{one}-note"], pair
            assert await b.scratch() == [f"{two}-note"], pair
            assert await a.forget("x") is False, pair
            assert await b.recall("x") == f"{two}-secret", pair
        await schema.clear(pools)


async def test_scratch_is_per_thread_in_insertion_order(opener: Opener) -> None:
    async with (
        opener(ctx("alice", run="r1")) as first,
        opener(ctx("alice", run="r2")) as second,
        opener(ctx("alice", thread="t2", run="r3")) as elsewhere,
    ):
        for c, entry in [(second, "1"), (first, "2"), (elsewhere, "x"), (second, "3"),
                         (first, "4")]:
            await c.note(entry)
        assert await first.scratch() == ["1", "2", "3", "4"]
        assert await second.scratch() == ["1", "2", "3", "4"]
        assert await elsewhere.scratch() == ["x"]


async def test_cleanup_removes_exactly_the_runs_scratch(
    opener: Opener, services: ServiceSet
) -> None:
    async with schema.open_pools(services) as pools:
        other_run = opener(ctx("alice", run="r2"))
        other_user = opener(ctx("bob", run="r3"))
        await other_run.initialize()
        await other_user.initialize()
        await other_run.note("keep: same user, other run")
        await other_user.note("keep: other user, same thread")
        async with opener(ctx("alice", run="r1")) as c:
            await c.remember("k", "memory survives")
            await c.note("request-scoped")
            await c.note("second")
            assert await c.scratch() == ["keep: same user, other run", "request-scoped", "second"]
            assert await schema.residue(pools, "r1") == {opener.store: ["request-scoped", "second"]}
        assert await schema.residue(pools, "r1") == {}
        assert await other_run.scratch() == ["keep: same user, other run"]
        assert await other_user.scratch() == ["keep: other user, same thread"]
        assert await other_run.recall("k") == "memory survives"
        left = await schema.residue(services, "r2")  # a ServiceSet opens its own handles
        assert left == {opener.store: ["keep: same user, other run"]}
        await other_run.cleanup()
        await other_user.cleanup()
        assert await schema.residue(pools, "r2") == {}
        assert await schema.residue(pools, "r3") == {}


async def test_use_before_initialize_or_after_cleanup_fails(opener: Opener) -> None:
    c = opener(ctx("alice"))
    with pytest.raises(ContextStateError, match="call initialize"):
        await c.recall("k")
    await c.initialize()
    with pytest.raises(ContextStateError, match="only once"):
        await c.initialize()
    await c.cleanup()
    await c.cleanup()  # idempotent
    with pytest.raises(ContextStateError, match="open a new context"):
        await c.remember("k", "v")
    with pytest.raises(ContextStateError):
        await c.note("n")


async def test_each_operation_passes_one_checkpoint_outside_any_transaction(
    opener: Opener,
) -> None:
    seen: list[tuple[str, bool]] = []

    async def hook(label: str) -> None:
        seen.append((label, opener.idle()))

    c = opener(ctx("alice"))
    with installed_hook(hook):
        async with c:
            await c.remember("k", "v")
            await c.recall("k")
            await c.list_keys()
            await c.aggregate()
            await c.forget("k")
            await c.note("n")
            await c.scratch()
    ops = ["remember", "recall", "list", "aggregate", "forget", "note", "scratch", "cleanup"]
    assert seen == [(f"{opener.store}.{op}", True) for op in ops]


async def test_clear_empties_data_but_keeps_tables(opener: Opener, services: ServiceSet) -> None:
    async with opener(ctx("alice")) as c:
        await c.remember("k", "v")
        await c.note("n")
        await schema.clear(services)  # a ServiceSet opens its own handles
        assert await c.recall("k") is None
        assert await c.scratch() == []
        await c.remember("k", "again")
        assert await c.recall("k") == "again"


async def test_result_cache_is_invalidated_per_user() -> None:
    cache = ResultCache()
    cache.put(("a", "list"), "a", ["k"], cache.generation("a"))
    cache.put(("b", "list"), "b", ["j"], cache.generation("b"))
    stale = cache.generation("a")
    cache.invalidate("a")
    assert cache.get(("a", "list")) is None
    assert cache.get(("b", "list")) == ["j"]
    cache.put(("a", "list"), "a", ["old"], stale)  # computed before the write: dropped
    assert cache.get(("a", "list")) is None
    cache.clear()
    assert len(cache) == 0


async def test_row_level_security_itself_blocks_cross_user_reads(services: ServiceSet) -> None:
    import asyncpg

    await schema.install(services)  # idempotent: the module installed it already
    pool = await services.postgres_pool(min_size=1, max_size=1)
    try:
        for user in ("alice", "bob"):
            async with UserPostgresContext(ctx(user, run=f"r-{user}"), pool) as c:
                await c.remember("k", f"{user}'s")
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('isolation_fuzz.user_id', 'alice', true)")
            rows: list[Any] = await conn.fetch("SELECT owner, value FROM memories")
            role = await conn.fetchrow(
                "SELECT current_user AS me, r.rolsuper, r.rolbypassrls, "
                "(SELECT tableowner FROM pg_tables WHERE tablename = 'memories' "
                " AND schemaname = current_schema()) AS owner "
                "FROM pg_roles r WHERE r.rolname = current_user"
            )
        assert [(r["owner"], r["value"]) for r in rows] == [("alice", "alice's")]
        assert role["me"] == services.postgres_app_role
        assert not role["rolsuper"]
        assert not role["rolbypassrls"]
        assert role["owner"] != role["me"]
        async with pool.acquire() as conn, conn.transaction():
            nobody = await conn.fetch("SELECT owner FROM memories")  # no user set at all
        assert nobody == []
        # WITH CHECK: acting as alice, a row claiming bob as owner is refused.
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('isolation_fuzz.user_id', 'alice', true)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.execute("INSERT INTO memories VALUES ('bob', 'planted', 'x')")
        admin = await services.postgres_admin()
        try:
            count = await admin.fetchval(
                f'SELECT count(*) FROM "{services.postgres_schema}".memories'
            )
        finally:
            await admin.close()
        assert count == 2  # bob's row was there all along; only RLS hid it
    finally:
        await pool.close()


async def test_own_notes_are_the_requests_alone_and_survive_other_cleanups(
    opener: Opener,
) -> None:
    # Issue 13: a run reads back its own request-scoped data mid-run; no other request,
    # same user and thread or another user's, may see it or remove it by cleaning up.
    async with opener(ctx("alice", run="r1")) as mine:
        await mine.note("first")
        async with (
            opener(ctx("alice", run="r2")) as sibling,
            opener(ctx("alice ", run="r3")) as other,
        ):
            await sibling.note("sibling")
            await other.note("other")
            assert await sibling.own_notes() == ["sibling"]
        await mine.note("second")
        assert await mine.own_notes() == ["first", "second"]
