"""Leases and ``isolation-fuzz clean`` on the machine's Redis and Postgres (issue 10).

A campaign killed by SIGKILL (a subprocess here) leaves its namespace with a lease
that runs out; ``clean`` removes exactly that.  A live campaign (held open in this
test, renewing its lease) and look-alikes isolation-fuzz never created (a key under
an ``isofuzz_`` prefix, a schema of that name) are kept.  These servers must be up:
the test fails, not skips, when they are not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from isolation_fuzz.services import ServiceConfig, claim_namespace, start_engines
from isolation_fuzz.services.lease import lease_key
from isolation_fuzz.services.namespace import new_namespace

pytestmark = pytest.mark.anyio

REDIS = "redis://127.0.0.1:6379/13"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CLI = str(Path(sys.executable).with_name("isolation-fuzz"))
TTL = 1.0

ABANDON = f"""
import anyio, sys
from isolation_fuzz.services import ServiceConfig, claim_namespace, start_engines
async def main():
    config = ServiceConfig(redis_url={REDIS!r}, postgres_url={POSTGRES!r})
    async with start_engines(config) as engines, claim_namespace(engines, lease_ttl={TTL}) as s:
        r = s.redis()
        await r.set(s.redis_prefix + "left", "behind")
        print(s.namespace, flush=True)
        await anyio.sleep(120)
anyio.run(main)
"""


async def _exists(admin: Any, sql: str, name: str) -> bool:
    return bool(await admin.fetchval(sql, name))


async def test_clean_removes_an_expired_namespace_and_keeps_the_live_and_the_unrelated() -> None:
    # A campaign that dies by SIGKILL, after creating its namespace and one key.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOLATION_FUZZ_")}
    async with await anyio.open_process([sys.executable, "-c", ABANDON], env=env) as dead:
        assert dead.stdout is not None
        line = b""
        while not line.endswith(b"\n"):
            line += await dead.stdout.receive()
        abandoned = line.decode().strip()
        dead.kill()  # SIGKILL: no teardown runs
    assert abandoned.startswith("isofuzz_"), abandoned

    unrelated = new_namespace()  # looks like ours; never marked as ours
    config = ServiceConfig(redis_url=REDIS, postgres_url=POSTGRES)
    async with (
        start_engines(config) as engines,
        claim_namespace(engines, lease_ttl=TTL) as live,
    ):
        r = live.redis()
        admin = await live.postgres_admin()
        try:
            await r.set(f"{live.redis_prefix}mine", "x")
            await r.set(f"{unrelated}:sentinel", "keep me")
            await admin.execute(f'CREATE SCHEMA "{unrelated}"')
            assert await r.exists(f"{abandoned}:left") == 1
            await anyio.sleep(TTL * 1.5)  # the dead one's lease runs out; ours is renewed
            assert await r.exists(lease_key(abandoned)) == 0
            assert await r.exists(lease_key(live.namespace)) == 1

            done = await anyio.run_process(
                [CLI, "clean", "--redis-url", REDIS, "--postgres-url", POSTGRES],
                env=env,
                check=False,
            )
            out = done.stdout.decode()
            assert done.returncode == 0, done.stderr.decode()
            assert f"removed {abandoned}:" in out
            assert live.namespace not in out
            assert unrelated not in out

            schema = "SELECT 1 FROM pg_namespace WHERE nspname = $1"
            role = "SELECT 1 FROM pg_roles WHERE rolname = $1"
            # The dead campaign's namespace is gone, everywhere.
            assert await r.exists(f"{abandoned}:left") == 0
            assert not await _exists(admin, schema, abandoned)
            assert not await _exists(admin, role, f"{abandoned}_app")
            # The live one and the look-alikes are untouched.
            assert await r.get(f"{live.redis_prefix}mine") == "x"
            assert await _exists(admin, schema, live.postgres_schema)
            assert await _exists(admin, role, live.postgres_app_role)
            assert await r.get(f"{unrelated}:sentinel") == "keep me"
            assert await _exists(admin, schema, unrelated)
        finally:
            await r.delete(f"{unrelated}:sentinel", f"{abandoned}:left")
            await r.aclose()
            await admin.execute(f'DROP SCHEMA IF EXISTS "{unrelated}"')
            await admin.close()


async def test_a_campaign_records_its_namespace_and_releases_its_lease() -> None:
    config = ServiceConfig(redis_url=REDIS, postgres_url=POSTGRES)
    async with start_engines(config) as engines:
        async with claim_namespace(engines, lease_ttl=TTL) as svc:
            assert svc.describe()["namespace"] == svc.namespace
            r = svc.redis()
            assert await r.exists(lease_key(svc.namespace)) == 1
        assert await r.exists(lease_key(svc.namespace)) == 0
        assert not await r.sismember("isolation-fuzz:namespaces", svc.namespace)
        await r.aclose()
