"""The ASGI protocol spoken in process: an app's lifespan, and WebSocket sessions.

Design note.  HTTP goes through httpx's ASGI transport, which awaits the app in the
caller's task: a request made by a run runs the app's handler inside that run, so
every await the handler makes is one of the run's interleaving points.  httpx has
no WebSocket, so this module plays the server's half of the WebSocket protocol
itself: the app's handler is a task of its own (it lives as long as the
connection), ``receive`` hands it the client's messages from a queue, and ``send``
keeps what the app sends in arrival order, synchronously, so a frame sent from a
run's task has arrived by the time that task moves on.

The lifespan is the same shape: one task for the campaign, ``startup`` sent once,
``shutdown`` at the end.  An app that raises on the lifespan scope before it
answers does not speak lifespan (Starlette's ``lifespan=None`` apps do); one that
reports ``startup.failed`` or raises after it began failed to start, and that is
the target's failure, shown with its own message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "App", "EventSource", "Lifespan", "Scope", "StartupFailed", "WebSocketRefused",
    "WebSocketSession",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
               Awaitable[None]]


class StartupFailed(RuntimeError):
    """The app's lifespan startup failed; the message is the app's own."""


class WebSocketRefused(Exception):
    """The app closed or denied a WebSocket before accepting it."""

    def __init__(self, code: int | None, reason: str) -> None:
        self.code, self.reason = code, reason
        super().__init__(f"closed before accept (code {code}{', ' + reason if reason else ''})")


class Lifespan:
    """An app's lifespan, run as one task: :meth:`start` then :meth:`stop`."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._answers: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.spoken = True

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        await self._answers.put(message)

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": {}}
        await self._app(scope, self._receive, self._send)

    async def _answer(self) -> Message | None:
        """The app's next lifespan message, or None once its task has ended."""
        assert self._task is not None
        answer = asyncio.ensure_future(self._answers.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if answer.done():
            return answer.result()
        answer.cancel()
        return None

    async def start(self) -> None:
        """Run the startup; :class:`StartupFailed` with the app's message if it fails."""
        self._task = asyncio.create_task(self._run(), name="asgi lifespan")
        await self._inbox.put({"type": "lifespan.startup"})
        answer = await self._answer()
        if answer is None:
            error = self._task.exception()
            if error is None or not self._inbox.empty():
                # Returned without a word, or raised before it read the startup: an
                # app that speaks no lifespan (the ASGI spec lets servers go on).
                self.spoken = False
                return
            raise error
        if answer["type"] == "lifespan.startup.failed":
            # Starlette reports the traceback as text and then re-raises: the error
            # itself, with its frames, says more than the text's last line.
            await asyncio.wait({self._task}, timeout=1.0)
            if self._task.done() and not self._task.cancelled() and self._task.exception():
                raise self._task.exception()  # type: ignore[misc]
            said = (answer.get("message") or "").strip().splitlines()
            raise StartupFailed(said[-1] if said else "lifespan startup failed")

    async def stop(self) -> None:
        """Run the shutdown; raises what the app raised or reported."""
        if self._task is None or not self.spoken:
            return
        if self._task.done():
            self._task.result()
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        answer = await self._answer()
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            raise StartupFailed(answer.get("message") or "lifespan shutdown failed")
        await self._task


class WebSocketSession:
    """One WebSocket connection to an app, served in process.

    Args:
        app: The ASGI app.
        scope: The ``websocket`` scope (path, query string, headers, subprotocols).
        on_frame: Called with each text or bytes frame the app sends, as it sends it.
    """

    def __init__(self, app: App, scope: Scope, on_frame: Callable[[str | bytes], None]) -> None:
        self._app, self._scope, self._on_frame = app, scope, on_frame
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._accepted = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            if not self._accepted.done():
                self._accepted.set_result(None)
        elif kind == "websocket.send":
            text = message.get("text")
            self._on_frame(text if text is not None else message.get("bytes") or b"")
        elif kind == "websocket.close":
            self.closed = True
            if not self._accepted.done():
                self._accepted.set_exception(
                    WebSocketRefused(message.get("code"), message.get("reason") or ""))
        elif kind == "websocket.http.response.start":  # a denial response (403...)
            self.closed = True
            if not self._accepted.done():
                self._accepted.set_exception(WebSocketRefused(message.get("status"), "denied"))

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        finally:
            self.closed = True
            if not self._accepted.done():
                self._accepted.set_exception(WebSocketRefused(None, "the handler returned"))

    async def open(self) -> None:
        """Connect and wait for the app's accept; :class:`WebSocketRefused` if it will not."""
        self._task = asyncio.create_task(self._run(), name=f"websocket {self._scope['path']}")
        await self._inbox.put({"type": "websocket.connect"})
        try:
            await self._accepted
        except WebSocketRefused:
            await self.aclose()
            raise

    def send(self, text: str) -> None:
        """Send a text frame to the app (it reads it at its next ``receive``)."""
        if not self.closed:
            self._inbox.put_nowait({"type": "websocket.receive", "text": text})

    async def aclose(self) -> None:
        """Tell the app the client went away, and let its handler end."""
        await _hang_up(self._task, self._inbox, {"type": "websocket.disconnect", "code": 1000})


async def _hang_up(task: asyncio.Task[None] | None, inbox: asyncio.Queue[Message],
                   goodbye: Message) -> None:
    """Send ``goodbye`` to an app's connection task, give it a second, then end it."""
    if task is None:
        return
    if not task.done():
        await inbox.put(goodbye)
        await asyncio.wait({task}, timeout=1.0)
    if not task.done():
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    except Exception:  # a handler failing as its client leaves is its own business
        return


class EventSource:
    """One server-sent events stream of an app, served in process.

    The request is sent, the app's response is read as it streams: a status other
    than 200 refuses it (:class:`WebSocketRefused`, with the status as its code), and
    each ``data:`` field of an event is handed to ``on_frame`` (several ``data:``
    lines of one event joined by newlines, as the SSE format says).
    """

    def __init__(self, app: App, scope: Scope, on_frame: Callable[[str | bytes], None]) -> None:
        self._app, self._scope, self._on_frame = app, scope, on_frame
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._buffer = b""
        self._data: list[str] = []

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self._started.done():
            status = message.get("status", 200)
            if status == 200:
                self._started.set_result(None)
            else:
                self._started.set_exception(WebSocketRefused(status, "answered"))
        elif message["type"] == "http.response.body":
            self._feed(message.get("body", b""))

    def _feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.replace(b"\r\n", b"\n").split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if not line:  # a blank line ends an event
                if self._data:
                    self._on_frame("\n".join(self._data))
                self._data = []
            elif line.startswith("data:"):
                self._data.append(line[5:].removeprefix(" "))

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        finally:
            if not self._started.done():
                self._started.set_exception(WebSocketRefused(None, "ended before answering"))

    async def open(self) -> None:
        """Send the request and wait for the app's 200; :class:`WebSocketRefused` if not."""
        self._task = asyncio.create_task(self._run(), name=f"sse {self._scope['path']}")
        await self._inbox.put({"type": "http.request", "body": b"", "more_body": False})
        try:
            await self._started
        except WebSocketRefused:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Tell the app the client went away, and let the response end."""
        await _hang_up(self._task, self._inbox, {"type": "http.disconnect"})
