"""Tasks a run starts belong to it: adopted as actors, finished with it, idle ones said.

The controller tests drive plain asyncio code; the campaign tests fuzz a notes app
whose every write is a fire-and-forget task (``asyncio.create_task`` and never
awaited), with a ``reset()`` that waits for nothing, as an app written that way
would be adapted.  Its buggy variant reads the request's user when the write task
runs instead of when it was created: only a schedule that steps the write task
after another user's request began shows it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis

from isolation_fuzz import (
    CampaignConfig,
    CampaignResult,
    Capabilities,
    Event,
    Plan,
    register_target,
    run_campaign,
)
from isolation_fuzz.engine.replay.reproduce import replay_scenario
from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.runs import StepOutcome, Waited
from isolation_fuzz.kit import EventNumbering, QueueEventStream, ServiceHandles, Verification
from isolation_fuzz.target import TargetSpec


async def _no_probe() -> None:
    raise AssertionError("a run waiting on its own task was taken for a silent one")


@pytest.mark.anyio
async def test_a_fire_and_forget_task_is_the_runs_actor_and_finishes_with_it() -> None:
    written: list[str] = []

    async def save(value: str) -> None:
        await asyncio.sleep(0)
        written.append(value)

    async def request() -> str:
        asyncio.create_task(save("note"))  # noqa: RUF006  (fire and forget, on purpose)
        await asyncio.sleep(0)
        return "ok"

    async with RunController(2.0, probe=_no_probe) as ctl:
        first = await ctl.start("r1", request)
        assert first.status == "paused"
        assert ctl.active() == ["r1", "r1/bg1"]  # created paused: none of it ran yet
        assert written == []
        done = await ctl.finish("r1")
        assert done == StepOutcome("finished", result="ok")
        assert ctl.live_tasks("r1") == ["r1/bg1"]  # an actor of its own, still paused
        assert written == []
        assert await ctl.finish("r1/bg1") == StepOutcome("finished")
        assert written == ["note"]
        assert ctl.active() == []
        looked = await ctl.run_to_end("look", request)  # a look finishes its tasks too
        assert looked.status == "finished"
        assert Waited("look/bg1", "task", StepOutcome("finished")) in looked.waited
        assert written == ["note", "note"]


@pytest.mark.anyio
async def test_a_run_awaiting_its_own_tasks_moves_them_and_is_never_blocked() -> None:
    async def child(n: int) -> int:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return n

    async def request() -> int:
        first, second = await asyncio.gather(child(1), child(2))
        task = asyncio.create_task(child(3))
        async with anyio.create_task_group() as group:
            group.start_soon(child, 4)
        return first + second + await task

    async with RunController(2.0, probe=_no_probe) as ctl:
        with anyio.fail_after(1.5):  # well inside one block timeout
            done = await ctl.run_to_end("r1", request)
    assert done.status == "finished", done
    assert done.result == 6
    assert {w.holder for w in done.waited} == {"r1/bg1", "r1/bg2", "r1/bg3", "r1/bg4"}


@pytest.mark.anyio
async def test_an_idle_worker_a_run_started_is_let_go_at_the_end_and_named() -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    handled: list[str] = []
    workers: list[asyncio.Task[None]] = []

    async def worker() -> None:
        while True:
            handled.append(await queue.get())

    async def request(item: str) -> None:
        if not workers:  # started lazily, on the first request, as real apps do
            workers.append(asyncio.create_task(worker()))
        queue.put_nowait(item)
        await asyncio.sleep(0)

    async with RunController(2.0, probe=_no_probe) as ctl:
        done = await ctl.run_to_end("r1", lambda: request("a"))
        assert done.status == "finished"
        assert [w.outcome.status for w in done.waited] == ["idle"]
        assert handled == ["a"]
        await ctl.cancel_all()
        (site,) = ctl.take_released()
        assert site.startswith(f"{__name__}:request:")
        queue.put_nowait("b")  # let go, it works on for the system
        await asyncio.sleep(0.01)
        assert handled == ["a", "b"]
    workers[0].cancel()


# -- a system whose every write is a fire-and-forget task ---------------------------


class FireAndForgetNotes:
    """Notes in one Redis hash per user; every write is a task no one awaits."""

    def __init__(self, redis: Any, prefix: str, tokens: Verification, *, buggy: bool) -> None:
        self.redis, self.prefix, self.tokens, self.buggy = redis, prefix, tokens, buggy
        self.current_user = ""  # the bug reads this when the write runs
        self.queues: dict[str, list[asyncio.Queue[dict[str, str]]]] = {}

    def publish(self, user: str, kind: str, request: str, thread: str) -> None:
        for queue in self.queues.get(user, []):
            queue.put_nowait({"type": kind, "request": request, "thread": thread})

    async def _save(self, user: str, key: str, value: str) -> None:
        owner = self.current_user if self.buggy else user
        await self.redis.hset(f"{self.prefix}{owner}", key, value)

    async def handle(self, token: str, thread: str, request: str, plan: Plan) -> list[Any]:
        user = self.current_user = self.tokens.verify(token)
        self.publish(user, "run.begin", request, thread)
        notes = f"{self.prefix}{user}"
        results: list[Any] = []
        for call in plan:
            if call.tool == "remember":
                asyncio.create_task(self._save(user, call.key or "", call.value or ""))  # noqa: RUF006
                results.append("ok")
            elif call.tool == "recall":
                results.append(await self.redis.hget(notes, call.key))
            elif call.tool == "forget":
                results.append(bool(await self.redis.hdel(notes, call.key)))
            elif call.tool == "list":
                results.append(sorted(await self.redis.hkeys(notes)))
            else:
                values = sorted(await self.redis.hvals(notes))
                results.append({"count": len(values), "values": values})
        self.publish(user, "run.end", request, thread)
        return results


class FireAndForgetTarget:
    def __init__(self, app: FireAndForgetNotes) -> None:
        self.app = app
        self._ids = itertools.count(1)

    async def connect(self, token: str) -> QueueEventStream:
        user = self.app.tokens.verify(token)  # AuthError for a bad token
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.app.queues.setdefault(user, []).append(queue)
        numbering = EventNumbering()

        def convert(m: dict[str, str]) -> Event:
            return numbering.event(m["type"], user_id=user, thread_id=m["thread"],
                                   run_id=m["request"])

        async def close() -> None:
            self.app.queues[user].remove(queue)

        return QueueEventStream(f"q{next(self._ids)}", source=queue, convert=convert,
                                on_close=close)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        return await self.app.handle(token, thread_id, run_id, plan)

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return {}

    async def reset(self) -> None:  # waits for nothing: every write task is done by now
        async for key in self.app.redis.scan_iter(match=f"{self.app.prefix}*", count=500):
            await self.app.redis.unlink(key)


def _factory(buggy: bool) -> Any:
    @asynccontextmanager
    async def open_target(spec: Any, services: Any, auth: Any) -> AsyncIterator[Any]:
        handles, tokens = ServiceHandles.of(services), Verification.of(auth)
        redis = aioredis.from_url(handles.redis_url, decode_responses=True)
        try:
            app = FireAndForgetNotes(redis, f"{handles.redis_prefix}ff:", tokens, buggy=buggy)
            yield FireAndForgetTarget(app)
        finally:
            await redis.aclose()

    open_target.capabilities = Capabilities(  # type: ignore[attr-defined]
        stores=("redis",), event_kinds=("run.begin", "run.end"),
        begin_kinds=("run.begin",), end_kinds=("run.end",),
    )
    return open_target


register_target("test:fire_and_forget", _factory(buggy=False))
register_target("test:fire_and_forget_bug", _factory(buggy=True))


def _campaign(name: str, examples: int) -> CampaignResult:
    return run_campaign(CampaignConfig(target=TargetSpec(name), max_examples=examples, seed=2))


def test_writes_through_tasks_are_judged_when_their_task_ends_and_stay_clean() -> None:
    result = _campaign("test:fire_and_forget", 60)
    assert result.verdict == "clean", result.finding
    assert result.runs.blocked == 0
    assert not result.runs.leaked


@pytest.fixture(scope="module")
def found() -> CampaignResult:
    return _campaign("test:fire_and_forget_bug", 200)


def test_a_write_task_that_reads_the_user_late_is_found_shrunk_and_replays_20_of_20(
    found: CampaignResult,
) -> None:
    assert found.verdict == "violation"
    finding = found.finding
    assert finding is not None
    assert finding.shrunk
    assert any("/bg" in (m.run_id or "") for m in finding.moves), finding.moves
    report = replay_scenario(finding.to_scenario(found.target, found.seed), repeat=20)
    assert report.reproductions == 20, report.explain()
    assert all(not r.diverged for r in report.replays)


class AuditedNotes(FireAndForgetNotes):
    """The correct notes, plus an audit worker started lazily by the first request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit: asyncio.Queue[str] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.audited: list[str] = []

    async def _work(self) -> None:
        while True:
            self.audited.append(await self.audit.get())

    async def handle(self, token: str, thread: str, request: str, plan: Plan) -> list[Any]:
        if self.worker is None:
            self.worker = asyncio.create_task(self._work())
        self.audit.put_nowait(request)
        return await super().handle(token, thread, request, plan)


@asynccontextmanager
async def _open_audited(spec: Any, services: Any, auth: Any) -> AsyncIterator[Any]:
    handles, tokens = ServiceHandles.of(services), Verification.of(auth)
    redis = aioredis.from_url(handles.redis_url, decode_responses=True)
    app = AuditedNotes(redis, f"{handles.redis_prefix}au:", tokens, buggy=False)
    try:
        yield FireAndForgetTarget(app)
    finally:
        if app.worker is not None:
            app.worker.cancel()
        await redis.aclose()


_open_audited.capabilities = _factory(False).capabilities  # type: ignore[attr-defined]
register_target("test:audited_notes", _open_audited)


def test_a_worker_a_run_started_that_outlives_its_example_is_named_in_the_verdict() -> None:
    from isolation_fuzz.report.text import format_result

    result = _campaign("test:audited_notes", 30)
    assert result.verdict == "clean", result.finding
    (site,) = result.runs.leaked
    assert site.startswith(f"{__name__}:handle:")  # the line that created it
    assert result.runs.leaked[site] == 1  # let go once, then the system's own
    assert result.runs.to_json()["leaked_tasks"] == {site: 1}
    assert "outlived their example, waiting for work" in format_result(result)
    assert site in format_result(result)


@pytest.mark.anyio
async def test_a_task_cancelled_before_it_ran_is_no_paused_actor_left_behind() -> None:
    async def never_runs() -> None:
        raise AssertionError("a cancelled task ran")

    async def request() -> str:
        task = asyncio.create_task(never_runs())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        return "ok"

    async with RunController(2.0, probe=_no_probe) as ctl:
        done = await ctl.run_to_end("r1", request)
        assert done.status == "finished"
        assert ctl.active() == []
        assert ctl.live_tasks("r1") == []


@pytest.mark.anyio
async def test_a_cancellation_escaping_a_run_fails_that_run_only() -> None:
    async def child() -> None:
        await asyncio.sleep(10)

    async def request() -> None:
        task = asyncio.create_task(child())
        task.cancel()
        await task  # the target's own cancellation, not caught

    async def other() -> str:
        await asyncio.sleep(0)
        return "still here"

    async with RunController(2.0, probe=_no_probe) as ctl:
        await ctl.start("other", other)
        failed = await ctl.run_to_end("r1", request)
        assert failed.status == "failed"
        assert isinstance(failed.error, asyncio.CancelledError)
        assert await ctl.finish("other") == StepOutcome("finished", result="still here")


@pytest.mark.anyio
async def test_a_run_waiting_on_an_anyio_lock_moves_its_owner_not_the_oldest_paused_run() -> None:
    lock = anyio.Lock()

    async def holder() -> str:
        async with lock:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        return "held"

    async def waiter() -> str:
        await asyncio.sleep(0)
        async with lock:
            return "got it"

    async with RunController(2.0, probe=_no_probe) as ctl:
        await ctl.start("r0", waiter)
        await ctl.start("r1", waiter)
        holding = await ctl.start("r2", holder)
        holding = await ctl.step("r2")
        assert holding.status == "paused"  # inside the lock
        first = await ctl.finish("r1")
        assert first.status == "finished"
        assert [(w.holder, w.kind) for w in first.waited] == [("r2", "lock")]  # never r0
        assert (await ctl.finish("r0")).status == "finished"
        assert ctl.active() == []
