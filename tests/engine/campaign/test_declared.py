"""Declared capabilities, end to end: whole campaigns against a small Redis-only notes app.

The app is written here, not built from the reference platform: it keeps each
user's notes in one Redis hash (``notes:<len>:<user id>``, so no user id can reach
into another's), numbers its own events (``run_begin``, ``tool_call``, ``usage``,
``tool_result``, ``run_end``) and verifies the fuzzer's tokens through the kit.  It
declares all that on its factory.  Variants misroute one kind of event to every
connection, or refuse user ids its declared predicate refuses.

What must hold: only Redis starts (the embedded Postgres and ClickHouse starters
are booby-trapped) and only Redis calls are drawn; its own event kinds raise no
lifecycle alarm; a misrouted extra kind, declared or not, is caught; a declared
user-id predicate is honoured and the ids it dropped are reported; a bad
declaration is one line and exit 2 before anything starts.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, run_campaign
from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.cli import main
from isolation_fuzz.kit import QueueEventStream, Verification
from isolation_fuzz.model import Event, Plan, ToolCall
from isolation_fuzz.report.files import summary_of
from isolation_fuzz.report.text import format_result
from isolation_fuzz.services import _lifecycle
from isolation_fuzz.target import TargetSpec, register_target

KINDS = ("run_begin", "tool_call", "usage", "tool_result", "run_end")
NOTES = Capabilities(
    stores=("redis",), event_kinds=KINDS, begin_kinds=("run_begin",), end_kinds=("run_end",)
)

#: Every tool call any notes app performed, and every user id one refused.
CALLS: list[ToolCall] = []
REFUSED: list[str] = []


def alnum_ids(user_id: str) -> bool:
    """The notes app's rule for user ids: 3 to 40 ASCII letters and digits."""
    return user_id.isascii() and user_id.isalnum() and 3 <= len(user_id) <= 40


class Notes:
    """A multi-user notes app on Redis, with events of its own."""

    def __init__(self, services: Any, auth: Any, misroute: str | None,
                 refuse: Callable[[str], bool] | None) -> None:
        self.redis = services.redis()
        self.prefix = services.redis_prefix
        self.verify = Verification.of(auth).verify
        self.misroute = misroute  # this kind goes to every connection: the bug
        self.refuse = refuse
        self.streams: list[tuple[str, QueueEventStream]] = []
        self.ids = itertools.count(1)

    def _user(self, token: str) -> str:
        user = self.verify(token)
        if self.refuse is not None and not self.refuse(user):
            REFUSED.append(user)
            raise ValueError(f"user id {user!r} refused")
        return user

    async def connect(self, token: str) -> QueueEventStream:
        stream = QueueEventStream(f"c{next(self.ids)}")
        self.streams.append((self._user(token), stream))
        return stream

    def _send(self, event: Event) -> None:
        for user, stream in self.streams:
            if user == event.user_id or event.kind == self.misroute:
                stream.put(event)

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        user = self._user(token)
        seq = itertools.count()

        def emit(kind: str, **payload: Any) -> None:
            self._send(Event(kind, user, thread_id, run_id, next(seq), payload))

        emit("run_begin")
        results = []
        for call in plan:
            CALLS.append(call)
            await checkpoint("tool")
            emit("tool_call", tool=call.tool)
            results.append(await self._do(user, call))
            emit("usage", tokens=1)
            emit("tool_result", result=results[-1])
        emit("run_end")
        return results

    async def _do(self, user: str, call: ToolCall) -> Any:
        notes = f"{self.prefix}notes:{len(user)}:{user}"
        if call.tool == "remember":
            await self.redis.hset(notes, call.key, call.value)
            return "ok"
        if call.tool == "forget":
            await self.redis.hdel(notes, call.key)
            return "ok"
        if call.tool == "recall":
            value = await self.redis.hget(notes, call.key)
            return value.decode() if isinstance(value, bytes) else value
        found = await self.redis.hgetall(notes)
        texts = sorted(
            (k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
            for k, v in found.items()
        )
        return [k for k, _ in texts] if call.tool == "list" else [v for _, v in texts]

    async def residue(self, run_id: str) -> dict[str, list[str]]:
        return {}

    async def reset(self) -> None:
        async for key in self.redis.scan_iter(match=f"{self.prefix}notes:*"):
            await self.redis.delete(key)


def notes_app(capabilities: Any, misroute: str | None = None,
              refuse: Callable[[str], bool] | None = None) -> Any:
    """A factory for the notes app, declaring ``capabilities``."""

    @asynccontextmanager
    async def open_notes(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Notes]:
        notes = Notes(services, auth, misroute, refuse)
        try:
            yield notes
        finally:
            await notes.redis.aclose()

    open_notes.capabilities = capabilities  # type: ignore[attr-defined]
    return open_notes


register_target("test:notes", notes_app(NOTES))
register_target("test:notes-misroutes-usage", notes_app(NOTES, misroute="usage"))
register_target("test:notes-misroutes-debug", notes_app(NOTES, misroute="run_end"))
register_target("test:notes-strict-ids", notes_app(
    Capabilities(stores=("redis",), event_kinds=KINDS, begin_kinds=("run_begin",),
                 end_kinds=("run_end",), user_ids=alnum_ids),
    refuse=alnum_ids,
))


@pytest.fixture
def only_redis_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting an embedded Postgres or ClickHouse fails the test."""
    def boom(name: str) -> Callable[[], Any]:
        def start() -> Any:
            raise AssertionError(f"an embedded {name} was started")
        return start

    monkeypatch.setitem(_lifecycle._STARTERS, "postgres", boom("postgres"))
    monkeypatch.setitem(_lifecycle._STARTERS, "clickhouse", boom("clickhouse"))
    CALLS.clear()
    REFUSED.clear()


def _campaign(target: str, examples: int = 25) -> CampaignResult:
    return run_campaign(
        CampaignConfig(target=TargetSpec(target), max_examples=examples, seed=11, confirm=1)
    )


@pytest.mark.usefixtures("only_redis_starts")
def test_a_target_declaring_only_redis_starts_only_redis_and_draws_only_redis_calls() -> None:
    result = _campaign("test:notes")
    assert result.verdict == "clean", format_result(result)
    assert set(result.services) == {"redis", "namespace"}
    assert CALLS
    assert {call.store for call in CALLS} == {"redis"}
    # Its own event kinds, numbered its own way, raise no lifecycle alarm.
    assert result.runs.finished > 0
    assert "declared: stores redis; 5 event kinds (begin run_begin, end run_end)" in (
        format_result(result)
    )


@pytest.mark.usefixtures("only_redis_starts")
@pytest.mark.parametrize("target", ["test:notes-misroutes-usage", "test:notes-misroutes-debug"])
def test_a_misrouted_extra_kind_is_caught(target: str) -> None:
    result = _campaign(target)
    assert result.verdict == "violation", format_result(result)
    assert result.finding is not None
    assert {v.invariant for v in result.finding.violations} == {"events_reach_only_owner"}


@pytest.mark.usefixtures("only_redis_starts")
def test_a_user_id_predicate_is_honoured_and_the_dropped_ids_are_reported() -> None:
    result = _campaign("test:notes-strict-ids")
    assert REFUSED == []
    assert result.verdict == "clean", format_result(result)
    declared = result.declared
    assert declared.ids_dropped > 0
    assert 0 < declared.ids_replaced <= declared.ids_dropped
    summary = summary_of(result, "run-1", None)["declared"]
    assert summary["user_ids"] == "alnum_ids"
    assert summary["user_ids_dropped"] == declared.ids_dropped
    json.dumps(summary)
    assert f"{declared.ids_dropped} generated user id(s) dropped by its user_ids predicate" in (
        format_result(result)
    )


@pytest.mark.usefixtures("only_redis_starts")
@pytest.mark.parametrize(("declared", "says"), [
    ({"stores": ["redis", "mongo"]}, "unknown store 'mongo'"),
    ({"stores": []}, "stores is empty"),
    ({"stores": ["redis"], "user_ids": "alice"}, "user_ids must be a predicate"),
    ({"begin_kinds": ["start"]}, "begin_kinds names 'start'"),
    ({"event_kinds": ["a", "b"], "begin_kinds": ["a"], "end_kinds": ["c"]},
     "end_kinds names 'c'"),
    ({"store": ["redis"]}, "unknown field 'store'"),
    (42, "capabilities is a int"),
])
def test_a_bad_declaration_is_one_line_and_exit_2(
    declared: Any, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    register_target("test:notes-bad", notes_app(declared))
    assert main(["run", "--quiet", "--target", "test:notes-bad"]) == 2
    _, err = capsys.readouterr()
    assert says in err
    assert err.count("\n") == 1, err
