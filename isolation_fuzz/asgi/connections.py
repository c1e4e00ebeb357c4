"""An ASGI app's event connections: WebSocket, SSE or socket.io, and which tab is whose.

Design note.  A connection is opened as whoever the token says, with the token
placed where the app reads it, and each frame becomes an :class:`Event` by the
declared field paths.  Real systems route a run's events in one of two ways, and
the description says which (``events.routing``):

* ``user``: to every connection of the run's user.
* ``connection``: only to the tab the run came from.  The fuzzer then runs through
  a tab chosen by a rule the oracle knows too (the user's newest connection still
  open), and the run's request names that tab by ``{connection}``: socket.io's
  ``sid``, or the id the app gave the tab in a frame (``events.connection``).

A frame that carries no run id is attributed to the run whose request produced it
on that connection: the latest run started through it (``user`` routing: the
user's latest run).  That is exact while a tab has one run at a time, as a tab has.
Every connection keeps its own numbering, so without a declared ``seq`` a frame's
number is its arrival rank on its connection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from isolation_fuzz.asgi.records import AsgiSpec, Events, Placement
from isolation_fuzz.asgi.socketio import ENGINE_IO_QUERY, SocketIOSession
from isolation_fuzz.asgi.sockets import QUIET, RealEventSource, RealWebSocket
from isolation_fuzz.asgi.templates import MissingField, fill, pick
from isolation_fuzz.asgi.wire import App, EventSource, WebSocketRefused, WebSocketSession
from isolation_fuzz.errors import AuthError, UsageError
from isolation_fuzz.kit import EventNumbering, QueueEventStream
from isolation_fuzz.model import Event

__all__ = ["Connections", "placed"]

# What a browser's WebSocket upgrade carries; Engine.IO checks it.
_UPGRADE = [(b"connection", b"Upgrade"), (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13")]


def placed(token: str, placement: Placement) -> dict[str, Any]:
    """Where ``token`` goes, as keyword arguments: headers, params, subprotocols or auth."""
    credential = placement.format.replace("{token}", token)
    if placement.where == "header":
        return {"headers": {placement.name: credential}}
    if placement.where == "cookie":
        return {"headers": {"cookie": f"{placement.name}={credential}"}}
    if placement.where == "query":
        return {"params": {placement.name: credential}}
    if placement.where == "auth":
        return {"auth": {placement.name: credential}}
    return {"subprotocols": [credential]}


@dataclass
class _Tab:
    """One open connection: its stream, the app's id for it, the run it serves now."""

    stream: QueueEventStream
    app_id: str = ""
    run: str | None = None
    frames: int = 0  # how many arrived: over real sockets, settled when it stops rising


class Connections:
    """The open connections of one app, by user, newest last."""

    def __init__(self, spec: AsgiSpec, app: App, served: tuple[str, Any] | None = None) -> None:
        # ``served``: the base URL of the app on a real server, and an httpx client.
        self.spec, self.app, self.served = spec, app, served
        self._ids = itertools.count(1)
        self._tabs: dict[str, list[_Tab]] = {}

    @property
    def events(self) -> Events:
        if self.spec.events is None:
            raise UsageError("the app declares no events table, so it cannot be connected to")
        return self.spec.events

    def starting(self, user: str, run_id: str) -> str:
        """Note that ``user`` starts ``run_id``; the id of the tab it goes through, or ''."""
        tabs = [tab for tab in self._tabs.get(user, []) if not tab.stream.closed]
        self._tabs[user] = tabs
        if not tabs:
            return ""
        chosen = tabs[-1:] if self.events.routing == "connection" else tabs
        for tab in chosen:
            tab.run = run_id
        return tabs[-1].app_id

    async def open(self, token: str, user: str) -> QueueEventStream:
        """A connection as whoever ``token`` (the app's own) says; a refusal is an AuthError."""
        events = self.events
        kind = "sse" if events.sse else "sio" if events.socketio else "ws"
        credentials = self.spec.credentials
        where = placed(token, credentials.http if kind == "sse" else credentials.websocket)
        query = dict(ENGINE_IO_QUERY) if kind == "sio" else {}
        query.update({k: fill(v, {"user": user}) for k, v in events.query})
        query.update(where.get("params", {}))
        headers = [(b"host", b"app.test")] + [
            (k.lower().encode(), str(v).encode()) for k, v in where.get("headers", {}).items()
        ]
        path = events.sse or events.socketio or events.websocket
        assert path is not None
        scope: dict[str, Any] = {
            "asgi": {"version": "3.0"}, "http_version": "1.1", "path": path,
            "raw_path": path.encode(), "query_string": urlencode(query).encode(),
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
            "server": ("app.test", 80), "state": {},
        }
        if kind == "sse":
            scope.update(type="http", method="GET", scheme="http")
            headers.append((b"accept", b"text/event-stream"))
        else:
            scope.update(type="websocket", scheme="ws",
                         subprotocols=where.get("subprotocols", []))
            headers.extend(_UPGRADE)
        numbering = EventNumbering()
        tab: _Tab

        def received(frame: Any) -> None:
            tab.frames += 1
            event = self._event(frame, user, tab, numbering)
            if event is not None:
                tab.stream.put(event)

        def decoded(frame: str | bytes) -> None:
            received(_decoded(frame))

        def websocket(on_frame: Callable[[str | bytes], None]) -> Any:
            if self.served is None:
                return WebSocketSession(self.app, scope, on_frame)
            return RealWebSocket(_url(self.served[0], scope, "ws"), _plain(headers),
                                 scope["subprotocols"], on_frame)

        session: Any
        if kind == "sio":
            session = SocketIOSession(websocket, events.namespace, where.get("auth"),
                                      events.names, received)
        elif kind == "ws":
            session = websocket(decoded)
        elif self.served is None:
            session = EventSource(self.app, scope, decoded)
        else:
            session = RealEventSource(self.served[1], _url(self.served[0], scope, "http"),
                                      _plain(headers), decoded)
        settle = _settle if self.served is None else _quiet(lambda: tab.frames)
        tab = _Tab(QueueEventStream(f"{kind}-{next(self._ids)}", flush=settle,
                                    on_close=session.aclose))
        try:
            await session.open()
        except WebSocketRefused as exc:
            what = {"sse": "event stream", "sio": "socket.io connection", "ws": "WebSocket"}
            raise AuthError(f"the app refused the {what[kind]}: {exc}") from None
        if isinstance(session, SocketIOSession):
            tab.app_id = session.sid
        self._tabs.setdefault(user, []).append(tab)
        return tab.stream

    def _event(self, data: Any, user: str, tab: _Tab, numbering: EventNumbering) -> Event | None:
        events = self.events
        if data is None:
            return None  # not JSON: no agent event (a ping, a greeting)
        named = _field(data, events.connection)
        if isinstance(named, str) and named and not tab.app_id:
            tab.app_id = named  # the app told the tab its id
        kind = _field(data, events.kind)
        if not isinstance(kind, str) or kind in events.ignore:
            return None
        run = _field(data, events.run) if events.run is not None else tab.run
        if not isinstance(run, str):
            return None  # no run to attribute it to: a frame of the connection itself
        owner = _field(data, events.user)
        seq = _field(data, events.seq)
        return Event(
            kind, owner if isinstance(owner, str) else user,
            str(_field(data, events.thread) or ""), run,
            seq if isinstance(seq, int) and not isinstance(seq, bool) else numbering.next(run),
            data if isinstance(data, dict) else {"frame": data},
        )


def _decoded(frame: str | bytes) -> Any:
    try:
        return json.loads(frame)
    except ValueError:
        return None


def _url(base: str, scope: dict[str, Any], scheme: str) -> str:
    query = scope["query_string"].decode()
    root = base.replace("http", scheme, 1)
    return f"{root}{scope['path']}" + (f"?{query}" if query else "")


def _plain(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers a real client sends of its own accord left out (host, upgrade)."""
    own = {b"host", b"connection", b"upgrade", b"sec-websocket-version"}
    return {k.decode(): v.decode() for k, v in headers if k not in own}


def _quiet(count: Callable[[], int]) -> Callable[[], Awaitable[None]]:
    """Settled over real sockets: no new frame for ``QUIET`` seconds (at most 2 s)."""
    async def settle() -> None:
        seen, waited = count(), 0.0
        while waited < 2.0:
            await asyncio.sleep(QUIET)
            waited += QUIET
            now = count()
            if now == seen:
                return
            seen = now

    return settle


async def _settle() -> None:
    # Frames sent from a run's task arrive as they are sent; a handler that forwards
    # through a task of its own (socket.io's writer) needs a few loop passes.
    for _ in range(8):
        await asyncio.sleep(0)


def _field(data: Any, path: str | None) -> Any:
    if path is None:
        return None
    try:
        return pick(data, path)
    except MissingField:
        return None

