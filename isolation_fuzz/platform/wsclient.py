"""A real WebSocket client for the platform's event endpoint: the fuzzer's event stream.

`open_event_stream` connects with the token in the handshake (a refused handshake
is an `AuthError`) and starts a reader that collects event frames.  `sync` sends a
``{"sync": n}`` frame and waits for the server's ``{"synced": n}``, which the server
sends after every event it sent before (see `isolation_fuzz.platform.server`);
the reader handles frames in order, so once `sync` returns, `take` holds them all.

Why an asyncio task for the reader: streams are opened and used from short-lived
tasks of a long-lived loop (an anyio BlockingPortal), so the reader cannot belong
to the opening call's task group.  It runs on the loop itself, in an empty context
(the fuzzer's checkpoint hook must not leak into it), and `aclose` cancels and
awaits it, so no task outlives the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from isolation_fuzz.errors import AuthError, InfrastructureError
from isolation_fuzz.model import Event

__all__ = ["WebSocketEventStream", "open_event_stream"]

# Everything is on localhost: a few seconds without an answer means something is broken.
_TIMEOUT: Final = 5.0


class WebSocketEventStream:
    """Events received on one WebSocket, in arrival order; implements `EventStream`."""

    def __init__(self, connection_id: str, socket: ClientConnection) -> None:
        self.connection_id = connection_id
        self._socket = socket
        self._received: list[Event] = []
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._syncs = itertools.count(1)
        self._failure: str | None = None  # why the reader stopped, once it has
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name=f"event-stream-reader:{connection_id}",
            context=contextvars.Context(),
        )

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                self._dispatch(message)
            self._failure = "the server closed the event connection"
        except ConnectionClosed as exc:
            self._failure = f"the event connection closed: {exc}"
        except (ValueError, KeyError, TypeError) as exc:
            # A malformed frame is the server's bug; surface it at the next sync.
            self._failure = f"the server sent a malformed frame: {exc!r}"
        finally:
            error = InfrastructureError(
                f"event connection {self.connection_id}: {self._failure or 'reader stopped'}"
            )
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(error)

    def _dispatch(self, message: str | bytes) -> None:
        data: Any = json.loads(message)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        if "synced" in data:
            waiter = self._waiters.get(int(data["synced"]))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        else:
            self._received.append(Event.from_json(data))

    def take(self) -> list[Event]:
        """Return (and forget) the events received since the last call."""
        received, self._received = self._received, []
        return received

    async def sync(self) -> None:
        """Return once every event the server sent before this call has arrived.

        Raises `InfrastructureError` if the connection is closed or the server does
        not answer within a few seconds.
        """
        if self._reader.done():
            raise InfrastructureError(
                f"event connection {self.connection_id} is closed: {self._failure}"
            )
        n = next(self._syncs)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[n] = waiter
        try:
            async with asyncio.timeout(_TIMEOUT):
                await self._socket.send(json.dumps({"sync": n}))
                await waiter
        except (TimeoutError, ConnectionClosed) as exc:
            raise InfrastructureError(
                f"event connection {self.connection_id} did not answer a sync: {exc!r}"
            ) from exc
        finally:
            del self._waiters[n]

    async def aclose(self) -> None:
        """Close the socket and stop the reader (idempotent)."""
        try:
            await self._socket.close()
        finally:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def open_event_stream(url: str, token: str, connection_id: str) -> WebSocketEventStream:
    """Connect to ``url`` as whoever ``token`` says and return the stream.

    The stream is registered on the server when this returns (it syncs once).
    Raises `AuthError` if the server refuses the token (HTTP 401), and
    `InfrastructureError` if the server cannot be reached or misbehaves.
    """
    headers = {"Authorization": f"Bearer {token}", "X-Connection-Id": connection_id}
    try:
        socket = await connect(
            url,
            additional_headers=headers,
            open_timeout=_TIMEOUT,
            close_timeout=_TIMEOUT,
            compression=None,
            proxy=None,  # localhost: an HTTP(S)_PROXY in the environment must not apply
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status == 401:
            raise AuthError("rejected by server: HTTP 401") from None
        raise InfrastructureError(f"event server at {url} answered HTTP {status}") from None
    except InvalidHandshake as exc:
        raise InfrastructureError(f"bad WebSocket handshake with {url}: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise InfrastructureError(f"cannot reach the event server at {url}: {exc}") from exc
    stream = WebSocketEventStream(connection_id, socket)
    try:
        await stream.sync()
    except BaseException:
        await stream.aclose()
        raise
    return stream
