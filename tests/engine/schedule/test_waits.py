"""Waiting is not blocked: runs paused inside transactions, on a real Postgres.

Runs now pause at every statement inside a held connection and an open
transaction.  A paused run then holds row locks and a pool slot; the next run
that needs them waits.  These tests hold that the controller sees that wait
(``pg_blocking_pids``, the pool's queue), moves the holder, and never reports a
correct system blocked.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.runs import StepOutcome, Waited
from isolation_fuzz.services import ServiceSet, postgres_locks

pytestmark = pytest.mark.anyio

BLOCK = 2.0


async def _counter_table(services: ServiceSet) -> None:
    schema, role = services.postgres_schema, services.postgres_app_role
    admin = await services.postgres_admin()
    try:
        await admin.execute(f'CREATE TABLE "{schema}".counters (id int PRIMARY KEY, n int)')
        await admin.execute(f'INSERT INTO "{schema}".counters VALUES (1, 0)')
        await admin.execute(f'GRANT SELECT, UPDATE ON "{schema}".counters TO "{role}"')
    finally:
        await admin.close()


def _at(fn: Callable[..., Any], statement: str) -> str:
    """``fn:line`` of the line of ``fn`` holding ``statement``: the point right after it."""
    lines, first = inspect.getsourcelines(fn)
    (offset,) = [i for i, line in enumerate(lines) if statement in line]
    return f"{fn.__name__}:{first + offset}"


async def _never_silent() -> None:
    raise AssertionError("a run waiting on another run was taken for a silent one")


async def _until(ctl: RunController, run_id: str, outcome: StepOutcome, text: str) -> StepOutcome:
    """Step ``run_id`` until its label contains ``text`` (the point after that statement)."""
    for _ in range(20):
        if outcome.status != "paused" or text in (outcome.label or ""):
            return outcome
        outcome = await ctl.step(run_id)
    raise AssertionError(f"{run_id} never paused at {text!r}: {outcome}")


async def _to_end(
    ctl: RunController, run_id: str, outcome: StepOutcome
) -> tuple[StepOutcome, list[Waited]]:
    """Step ``run_id`` to its end; its end without waits, and every wait on the way."""
    waited = list(outcome.waited)
    for _ in range(20):
        if outcome.status != "paused":
            break
        outcome = await ctl.step(run_id)
        waited += outcome.waited
    return replace(outcome, waited=()), waited


async def test_a_run_waiting_on_a_paused_runs_row_lock_moves_it_and_is_never_blocked(
    services: ServiceSet,
) -> None:
    await _counter_table(services)
    pool = await services.postgres_pool(min_size=2, max_size=4)

    async def bump() -> int:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE counters SET n = n + 1 WHERE id = 1")  # takes the row lock
            n: int = await conn.fetchval("SELECT n FROM counters WHERE id = 1")
        return n

    try:
        url = services.endpoints.url("postgres")
        async with postgres_locks(url, 5.0) as locks, RunController(
            BLOCK, locks=locks, probe=_never_silent
        ) as ctl:
            a = await _until(ctl, "a", await ctl.start("a", bump), _at(bump, "UPDATE"))
            assert a.status == "paused", a  # inside its transaction, holding the row lock
            started = time.monotonic()
            b, waited = await _to_end(ctl, "b", await ctl.start("b", bump))
            elapsed = time.monotonic() - started
            a = await ctl.finish("a") if "a" in ctl.active() else waited[-1].outcome
    finally:
        await pool.close()
    assert b == StepOutcome("finished", result=2)  # after a's commit, never blocked
    assert a == StepOutcome("finished", result=1)
    assert {w.kind for w in waited} == {"row lock"}, waited
    assert {w.holder for w in waited} == {"a"}
    assert elapsed < BLOCK  # seen waiting at once, never waited out


async def test_a_run_waiting_for_a_pool_slot_moves_the_paused_holder(
    services: ServiceSet,
) -> None:
    pool = await services.postgres_pool(min_size=1, max_size=1)

    async def hold() -> int:
        async with pool.acquire() as conn:
            first: int = await conn.fetchval("SELECT 1")
            second: int = await conn.fetchval("SELECT 2")
        return first + second

    try:
        async with RunController(BLOCK, probe=_never_silent) as ctl:
            a = await _until(ctl, "a", await ctl.start("a", hold), _at(hold, "SELECT 1"))
            assert a.status == "paused", a  # holding the pool's one connection
            started = time.monotonic()
            b, waited = await _to_end(ctl, "b", await ctl.start("b", hold))
            elapsed = time.monotonic() - started
            a = await ctl.finish("a") if "a" in ctl.active() else waited[-1].outcome
    finally:
        await pool.close()
    assert b == StepOutcome("finished", result=3)
    assert a == StepOutcome("finished", result=3)
    assert {(w.holder, w.kind) for w in waited} == {("a", "pool slot")}, waited
    assert elapsed < BLOCK


async def test_a_sqlalchemy_session_pauses_at_each_statement_and_waits_on_a_row_lock(
    services: ServiceSet,
) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    await _counter_table(services)
    schema = services.postgres_schema
    url = services.endpoints.url("postgres")
    engine = create_async_engine(
        url.replace("postgresql://", "postgresql+asyncpg://", 1),
        connect_args={"server_settings": {"search_path": schema}},
    )
    sessions = async_sessionmaker(engine)

    async def bump() -> int:
        async with sessions() as session, session.begin():
            await session.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
            n: int = (await session.execute(text("SELECT n FROM counters"))).scalar_one()
        return n

    try:
        async with postgres_locks(url, 5.0) as locks, RunController(
            BLOCK, locks=locks, probe=_never_silent
        ) as ctl:
            # The point after the UPDATE is the SELECT's: its line, in this file.
            a = await _until(ctl, "a", await ctl.start("a", bump), _at(bump, "SELECT n"))
            assert a.status == "paused", a
            assert a.label is not None
            assert a.label.startswith(f"{__name__}:bump:")  # the target's line, not SQLAlchemy's
            b, waited = await _to_end(ctl, "b", await ctl.start("b", bump))
            a = await ctl.finish("a") if "a" in ctl.active() else waited[-1].outcome
    finally:
        await engine.dispose()
    assert (a.result, b.result) == (1, 2)
    assert {(w.holder, w.kind) for w in waited} == {("a", "row lock")}, waited


async def test_a_redis_watch_block_pauses_at_each_command_so_another_run_can_break_it(
    services: ServiceSet,
) -> None:
    import redis.asyncio as aioredis

    redis = services.redis()
    key = f"{services.redis_prefix}counter"
    await redis.set(key, 0)

    async def bump() -> str:
        async with redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            n = int(await pipe.get(key))
            pipe.multi()
            pipe.set(key, n + 1)
            try:
                await pipe.execute()
            except aioredis.WatchError:
                return "retry"
        return "done"

    try:
        async with RunController(BLOCK, probe=_never_silent) as ctl:
            a = await _until(ctl, "a", await ctl.start("a", bump), _at(bump, "pipe.get"))
            assert a.status == "paused", a  # between WATCH and EXEC
            assert await ctl.run_to_end("b", bump) == StepOutcome("finished", result="done")
            assert await ctl.finish("a") == StepOutcome("finished", result="retry")
    finally:
        await redis.delete(key)
        await redis.aclose()
