"""The adapter kit: a ready event stream, event numbers, token settings, service handles."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys

import pytest

from isolation_fuzz import AuthError, Event, UsageError
from isolation_fuzz.kit import EventNumbering, QueueEventStream, ServiceHandles, Verification
from isolation_fuzz.services import ServiceSet
from isolation_fuzz.target import EventStream
from isolation_fuzz.tokens import AuthConfig, forge_token, mint_token


def _event(kind: str, run_id: str = "r1", seq: int = 0) -> Event:
    return Event(kind, "u1", "t1", run_id, seq, {})


def test_importing_the_kit_loads_neither_jwt_nor_the_drivers() -> None:
    code = (
        "import sys, isolation_fuzz.kit\n"
        "print(','.join(m for m in ('jwt', 'redis', 'asyncpg', 'anyio', 'hypothesis') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""


def test_numbering_counts_each_run_from_zero() -> None:
    numbers = EventNumbering()
    first = numbers.event("begin", user_id="u", thread_id="t", run_id="r1", payload={"a": 1})
    assert (first.kind, first.seq, dict(first.payload)) == ("begin", 0, {"a": 1})
    assert [numbers.next("r1"), numbers.next("r2"), numbers.next("r1")] == [1, 0, 2]


@pytest.mark.anyio
async def test_a_pushed_stream_is_an_event_stream_that_forgets_what_it_gave() -> None:
    stream = QueueEventStream("c1")
    assert isinstance(stream, EventStream)
    stream.put(_event("a"))
    await stream.sync()
    assert [e.kind for e in stream.take()] == ["a"]
    assert stream.take() == []


@pytest.mark.anyio
@pytest.mark.parametrize("make", [asyncio.Queue, queue.Queue])
async def test_a_queue_source_is_drained_through_convert_which_may_drop(make: type) -> None:
    source = make()
    for message in ({"k": "a"}, {"k": "heartbeat"}, {"k": "b"}):
        source.put_nowait(message)
    numbers = EventNumbering()

    def convert(m: dict[str, str]) -> Event | None:
        if m["k"] == "heartbeat":
            return None
        return numbers.event(m["k"], user_id="u", thread_id="t", run_id="r")

    stream = QueueEventStream("c1", source=source, convert=convert)
    await stream.sync()
    assert [(e.kind, e.seq) for e in stream.take()] == [("a", 0), ("b", 1)]


@pytest.mark.anyio
async def test_sync_awaits_flush_and_close_runs_on_close_once() -> None:
    calls: list[str] = []

    async def flush() -> None:
        calls.append("flush")

    async def on_close() -> None:
        calls.append("close")

    stream = QueueEventStream("c1", flush=flush, on_close=on_close)
    await stream.sync()
    await stream.aclose()
    await stream.aclose()
    stream.put(_event("late"))
    assert calls == ["flush", "close"]
    assert stream.closed
    assert stream.take() == []


def test_a_message_that_is_no_event_says_to_pass_convert() -> None:
    source: queue.Queue[object] = queue.Queue()
    source.put({"type": "x"})
    with pytest.raises(TypeError, match="convert="):
        QueueEventStream("c1", source=source).take()


def test_verification_reads_the_fuzzers_tokens_and_rejects_forgeries() -> None:
    auth = AuthConfig.generate()
    verification = Verification.of(auth)
    assert verification.key == auth.verify_key
    assert auth.verify_key not in repr(verification)
    assert verification.verify(mint_token(auth, "u:1")) == "u:1"
    for kind in ("wrong_signature", "alg_none", "expired", "wrong_audience", "missing_sub"):
        with pytest.raises(AuthError):
            verification.verify(forge_token(auth, kind, "u1"))


def test_verification_of_something_else_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="auth config"):
        Verification.of("a key")


@pytest.mark.anyio
async def test_service_handles_name_the_namespace_and_reach_redis(services: ServiceSet) -> None:
    handles = ServiceHandles.of(services)
    assert handles.redis_prefix == f"{handles.namespace}:"
    assert handles.postgres_schema == handles.clickhouse_database == handles.namespace
    assert set(handles.stores) <= {"redis", "postgres", "clickhouse"}
    client = handles.redis()
    try:
        await client.set(f"{handles.redis_prefix}k", "v")
        assert await client.get(f"{handles.redis_prefix}k") == "v"
    finally:
        await client.aclose()
    assert handles.redis_url.startswith(("redis://", "rediss://", "unix://"))


def test_a_service_that_is_not_running_is_named() -> None:
    from isolation_fuzz.services import Endpoints

    only_redis = ServiceSet(Endpoints({"redis": "redis://x"}, {"redis": "external"}), "ns_x")
    with pytest.raises(UsageError, match="postgres is not running"):
        _ = ServiceHandles.of(only_redis).postgres_dsn
