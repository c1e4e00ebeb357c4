"""The records of an ASGI app's description, as ``spec.parse_spec`` builds them.

Frozen and plain: a spec is checked once, when it is read, and then only read.
Secrets (an HS256 secret, a private key) are left out of every repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["AsgiSpec", "Credentials", "Events", "Placement", "Route", "RunRoute"]

Where = Literal["header", "cookie", "query", "subprotocol", "auth"]


@dataclass(frozen=True)
class Placement:
    """Where a credential goes: ``header``, ``cookie``, ``query``, ``subprotocol`` or ``auth``.

    ``name`` is the header, cookie or query parameter (or the key of socket.io's
    ``auth`` payload); ``format`` wraps the token (``"Bearer {token}"`` for an
    ``Authorization`` header).
    """

    where: Where = "header"
    name: str = "Authorization"
    format: str = "Bearer {token}"


@dataclass(frozen=True)
class Credentials:
    """How the app verifies its tokens: the claims, the algorithm and the key."""

    algorithm: str = "HS256"
    secret: str | None = field(default=None, repr=False)  # HS256: the app's own secret
    private_key: str | None = field(default=None, repr=False)  # asymmetric: a PEM
    issuer: str | None = None
    audience: str | None = None
    subject_claim: str = "sub"
    claims: tuple[tuple[str, Any], ...] = ()
    lifetime: int = 3600
    http: Placement = Placement()
    websocket: Placement = Placement()
    login: Route | None = None  # a route that issues the app's own token for {user}
    login_token: str = "access_token"  # its path in the answer, or "cookie:NAME"


@dataclass(frozen=True)
class Route:
    """One request: method, path template, query and JSON body templates, result path."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None
    result: str | None = None
    absent: tuple[int, ...] = ()  # statuses that mean "no such item" (recall: None)


@dataclass(frozen=True)
class RunRoute:
    """One request per run that carries the whole plan (an agent's chat or run endpoint).

    ``route``'s templates may name ``{plan}``: the list of the run's tool calls, each
    made from its ``tools`` template.  ``results`` is the path of the list of the
    calls' results in the answer, in the plan's order; ``result`` picks from each.
    """

    route: Route
    tools: Mapping[str, Any]
    results: str | None = None
    result: str | None = None


@dataclass(frozen=True)
class Events:
    """Where a connection's events arrive and what a frame's fields mean.

    Exactly one of ``websocket``, ``sse`` and ``socketio`` is the path.  A socket.io
    frame is ``{"event": name, "data": payload}``.  ``routing`` says to whom a run's
    events are owed (``user``, or ``connection``: only the tab it ran through, whose
    id fills ``{connection}``: socket.io's sid, or the frame field ``connection``).
    """

    websocket: str | None
    kind: str
    kinds: tuple[str, ...]
    begin: tuple[str, ...]
    end: tuple[str, ...]
    run: str | None = None
    thread: str | None = None
    user: str | None = None
    seq: str | None = None
    ignore: tuple[str, ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    sse: str | None = None  # a server-sent events route, instead of a WebSocket
    socketio: str | None = None  # a socket.io path, instead of a WebSocket
    namespace: str = "/"
    names: tuple[str, ...] = ()  # the socket.io event names that carry events (all: empty)
    routing: str = "user"
    connection: str | None = None  # the frame field that names the tab (not socket.io)


@dataclass(frozen=True)
class AsgiSpec:
    """An ASGI app and everything the fuzzer needs to drive it through its front door."""

    app: str
    stores: tuple[str, ...]
    routes: Mapping[str, Route] | None = None
    run: RunRoute | None = None
    credentials: Credentials = Credentials()
    events: Events | None = None
    factory: bool = False
    lifespan: bool = True
    env: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    refusal: tuple[int, ...] = (401, 403)
    user_ids: str | None = None
    thread_ids: str | None = None
    data_scope: str = "user"
    reset: Route | None = None
    source: str = field(default="", compare=False)
