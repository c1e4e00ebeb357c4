"""A correct refusal is the target's answer, not infrastructure (issue 20's defect).

A system that refuses a valid user's run on a thread another user owns is isolating
correctly.  ``AuthError`` was a ``PermissionError``, hence an ``OSError``, and such a
refusal used to end the campaign as a dead service (exit 3).  Now the run is
counted ``refused`` (the kit's ``Refused``, or any ``AuthError``), never failed, the
campaign runs to its budget, and its verdict stands.  A target that refuses
everything is "not working", not clean.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from isolation_fuzz import (
    AuthError,
    CampaignConfig,
    Capabilities,
    Event,
    Plan,
    register_target,
    run_campaign,
)
from isolation_fuzz.kit import EventNumbering, QueueEventStream, Refused, Verification
from isolation_fuzz.target import TargetSpec


class OwnedThreads:
    """Notes in memory, per user; a thread belongs to the first user who runs on it."""

    def __init__(self, tokens: Verification) -> None:
        self.tokens = tokens
        self.owners: dict[str, str] = {}
        self.notes: dict[str, dict[str, str]] = {}
        self.queues: dict[str, list[asyncio.Queue[dict[str, str]]]] = {}
        self._ids = itertools.count(1)

    async def connect(self, token: str) -> QueueEventStream:
        user = self.tokens.verify(token)
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.queues.setdefault(user, []).append(queue)
        numbering = EventNumbering()

        def convert(m: dict[str, str]) -> Event:
            return numbering.event(m["type"], user_id=user, thread_id=m["thread"],
                                   run_id=m["run"])

        return QueueEventStream(f"q{next(self._ids)}", source=queue, convert=convert)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        user = self.tokens.verify(token)
        if self.owners.setdefault(thread_id, user) != user:
            raise Refused(f"thread {thread_id!r} belongs to someone else")
        for queue in self.queues.get(user, []):
            queue.put_nowait({"type": "run.begin", "thread": thread_id, "run": run_id})
        mine = self.notes.setdefault(user, {})
        results: list[Any] = []
        for call in plan:
            await asyncio.sleep(0)
            if call.tool == "remember":
                mine[call.key or ""] = call.value or ""
                results.append("ok")
            elif call.tool == "recall":
                results.append(mine.get(call.key or ""))
            elif call.tool == "forget":
                results.append(mine.pop(call.key or "", None) is not None)
            elif call.tool == "list":
                results.append(sorted(mine))
            else:
                results.append({"count": len(mine), "values": sorted(mine.values())})
        for queue in self.queues.get(user, []):
            queue.put_nowait({"type": "run.end", "thread": thread_id, "run": run_id})
        return results

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return {}

    async def reset(self) -> None:
        self.owners.clear()
        self.notes.clear()


@asynccontextmanager
async def open_owned_threads(spec: Any, services: Any, auth: Any) -> AsyncIterator[Any]:
    yield OwnedThreads(Verification.of(auth))


open_owned_threads.capabilities = Capabilities(  # type: ignore[attr-defined]
    stores=("redis",), event_kinds=("run.begin", "run.end"),
    begin_kinds=("run.begin",), end_kinds=("run.end",),
)
register_target("test:owned_threads", open_owned_threads)


def test_a_refused_run_on_another_users_thread_is_no_infrastructure_failure() -> None:
    result = run_campaign(CampaignConfig(
        target=TargetSpec("test:owned_threads"), max_examples=60, seed=4
    ))
    assert result.runs.refused > 0  # refusals happened, and were counted as such
    assert result.runs.failed_total == 0
    assert result.runs.finished > 0
    assert result.examples >= 60  # the budget ran
    assert result.verdict == "clean", result.finding
    assert result.exit_code == 0
    assert result.runs.to_json()["refused"] == result.runs.refused
    assert f"{result.runs.refused} refused (not theirs)" in result.runs.describe()


class RefusesEverything(OwnedThreads):
    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        self.tokens.verify(token)
        raise Refused("nothing here is yours")


@asynccontextmanager
async def open_refuses_everything(spec: Any, services: Any, auth: Any) -> AsyncIterator[Any]:
    yield RefusesEverything(Verification.of(auth))


open_refuses_everything.capabilities = open_owned_threads.capabilities  # type: ignore[attr-defined]
register_target("test:refuses_everything", open_refuses_everything)


def test_a_target_that_refuses_everything_is_not_working_not_clean() -> None:
    result = run_campaign(CampaignConfig(
        target=TargetSpec("test:refuses_everything"), max_examples=30, seed=4
    ))
    assert result.runs.refused >= 10
    assert result.runs.finished == 0
    assert result.verdict != "clean"
    assert result.exit_code == 3


def test_one_rule_says_what_is_infrastructure_for_campaigns_and_stress() -> None:
    from isolation_fuzz.errors import InfrastructureError, is_infrastructure_failure

    assert not is_infrastructure_failure(AuthError("not yours"))
    assert not is_infrastructure_failure(Refused("not yours"))
    assert not isinstance(Refused("x"), OSError)
    assert is_infrastructure_failure(ConnectionResetError("peer gone"))
    assert is_infrastructure_failure(InfrastructureError("redis down"))
    assert not is_infrastructure_failure(KeyError("a bug of the target's"))
