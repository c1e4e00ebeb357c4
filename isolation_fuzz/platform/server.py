"""The reference platform's real WebSocket endpoint for agent events.

Clients connect to ``ws://127.0.0.1:<port>/events`` with ``Authorization: Bearer
<jwt>``; the token is checked in the handshake, and a missing or bad one gets HTTP
401 and no connection.  An accepted socket is registered as a connection of the
token's user until it closes; events go out as JSON text frames (`Event.to_json`).
A client may name its connection with an ``X-Connection-Id`` header.

Sync protocol: a client may send ``{"sync": n}``; the server answers ``{"synced": n}``.
Frames on one socket are ordered and every event send has been written before the
emitter returns, so the answer follows every event sent before the request.  The
socket is registered before the first request is read, so the answer to a client's
first sync also means "you are registered".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import weakref
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from isolation_fuzz.errors import AuthError, InfrastructureError
from isolation_fuzz.model import Event
from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.platform.events import ConnectionRegistry

__all__ = ["EVENTS_PATH", "EventServer", "WebSocketConnection"]

EVENTS_PATH: Final = "/events"

# A client that stops reading must not stall the run that emits to it forever.
_SEND_TIMEOUT: Final = 5.0
_CLOSE_TIMEOUT: Final = 3.0


class WebSocketConnection:
    """A registered socket of one user; implements `Connection`."""

    def __init__(self, connection_id: str, user_id: str, socket: ServerConnection) -> None:
        self.connection_id = connection_id
        self.user_id = user_id
        self.socket = socket

    async def send(self, event: Event) -> None:
        """Send ``event`` as one JSON text frame; `ConnectionError` if the socket is gone."""
        try:
            async with asyncio.timeout(_SEND_TIMEOUT):
                await self.socket.send(json.dumps(event.to_json()))
        except ConnectionClosed as exc:
            raise ConnectionError(f"connection {self.connection_id} is closed") from exc
        except TimeoutError as exc:
            # A half-written frame leaves the socket unusable: drop it for good.
            self.socket.transport.abort()
            raise ConnectionError(f"connection {self.connection_id} stopped reading") from exc


class EventServer:
    """Serves the event WebSocket on 127.0.0.1 and an ephemeral port while entered."""

    def __init__(self, registry: ConnectionRegistry, authenticator: Authenticator) -> None:
        self.registry = registry
        self.authenticator = authenticator
        self.url = ""
        self._server: Server | None = None
        self._ids = itertools.count(1)
        # Who each accepted handshake authenticated as, until its handler picks it up.
        # Weak keys: a handshake that fails after the check leaves nothing behind.
        self._users: weakref.WeakKeyDictionary[ServerConnection, str] = (
            weakref.WeakKeyDictionary()
        )

    async def __aenter__(self) -> Self:
        try:
            self._server = await serve(
                self._handle,
                "127.0.0.1",
                0,
                process_request=self._check,
                compression=None,
                close_timeout=_CLOSE_TIMEOUT,
            )
        except OSError as exc:
            raise InfrastructureError(f"cannot start the event server: {exc}") from exc
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}{EVENTS_PATH}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            # Closes every open socket too; their handlers unregister them.
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        """Handshake hook: refuse unknown paths (404) and bad tokens (401)."""
        if request.path.partition("?")[0] != EVENTS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        try:
            user_id = self.authenticator.authenticate_header(request.headers.get("Authorization"))
        except AuthError as exc:
            # The reason never holds the token, so it is safe to tell the client.
            return connection.respond(HTTPStatus.UNAUTHORIZED, f"{exc.reason}\n")
        self._users[connection] = user_id
        return None

    async def _handle(self, socket: ServerConnection) -> None:
        """Keep the socket registered for its user until it closes; answer syncs."""
        user_id = self._users.pop(socket)
        assert socket.request is not None  # set once the handshake succeeded
        connection_id = socket.request.headers.get("X-Connection-Id") or f"ws-{next(self._ids)}"
        connection = WebSocketConnection(connection_id, user_id, socket)
        self.registry.register(connection)
        try:
            async for message in socket:
                await self._answer(socket, message)
        except ConnectionClosed:
            pass
        finally:
            self.registry.unregister(connection)

    async def _answer(self, socket: ServerConnection, message: Any) -> None:
        """Answer a sync request; ignore anything else (clients only listen)."""
        try:
            request = json.loads(message)
        except (TypeError, ValueError):
            return
        if isinstance(request, dict) and isinstance(request.get("sync"), int):
            await socket.send(json.dumps({"synced": request["sync"]}))
