"""Event routing: a run's events reach its user's connections and nobody else's."""

from __future__ import annotations

import unicodedata

import pytest

from isolation_fuzz.model import Event
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.events import (
    ConnectionRegistry,
    EmitterFactory,
    LocalConnection,
    RunEmitter,
)
from isolation_fuzz.target import EventStream

pytestmark = pytest.mark.anyio

# Pairs a sloppy router would confuse: prefixes, delimiters, globs, case, Unicode forms.
CONFUSABLE = [
    ("u1", "u10"),
    ("a:b", "a"),
    ("x*", "xy"),
    ("User", "user"),
    (unicodedata.normalize("NFC", "É"), unicodedata.normalize("NFD", "É")),
]


def _connect(registry: ConnectionRegistry, cid: str, user: str) -> LocalConnection:
    conn = LocalConnection(cid, user, registry)
    registry.register(conn)
    return conn


def _ctx(user: str, thread: str, run: str) -> UserExecutionContext:
    return UserExecutionContext(user, thread, run, f"req-{run}")


def test_a_local_connection_is_an_event_stream() -> None:
    assert isinstance(LocalConnection("c", "u", ConnectionRegistry()), EventStream)


@pytest.mark.parametrize(("one", "two"), CONFUSABLE)
async def test_events_reach_only_the_runs_user(one: str, two: str) -> None:
    registry = ConnectionRegistry()
    mine = [_connect(registry, "c1", one), _connect(registry, "c2", one)]
    theirs = _connect(registry, "c3", two)
    factory = EmitterFactory(registry)
    # Same thread id for both users: threads are shared by id, never by owner.
    a = factory.for_run(_ctx(one, "t1", "r1"))
    b = factory.for_run(_ctx(two, "t1", "r2"))
    await a.emit("agent_started", {"n": 1})
    await b.emit("agent_started", {})
    await a.emit("agent_completed", {})
    for conn in mine:
        await conn.sync()
        got = conn.take()
        assert [(e.run_id, e.seq, e.kind) for e in got] == [
            ("r1", 0, "agent_started"), ("r1", 1, "agent_completed")
        ]
        assert {(e.user_id, e.thread_id) for e in got} == {(one, "t1")}
    assert [(e.user_id, e.run_id, e.seq) for e in theirs.take()] == [(two, "r2", 0)]
    assert theirs.take() == []


async def test_emit_returns_the_event_it_delivered() -> None:
    registry = ConnectionRegistry()
    conn = _connect(registry, "c1", "u1")
    emitter = EmitterFactory(registry).for_run(_ctx("u1", "t", "r"))
    event = await emitter.emit("tool_completed", {"result": [1, 2]})
    assert event == Event("tool_completed", "u1", "t", "r", 0, {"result": [1, 2]})
    assert conn.take() == [event]


async def test_seq_counts_per_run_from_zero() -> None:
    registry = ConnectionRegistry()
    conn = _connect(registry, "c1", "u1")
    factory = EmitterFactory(registry)
    first, second = factory.for_run(_ctx("u1", "t", "r1")), factory.for_run(_ctx("u1", "t", "r2"))
    for _ in range(3):
        await first.emit("agent_thinking", {})
        await second.emit("agent_thinking", {})
    got = conn.take()
    assert [e.seq for e in got if e.run_id == "r1"] == [0, 1, 2]
    assert [e.seq for e in got if e.run_id == "r2"] == [0, 1, 2]


async def test_a_user_without_connections_gets_nothing_and_nobody_else_does() -> None:
    registry = ConnectionRegistry()
    other = _connect(registry, "c1", "u10")
    emitter = EmitterFactory(registry).for_run(_ctx("u1", "t", "r"))
    await emitter.emit("agent_started", {})
    assert other.take() == []


async def test_a_closed_connection_receives_nothing_more() -> None:
    registry = ConnectionRegistry()
    conn = _connect(registry, "c1", "u1")
    emitter = EmitterFactory(registry).for_run(_ctx("u1", "t", "r"))
    await emitter.emit("agent_started", {})
    await conn.aclose()
    await emitter.emit("agent_completed", {})
    assert [e.kind for e in conn.take()] == ["agent_started"]
    assert registry.all() == []
    with pytest.raises(ConnectionError):
        await conn.send(Event("agent_started", "u1", "t", "r", 9))


async def test_a_failing_socket_is_dropped_not_fatal() -> None:
    class Broken:
        connection_id = "bad"
        user_id = "u1"

        async def send(self, event: Event) -> None:
            raise ConnectionError("gone")

    registry = ConnectionRegistry()
    registry.register(Broken())
    good = _connect(registry, "c1", "u1")
    emitter = EmitterFactory(registry).for_run(_ctx("u1", "t", "r"))
    await emitter.emit("agent_started", {})
    await emitter.emit("agent_completed", {})
    assert [c.connection_id for c in registry.all()] == ["c1"]
    assert [e.seq for e in good.take()] == [0, 1]


def test_registry_order_and_duplicate_ids() -> None:
    registry = ConnectionRegistry()
    first = _connect(registry, "c1", "u1")
    second = _connect(registry, "c2", "u2")
    # Another user's connection with a clashing id must not evict the first one.
    clash = _connect(registry, "c1", "u3")
    registry.register(first)  # registering again changes nothing
    assert registry.all() == [first, second, clash]
    assert registry.connections_of("u1") == [first]
    registry.unregister(clash)
    assert registry.all() == [first, second]
    registry.unregister(clash)  # unknown: ignored
    assert registry.all() == [first, second]


def test_watching_lists_every_user_who_ran_on_the_thread() -> None:
    registry = ConnectionRegistry()
    a, b, c = (_connect(registry, f"c{u}", u) for u in ("u1", "u2", "u3"))
    factory = EmitterFactory(registry)
    factory.for_run(_ctx("u1", "t", "r1"))
    factory.for_run(_ctx("u2", "t", "r2"))
    factory.for_run(_ctx("u3", "other", "r3"))
    assert registry.watching("t") == [a, b]
    assert registry.watching("other") == [c]
    assert registry.watching("none") == []


def test_the_factory_builds_its_emitter_class() -> None:
    class Custom(RunEmitter):
        pass

    class CustomFactory(EmitterFactory):
        emitter_class = Custom

    factory = CustomFactory(ConnectionRegistry())
    emitter = factory.for_run(_ctx("u1", "t", "r"))
    assert type(emitter) is Custom
    assert emitter.ctx.user_id == "u1"
    factory.release(emitter)
    assert factory.for_run(_ctx("u2", "t", "r2")) is not emitter
