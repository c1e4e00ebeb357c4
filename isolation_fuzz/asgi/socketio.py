"""The socket.io client protocol, spoken in process to an app's socket.io server.

Design note.  python-socketio's ASGI app (and any Engine.IO v4 server) is reached
the way its own JavaScript client reaches it over a WebSocket: the WebSocket opens
on the socket.io path with ``EIO=4&transport=websocket``, the server sends its
Engine.IO open packet, the client asks to join a namespace with a CONNECT packet
carrying its ``auth`` payload, and the server answers CONNECT with the
connection's ``sid``, or CONNECT_ERROR (a refusal: the app's connect handler said
no).  From then on every EVENT packet of the namespace is handed on as
``{"event": name, "data": payload}`` (``data`` is the list of arguments when
there are several), so a description names a frame's fields as ``event`` or
``data.type``.  Pings are answered, so a long example does not time out.

Nothing of python-socketio is imported: the protocol is the contract, and an app
on another Engine.IO server speaks it too.  The WebSocket underneath is
:class:`~isolation_fuzz.asgi.wire.WebSocketSession`, so the app's handlers run on
the campaign loop like every other part of it; over real sockets it is
:class:`~isolation_fuzz.asgi.sockets.RealWebSocket`, and nothing here changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from isolation_fuzz.asgi.wire import WebSocketRefused

__all__ = ["ENGINE_IO_QUERY", "Socket", "SocketIOSession"]


class Socket(Protocol):
    """A WebSocket client as the sessions here use it (in process or real)."""

    closed: bool

    async def open(self) -> None: ...

    def send(self, text: str) -> None: ...

    async def aclose(self) -> None: ...

#: The query a socket.io WebSocket opens with (Engine.IO 4, straight to WebSocket).
ENGINE_IO_QUERY = (("EIO", "4"), ("transport", "websocket"))

# Engine.IO packet types, and socket.io's inside an Engine.IO message.
_OPEN, _CLOSE, _PING, _PONG, _MESSAGE = "0", "1", "2", "3", "4"
_CONNECT, _DISCONNECT, _EVENT, _CONNECT_ERROR = "0", "1", "2", "4"


def _split(packet: str) -> tuple[str, str, Any]:
    """A socket.io packet as (type, namespace, JSON payload or None)."""
    kind, rest = packet[:1], packet[1:]
    if "-" in rest[:4] and rest[:1].isdigit():  # binary attachments: not agent events
        return kind, "", None
    namespace = "/"
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    while rest[:1].isdigit():  # an ack id
        rest = rest[1:]
    try:
        return kind, namespace, json.loads(rest) if rest else None
    except ValueError:
        return kind, namespace, None


class SocketIOSession:
    """One socket.io connection to an app's namespace, served in process.

    Args:
        socket: Makes the WebSocket on the socket.io path (see ``ENGINE_IO_QUERY``)
            from a frame callback: in process (``wire.WebSocketSession``) or real.
        namespace: The namespace to join (``/`` by default).
        auth: The CONNECT packet's ``auth`` payload (where a token often goes), or None.
        names: The event names to hand on; empty hands on every event.
        on_frame: Called with each event as ``{"event": name, "data": payload}``.
    """

    def __init__(self, socket: Callable[[Callable[[str | bytes], None]], Socket],
                 namespace: str, auth: Mapping[str, Any] | None, names: tuple[str, ...],
                 on_frame: Callable[[Any], None]) -> None:
        self._namespace, self._auth, self._names = namespace, auth, names
        self._on_frame = on_frame
        self._socket = socket(self._packet)
        loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = loop.create_future()
        self._joined: asyncio.Future[str] = loop.create_future()
        self.sid = ""

    def _packet(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            return  # a binary attachment
        kind, body = frame[:1], frame[1:]
        if kind == _OPEN and not self._opened.done():
            self._opened.set_result(None)
        elif kind == _PING:
            self._socket.send(_PONG + body)
        elif kind == _CLOSE:
            self._refuse("the server closed the Engine.IO session")
        elif kind == _MESSAGE:
            self._message(body)

    def _message(self, packet: str) -> None:
        kind, namespace, payload = _split(packet)
        if namespace != self._namespace:
            return
        if kind == _CONNECT and not self._joined.done():
            sid = payload.get("sid") if isinstance(payload, dict) else None
            self._joined.set_result(str(sid or ""))
        elif kind == _CONNECT_ERROR:
            said = payload.get("message") if isinstance(payload, dict) else payload
            self._refuse(f"connect error: {said}")
        elif kind == _DISCONNECT:
            self._refuse("the server disconnected the namespace")
        elif kind == _EVENT and isinstance(payload, list) and payload:
            name, *args = payload
            if self._names and name not in self._names:
                return
            self._on_frame({"event": name, "data": args[0] if len(args) == 1 else args})

    def _refuse(self, reason: str) -> None:
        for future in (self._opened, self._joined):
            if not future.done():
                future.set_exception(WebSocketRefused(None, reason))

    async def open(self) -> None:
        """Open the WebSocket, join the namespace; :class:`WebSocketRefused` if refused."""
        try:
            await self._socket.open()
            await self._wait(self._opened)
            head = "" if self._namespace == "/" else self._namespace + ","
            auth = "" if self._auth is None else json.dumps(dict(self._auth))
            self._socket.send(_MESSAGE + _CONNECT + head + auth)
            self.sid = await self._wait(self._joined)
        except WebSocketRefused:
            await self.aclose()
            raise

    async def _wait(self, future: asyncio.Future[Any]) -> Any:
        # The server may close the socket instead of answering: do not wait forever.
        for _ in range(1000):
            if future.done():
                return future.result()
            if self._socket.closed:
                self._refuse("the server closed the WebSocket")
                return future.result()
            await asyncio.sleep(0)
        done, _ = await asyncio.wait({future}, timeout=10.0)
        if not done:
            raise WebSocketRefused(None, "no answer to the socket.io handshake in 10 s")
        return future.result()

    async def aclose(self) -> None:
        """Leave the namespace and close the WebSocket."""
        if not self._socket.closed:
            head = "" if self._namespace == "/" else self._namespace + ","
            self._socket.send(_MESSAGE + _DISCONNECT + head)
        await self._socket.aclose()
