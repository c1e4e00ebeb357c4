"""Automatic interleaving points: a race between two awaits of an app with no checkpoints.

The target below is written the usual way: plain ``redis.asyncio``, pyjwt through the
kit, and the request's user kept in a module global across an ``await`` (issue 12's
measured case).  It has no ``checkpoint()`` call, so with explicit points only every
run goes start to end in one move and the race cannot show; with automatic points
the fuzzer finds it, shrinks it and replays it the same way every time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

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
from isolation_fuzz.engine.example.harness import Limits
from isolation_fuzz.engine.replay.reproduce import replay_scenario
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.kit import EventNumbering, QueueEventStream, ServiceHandles, Verification
from isolation_fuzz.target import TargetSpec

#: The request's user, as a "current user" global (the bug).
_current: dict[str, str] = {}


class NotesApp:
    """A tiny notes service: one Redis hash per user, progress pushed to the user's queues."""

    def __init__(self, redis: Any, prefix: str, tokens: Verification) -> None:
        self.redis, self.prefix, self.tokens = redis, prefix, tokens
        self.queues: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}

    def publish(self, user: str, message: dict[str, Any]) -> None:
        for queue in self.queues.get(user, []):
            queue.put_nowait(message)

    async def handle(self, token: str, thread: str, request: str, plan: Plan) -> list[Any]:
        _current["user"] = self.tokens.verify(token)
        self.publish(_current["user"], {"type": "run.begin", "request": request, "thread": thread})
        results = []
        for call in plan:
            await self.redis.rpush(f"{self.prefix}log:{request}", call.tool)
            user = _current["user"]  # read back after an await: maybe another request's user
            notes = f"{self.prefix}notes:{user}"
            if call.tool == "remember":
                await self.redis.hset(notes, call.key, call.value)
                result: Any = "ok"
            elif call.tool == "recall":
                result = await self.redis.hget(notes, call.key)
            elif call.tool == "forget":
                result = bool(await self.redis.hdel(notes, call.key))
            elif call.tool == "list":
                result = sorted(await self.redis.hkeys(notes))
            else:
                values = sorted(await self.redis.hvals(notes))
                result = {"count": len(values), "values": values}
            results.append(result)
            self.publish(user, {"type": "tool.result", "request": request, "thread": thread,
                                "result": result})
        await self.redis.delete(f"{self.prefix}log:{request}")
        self.publish(_current["user"], {"type": "run.end", "request": request, "thread": thread})
        return results


class NotesTarget:
    """The Target adapter over :class:`NotesApp` (no checkpoints anywhere)."""

    def __init__(self, app: NotesApp) -> None:
        self.app = app
        self._ids = itertools.count(1)

    async def connect(self, token: str) -> QueueEventStream:
        user = self.app.tokens.verify(token)  # AuthError for a bad token
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.app.queues.setdefault(user, []).append(queue)
        numbering = EventNumbering()

        def convert(m: dict[str, Any]) -> Event:
            payload = {"result": m["result"]} if "result" in m else {}
            return numbering.event(m["type"], user_id=user, thread_id=m["thread"],
                                   run_id=m["request"], payload=payload)

        async def close() -> None:
            self.app.queues[user].remove(queue)

        return QueueEventStream(f"q{next(self._ids)}", source=queue, convert=convert,
                                on_close=close)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        return await self.app.handle(token, thread_id, run_id, plan)

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        key = f"{self.app.prefix}log:{run_id}"
        return {"redis": [key]} if await self.app.redis.exists(key) else {}

    async def reset(self) -> None:
        async for key in self.app.redis.scan_iter(match=f"{self.app.prefix}*", count=500):
            await self.app.redis.unlink(key)
        self.app = NotesApp(self.app.redis, self.app.prefix, self.app.tokens)


@asynccontextmanager
async def open_notes_target(spec: Any, services: Any, auth: Any) -> AsyncIterator[NotesTarget]:
    handles, tokens = ServiceHandles.of(services), Verification.of(auth)
    redis = aioredis.from_url(handles.redis_url, decode_responses=True)
    try:
        yield NotesTarget(NotesApp(redis, f"{handles.redis_prefix}notes:", tokens))
    finally:
        await redis.aclose()


open_notes_target.capabilities = Capabilities(  # type: ignore[attr-defined]
    stores=("redis",), event_kinds=("run.begin", "tool.result", "run.end"),
    begin_kinds=("run.begin",), end_kinds=("run.end",),
)
register_target("test:auto_points_notes", open_notes_target)


def _campaign(points: str, examples: int) -> CampaignResult:
    return run_campaign(CampaignConfig(
        target=TargetSpec("test:auto_points_notes"), max_examples=examples, seed=3,
        limits=Limits(points=points),  # type: ignore[arg-type]
    ))


@pytest.fixture(scope="module")
def found() -> CampaignResult:
    return _campaign("auto-only", 300)


def test_explicit_points_only_cannot_see_a_race_the_app_marks_nowhere() -> None:
    result = _campaign("explicit", 40)
    assert result.verdict == "clean", result.finding


def test_automatic_points_find_and_shrink_the_race_between_two_awaits(
    found: CampaignResult,
) -> None:
    assert found.verdict == "violation"
    finding = found.finding
    assert finding is not None
    assert finding.shrunk
    assert finding.points == "auto-only"
    # The other user's events, data or lifecycle: whichever the shrunk case shows first.
    assert {v.invariant for v in finding.violations} & {
        "no_foreign_data", "read_your_writes", "events_reach_only_owner", "complete_lifecycle"}
    assert scenario_length(finding.moves) <= 3
    # Points are named for the app's own await, with the driver operation.
    labels = [m.outcome for m in finding.moves if m.outcome.startswith("paused at ")]
    assert labels
    assert all("test_auto_points:handle:" in label for label in labels)
    assert any(" redis " in label for label in labels)
    assert finding.gathered is not None


def test_a_finding_from_automatic_points_replays_twenty_times_of_twenty(
    found: CampaignResult,
) -> None:
    assert found.finding is not None
    scenario = found.finding.to_scenario(found.target, found.seed)
    assert scenario.points == "auto-only"
    report = replay_scenario(scenario, repeat=20)
    assert report.reproductions == 20, report.explain()
    assert all(not r.diverged for r in report.replays)
