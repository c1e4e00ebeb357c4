"""The real WebSocket endpoint: JWT in the handshake, each user's events on their sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from isolation_fuzz.errors import AuthError, InfrastructureError
from isolation_fuzz.model import EventKind
from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.events import ConnectionRegistry, EmitterFactory
from isolation_fuzz.platform.server import EventServer
from isolation_fuzz.platform.wsclient import open_event_stream
from isolation_fuzz.target import EventStream
from isolation_fuzz.tokens import AuthConfig, ForgeryKind, forge_token, mint_token

pytestmark = pytest.mark.anyio

CONFIG = AuthConfig.generate()
KINDS: tuple[EventKind, ...] = ("agent_started", "agent_thinking", "agent_completed")


@pytest.fixture
async def server() -> AsyncIterator[EventServer]:
    async with EventServer(ConnectionRegistry(), Authenticator(CONFIG)) as srv:
        yield srv


async def _eventually(condition: object, what: str) -> None:
    """Poll ``condition()`` for up to two seconds (server-side cleanup is asynchronous)."""
    assert callable(condition)
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


def _tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_each_socket_gets_exactly_its_users_events_in_order(server: EventServer) -> None:
    before = _tasks()
    registry = server.registry
    a1 = await open_event_stream(server.url, mint_token(CONFIG, "u1"), "a1")
    a2 = await open_event_stream(server.url, mint_token(CONFIG, "u1"), "a2")
    b = await open_event_stream(server.url, mint_token(CONFIG, "u10"), "b")
    try:
        assert isinstance(b, EventStream)
        # Registered by the time the stream is handed out: no event can be missed.
        assert [(c.connection_id, c.user_id) for c in registry.all()] == [
            ("a1", "u1"), ("a2", "u1"), ("b", "u10")
        ]
        factory = EmitterFactory(registry)
        # Same thread id for both users: routing must go by user, not thread.
        ra = factory.for_run(UserExecutionContext("u1", "t1", "r1", "q1"))
        rb = factory.for_run(UserExecutionContext("u10", "t1", "r2", "q2"))
        sent_a, sent_b = [], []
        for kind in KINDS:
            sent_a.append(await ra.emit(kind, {"who": "u1", "nested": {"k": [1]}}))
            sent_b.append(await rb.emit(kind, {"who": "u10"}))
        for stream in (a1, a2, b):
            await stream.sync()
        assert a1.take() == sent_a
        assert a2.take() == sent_a
        assert b.take() == sent_b
        assert [e.seq for e in sent_a] == [0, 1, 2]
        for stream in (a1, a2, b):
            assert stream.take() == []
    finally:
        for stream in (a1, a2, b):
            await stream.aclose()
    await _eventually(lambda: registry.all() == [], "closed sockets are unregistered")
    assert _tasks() <= before  # no reader or handler outlives its stream


@pytest.mark.parametrize(
    "kind", ["wrong_signature", "alg_none", "expired", "tampered_sub", "wrong_audience", "garbage"]
)
async def test_bad_tokens_are_refused_at_the_handshake(
    server: EventServer, kind: ForgeryKind
) -> None:
    token = forge_token(CONFIG, kind, "u1", other_user_id="u10")
    with pytest.raises(AuthError) as info:
        await open_event_stream(server.url, token, "c1")
    assert info.value.reason == "rejected by server: HTTP 401"
    assert token not in str(info.value)
    assert server.registry.all() == []


async def test_a_token_for_another_issuers_key_is_refused(server: EventServer) -> None:
    other = AuthConfig.generate("RS256")
    with pytest.raises(AuthError, match="401"):
        await open_event_stream(server.url, mint_token(other, "u1"), "c1")


async def test_no_authorization_header_is_refused_with_a_reason(server: EventServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(server.url, proxy=None, open_timeout=5)
    assert info.value.response.status_code == 401
    assert b"missing Authorization header" in info.value.response.body
    assert server.registry.all() == []


async def test_the_server_names_connections_without_an_id(server: EventServer) -> None:
    headers = {"Authorization": f"Bearer {mint_token(CONFIG, 'u1')}"}
    async with connect(server.url, additional_headers=headers, proxy=None) as ws:
        await _eventually(lambda: len(server.registry.all()) == 1, "the socket is registered")
        assert server.registry.all()[0].connection_id.startswith("ws-")
        await ws.close()
    await _eventually(lambda: server.registry.all() == [], "the socket is unregistered")


async def test_an_unknown_path_is_an_infrastructure_error(server: EventServer) -> None:
    url = server.url.replace("/events", "/nope")
    with pytest.raises(InfrastructureError, match="404"):
        await open_event_stream(url, mint_token(CONFIG, "u1"), "c1")


async def test_an_unreachable_server_is_an_infrastructure_error() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InfrastructureError):
        await open_event_stream(f"ws://127.0.0.1:{port}/events", mint_token(CONFIG, "u1"), "c")


async def test_a_server_shutdown_fails_sync_instead_of_hanging() -> None:
    registry = ConnectionRegistry()
    async with EventServer(registry, Authenticator(CONFIG)) as srv:
        stream = await open_event_stream(srv.url, mint_token(CONFIG, "u1"), "c1")
    with pytest.raises(InfrastructureError):
        await asyncio.wait_for(stream.sync(), 3)
    await stream.aclose()
    await stream.aclose()  # idempotent
    assert registry.all() == []


async def test_emitting_to_a_socket_closed_by_the_client_is_not_fatal(
    server: EventServer,
) -> None:
    stream = await open_event_stream(server.url, mint_token(CONFIG, "u1"), "c1")
    connection = server.registry.all()[0]
    await stream.aclose()
    emitter = EmitterFactory(server.registry).for_run(UserExecutionContext("u1", "t", "r", "q"))
    await emitter.emit("agent_started", {})  # the socket may or may not be unregistered yet
    await _eventually(lambda: server.registry.all() == [], "the socket is unregistered")
    with pytest.raises(ConnectionError):
        await connection.send(await emitter.emit("agent_completed", {}))
