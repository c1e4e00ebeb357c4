"""An event of a kind the reference platform never sends is carried over a real WebSocket.

Issue 11: the WebSocket client used to reject unknown kinds, so a system with event
kinds of its own could not be fuzzed over real sockets.  Now any kind is carried to
its user, and only to its user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.platform.context import UserExecutionContext
from isolation_fuzz.platform.events import ConnectionRegistry, EmitterFactory
from isolation_fuzz.platform.server import EventServer
from isolation_fuzz.platform.wsclient import open_event_stream
from isolation_fuzz.tokens import AuthConfig, mint_token

pytestmark = pytest.mark.anyio

CONFIG = AuthConfig.generate()


@pytest.fixture
async def server() -> AsyncIterator[EventServer]:
    async with EventServer(ConnectionRegistry(), Authenticator(CONFIG)) as srv:
        yield srv


async def test_an_extra_kind_reaches_its_user_over_a_websocket(server: EventServer) -> None:
    mine = await open_event_stream(server.url, mint_token(CONFIG, "u1"), "a")
    other = await open_event_stream(server.url, mint_token(CONFIG, "u10"), "b")
    try:
        emitter = EmitterFactory(server.registry).for_run(
            UserExecutionContext("u1", "t1", "r1", "q1")
        )
        sent = [
            await emitter.emit("agent_started", {}),
            await emitter.emit("usage_report", {"tokens": 7}),
            await emitter.emit("agent_completed", {}),
        ]
        await mine.sync()
        await other.sync()
        assert mine.take() == sent
        assert other.take() == []
    finally:
        await mine.aclose()
        await other.aclose()
