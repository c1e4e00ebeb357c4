"""The same app over real loopback sockets: a uvicorn server, and clients of it.

Design note.  ``--transport websocket`` asks for the app as its users meet it: a
real server (uvicorn, on 127.0.0.1 and a port the kernel picks) and real clients
(httpx over TCP for requests and server-sent events, the ``websockets`` library
for WebSockets and socket.io).  The description is the same; only where the bytes
go changes.  The clients here have the shape of the in-process sessions of
:mod:`~isolation_fuzz.asgi.wire` (``open``, ``send``, ``aclose``, ``closed``, and a
callback per frame), so :mod:`~isolation_fuzz.asgi.connections` picks one or the
other and knows nothing more.

What it costs: the app's handlers run in the server's tasks, not the run's, so a
run's interleaving points are its requests, not the awaits inside the app (the
in-process transport has those).  Frames cross a socket, so a connection is
settled when it has been quiet for a moment (``QUIET``) rather than after a few
loop passes.  Readers run in an empty context, so the fuzzer's checkpoint hook
never leaks into them, and every task and socket is closed with its connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from isolation_fuzz.asgi.wire import App, WebSocketRefused
from isolation_fuzz.errors import MissingDependency

__all__ = ["QUIET", "RealEventSource", "RealWebSocket", "serve"]

#: How long a connection must be quiet to count as settled over real sockets (s).
QUIET = 0.02

Frame = Callable[[str | bytes], None]


@asynccontextmanager
async def serve(app: App) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on loopback for the block; yields its base URL."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependency("uvicorn", extra="asgi") from exc
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # The fuzzer runs the app's lifespan itself (on the in-process path too), so
    # uvicorn does not; its access log would drown the progress bar.
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                            ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(
        server.serve(sockets=[listener]), name="uvicorn", context=contextvars.Context())
    try:
        while not server.started:
            if task.done():
                task.result()  # it failed to start: say why
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=5.0)
        if not task.done():
            task.cancel()
        listener.close()


class RealWebSocket:
    """A WebSocket client of a served app, with the in-process session's shape."""

    def __init__(self, url: str, headers: dict[str, str], subprotocols: list[str],
                 on_frame: Frame) -> None:
        self._url, self._headers, self._subprotocols = url, headers, subprotocols
        self._on_frame = on_frame
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.closed = False

    async def open(self) -> None:
        """Connect; :class:`WebSocketRefused` if the app will not accept."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        try:
            self._socket = await asyncio.wait_for(connect(
                self._url, additional_headers=self._headers,
                subprotocols=self._subprotocols or None,  # type: ignore[arg-type]
                open_timeout=5.0, max_size=None,
            ), 10.0)
        except InvalidStatus as exc:
            raise WebSocketRefused(exc.response.status_code, "denied") from None
        except InvalidHandshake as exc:
            raise WebSocketRefused(None, str(exc)) from None
        except OSError as exc:
            raise WebSocketRefused(None, f"cannot connect: {exc}") from None
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name=f"websocket reader {self._url}", context=contextvars.Context())
        # A handler that closes right after accepting refused too: look once.
        await asyncio.sleep(QUIET)
        if self.closed:
            raise WebSocketRefused(getattr(self._socket, "close_code", None),
                                   getattr(self._socket, "close_reason", "") or "")

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self._socket:
                self._on_frame(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    def send(self, text: str) -> None:
        """Send a text frame (in the background: the in-process session's send is sync)."""
        if not self.closed and self._socket is not None:
            asyncio.get_running_loop().create_task(
                self._send(text), context=contextvars.Context())

    async def _send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._socket.send(text)
        except ConnectionClosed:
            self.closed = True

    async def aclose(self) -> None:
        """Close the socket and end the reader."""
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=2.0)
            self._reader.cancel()


class RealEventSource:
    """A server-sent events client of a served app, with the in-process stream's shape."""

    def __init__(self, client: Any, url: str, headers: dict[str, str],
                 on_frame: Frame) -> None:
        self._client, self._url, self._headers = client, url, headers
        self._on_frame = on_frame
        self._reader: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False

    async def open(self) -> None:
        """Send the request and wait for a 200; :class:`WebSocketRefused` if not."""
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name=f"sse reader {self._url}", context=contextvars.Context())
        await asyncio.wait_for(asyncio.shield(self._started), 10.0)

    async def _read(self) -> None:
        data: list[str] = []
        try:
            async with self._client.stream("GET", self._url, headers=self._headers,
                                           timeout=None) as response:
                if response.status_code != 200:
                    self._started.set_exception(
                        WebSocketRefused(response.status_code, "answered"))
                    return
                self._started.set_result(None)
                async for line in response.aiter_lines():
                    if not line:
                        if data:
                            self._on_frame("\n".join(data))
                        data = []
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
        except Exception as exc:  # the server went away: the stream is over
            if not self._started.done():
                self._started.set_exception(WebSocketRefused(None, f"cannot connect: {exc}"))
        finally:
            self.closed = True

    async def aclose(self) -> None:
        """Stop reading and close the response."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait({self._reader}, timeout=2.0)
