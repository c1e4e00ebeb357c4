"""An ASGI app described in ``[tool.isolation-fuzz.asgi]``: the records and their checks.

Design note.  A user describes their app once, in TOML, in the words of their app:
where its token goes and how it is signed, which request does what with a user's
data, where its events arrive and what a frame's fields mean, what a refusal looks
like.  Everything is checked here, before any engine starts, and the first thing
wrong is one line naming the table, the key and the bad value (exit 2): a
description the fuzzer half-understood would fuzz the wrong thing and call it clean.

The reader is strict on purpose: an unknown key is an error (a misspelt
``refusal`` table must not silently mean "no refusals"), templates may name only
the placeholders their request can fill, and a route must carry what its tool
needs (``remember`` sends ``{value}``; ``recall`` and ``forget`` name ``{key}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from isolation_fuzz.asgi._table import Table as _Table
from isolation_fuzz.asgi._table import placeholders as _placeholders
from isolation_fuzz.asgi.records import (
    AsgiSpec,
    Credentials,
    Events,
    Placement,
    Route,
    RunRoute,
)
from isolation_fuzz.capabilities import DATA_SCOPES, EVENT_ROUTINGS
from isolation_fuzz.model import CORE_TOOLS, STORES
from isolation_fuzz.tokens import ALGORITHMS

__all__ = ["ENV_PLACEHOLDERS", "parse_spec"]

TABLE = "tool.isolation-fuzz.asgi"

#: What an ``env`` value may name, and the store each needs running (None: always).
ENV_PLACEHOLDERS: Mapping[str, str | None] = {
    "redis_url": "redis", "redis_prefix": "redis",
    "postgres_dsn": "postgres", "postgres_admin_dsn": "postgres", "postgres_schema": "postgres",
    "clickhouse_url": "clickhouse", "clickhouse_database": "clickhouse",
    "namespace": None, "jwt_key": None,
}

#: What a request template may name, per tool (``{user}`` and ``{run}`` always).
_REQUEST_PLACEHOLDERS = {
    "remember": {"thread", "key", "value"}, "recall": {"thread", "key"},
    "forget": {"thread", "key"}, "list": {"thread"}, "aggregate": {"thread"},
}
_ALWAYS = {"user", "run", "connection"}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")



def _check_placeholders(t: _Table, key: str, template: object, allowed: set[str]) -> None:
    stray = sorted(_placeholders(template) - allowed)
    if stray:
        t.fail(key, template, f"names {{{stray[0]}}}; it may name "
                              f"{', '.join('{' + a + '}' for a in sorted(allowed))}")


def _route(t: _Table, tool: str | None, extra: frozenset[str] = frozenset()) -> Route:
    allowed = _ALWAYS | extra | (_REQUEST_PLACEHOLDERS[tool] if tool else set())
    method = t.text("method", required=True).upper()
    if method not in _METHODS:
        t.fail("method", method, f"is not one of {', '.join(_METHODS)}")
    path = t.text("path", required=True)
    if not path.startswith("/"):
        t.fail("path", path, "must start with /")
    _check_placeholders(t, "path", path, allowed)
    query = t.pairs("query")
    _check_placeholders(t, "query", dict(query), allowed)
    body = t.get("json")
    if body is not None and not isinstance(body, Mapping | list):
        t.fail("json", body, "wants a table (the JSON body, with placeholders in strings)")
    _check_placeholders(t, "json", body, allowed)
    result = t.text("result") if "plan" not in extra else None
    absent = t.statuses("absent", ()) if "plan" not in extra else ()
    if "plan" not in extra:
        t.done()  # a run route has keys of its own still to read
    named = _placeholders(path) | _placeholders(dict(query)) | _placeholders(body)
    if tool is not None:
        for needed in sorted(_REQUEST_PLACEHOLDERS[tool] - {"thread"}):
            if needed not in named:
                t.fail(None, None, f"{tool} must send {{{needed}}} in its path, query or json")
    return Route(method, path, query, body, result, absent)


def _placement(t: _Table, prefix: str, default: Placement, choices: tuple[str, ...]) -> Placement:
    where = t.choice(f"{prefix}in", choices, default.where)
    defaults = {"header": ("Authorization", "Bearer {token}"),
                "cookie": ("access_token", "{token}"), "query": ("token", "{token}"),
                "subprotocol": ("", "{token}"), "auth": ("token", "{token}")}
    name = t.text(f"{prefix}name", default=defaults[where][0] if where != default.where
                  else default.name)
    form = t.text(f"{prefix}format", default=defaults[where][1] if where != default.where
                  else default.format)
    if "{token}" not in form:
        t.fail(f"{prefix}format", form, "must contain {token}")
    if where != "subprotocol" and not name:
        t.fail(f"{prefix}name", name, f"names no {where}")
    return Placement(where, name, form)  # type: ignore[arg-type]


def _credentials(t: _Table | None, read: Callable[[str], str]) -> Credentials:
    if t is None:
        return Credentials()
    algorithm = t.choice("algorithm", ALGORITHMS, "HS256")
    secret = t.text("secret")
    if secret is not None and secret.startswith("env:"):
        import os

        name = secret[4:]
        secret = os.environ.get(name)
        if not secret:
            t.fail("secret", None, f"names the environment variable {name!r}, which is unset")
    key_file = t.text("private-key-file")
    if secret is not None and algorithm != "HS256":
        t.fail("secret", "…", f"is for HS256; {algorithm} signs with private-key-file")
    if key_file is not None and algorithm == "HS256":
        t.fail("private-key-file", key_file, "is for RS256, ES256 and EdDSA; HS256 takes secret")
    private = None
    if key_file is not None:
        try:
            private = read(key_file)
        except OSError as exc:
            t.fail("private-key-file", key_file, f"cannot be read: {exc.strerror or exc}")
    lifetime = t.get("lifetime", 3600)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 60:
        t.fail("lifetime", lifetime, "wants whole seconds, at least 60")
    claims = t.get("claims", {})
    if not isinstance(claims, Mapping):
        t.fail("claims", claims, "wants a table of claim names to values")
    reserved = sorted({"exp", "iat", "nbf", "iss", "aud"} & set(claims))
    if reserved:
        t.fail("claims", claims, f"sets {reserved[0]!r}, which the fuzzer sets (and forges)")
    _check_placeholders(t, "claims", claims, {"user"})
    http = _placement(t, "", Placement(), ("header", "cookie", "query"))
    socket = _placement(t, "websocket-", http,
                        ("header", "cookie", "query", "subprotocol", "auth"))
    subject = t.text("subject-claim", default="sub")
    if subject in claims:
        t.fail("claims", claims, f"sets {subject!r}, the subject claim the user id goes in")
    login, login_token = None, "access_token"
    login_table = t.sub("login")
    if login_table is not None:
        if secret is not None or key_file is not None:
            t.fail("login", "…", "issues the app's own tokens; leave out secret and "
                   "private-key-file (the fuzzer cannot know the app's key then)")
        login_token = login_table.text("token", default="access_token")
        login = _route(login_table, None)
        if "user" not in _placeholders(login.path) | _placeholders(dict(login.query)) | \
                _placeholders(login.json):
            login_table.fail(None, None, "must send {user} (whom to log in) in its path, "
                             "query or json")
    out = Credentials(
        algorithm, secret, private, t.text("issuer"), t.text("audience"), subject,
        tuple(claims.items()), lifetime, http, socket, login, login_token,
    )
    t.done()
    return out


def _events(t: _Table | None) -> Events | None:
    if t is None:
        return None
    paths = {key: t.text(key) for key in ("websocket", "sse", "socketio")}
    given = [key for key, route in paths.items() if route is not None]
    if len(given) != 1:
        t.fail(None, None, "needs one of websocket (a WebSocket path), sse (a server-sent "
               "events route) or socketio (a socket.io path)"
               + (f", not {' and '.join(given)}" if given else ""))
    for key, route in paths.items():
        if route is not None and not route.startswith("/"):
            t.fail(key, route, "must start with /")
    socketio = paths["socketio"] is not None
    kinds = t.names("kinds", required=True)
    begin = t.names("begin", required=True)
    end = t.names("end", required=True)
    for what, chosen in (("begin", begin), ("end", end)):
        stray = [k for k in chosen if k not in kinds]
        if stray:
            t.fail(what, list(chosen), f"{stray[0]!r} is not among kinds ({', '.join(kinds)})")
    if set(begin) & set(end):
        t.fail("end", list(end), "a kind cannot both begin and end a run")
    query = t.pairs("query")
    _check_placeholders(t, "query", dict(query), {"user"})
    namespace, names = t.text("namespace", default="/"), t.names("names")
    if not socketio:
        for key, value in (("namespace", namespace != "/"), ("names", names)):
            if value:
                t.fail(key, namespace if key == "namespace" else list(names),
                       "is for socket.io; it goes with socketio, not " + given[0])
    elif not namespace.startswith("/"):
        t.fail("namespace", namespace, "must start with / (the default namespace is /)")
    routing = t.choice("routing", EVENT_ROUTINGS, "user")
    connection = t.text("connection")
    if connection is not None and socketio:
        t.fail("connection", connection, "is socket.io's sid already; leave it out")
    out = Events(
        paths["websocket"], t.text("kind", default="type"), kinds, begin, end, t.text("run"),
        t.text("thread"), t.text("user"), t.text("seq"), t.names("ignore"), query,
        paths["sse"], paths["socketio"], namespace, names, routing, connection,
    )
    t.done()
    return out


def _check_connection(t: _Table, spec: AsgiSpec) -> None:
    """``{connection}`` needs connections, and routing per connection needs it."""
    routes = list((spec.routes or {}).values()) + ([spec.run.route] if spec.run else [])
    named = any("connection" in _placeholders(r.path) | _placeholders(dict(r.query))
                | _placeholders(r.json) for r in routes) \
        or "connection" in _placeholders(dict(spec.headers))
    events = spec.events
    per_connection = events is not None and events.routing == "connection"
    if named and events is None:
        t.fail(None, None, "a request names {connection}, the tab a run goes through, but "
               "there is no events table")
    if per_connection and not named:
        t.fail(None, None, "routing = 'connection' but no request names {connection}: "
               "say in the run's request which tab it goes through")
    assert events is not None or not per_connection
    if per_connection and events is not None and events.socketio is None \
            and events.connection is None:
        t.fail(None, None, "routing = 'connection' needs connection (the frame field "
               "that names the tab) for a WebSocket or SSE stream")
    if spec.credentials.websocket.where == "auth" and (events is None or events.socketio is None):
        t.fail(None, None, "credentials.websocket-in = 'auth' is socket.io's auth payload; "
               "it needs events.socketio")


def _requests(t: _Table) -> tuple[dict[str, Route] | None, RunRoute | None]:
    """Either ``routes`` (a request per tool call) or ``run`` and ``tools`` (one per run)."""
    routes_table, run_table, tools_table = t.sub("routes"), t.sub("run"), t.sub("tools")
    if (routes_table is None) == (run_table is None):
        t.fail(None, None, "needs either a routes table (a request per tool call) or a run "
               "table with a tools table (one request per run carrying the plan)"
               + (", not both" if routes_table is not None else ""))
    if routes_table is not None:
        if tools_table is not None:
            t.fail(None, None, "has a tools table, which goes with run, not with routes")
        routes: dict[str, Route] = {}
        for tool in CORE_TOOLS:
            sub = routes_table.sub(tool)
            if sub is None:
                routes_table.fail(None, None, f"needs {tool} (the request that does it)")
            assert sub is not None
            routes[tool] = _route(sub, tool)
        routes_table.done()
        return routes, None
    assert run_table is not None
    route = _route(run_table, None, frozenset({"thread", "plan"}))
    if "plan" not in _placeholders(route.json) | _placeholders(dict(route.query)):
        run_table.fail(None, None, "must send {plan} (the run's tool calls) in its json or query")
    results, result = run_table.text("results"), run_table.text("result")
    run_table.done()
    if tools_table is None:
        t.fail(None, None, "has a run table but no tools table: the tool call the app "
               "understands for each of " + ", ".join(CORE_TOOLS))
    assert tools_table is not None
    tools: dict[str, Any] = {}
    for tool in CORE_TOOLS:
        template = tools_table.get(tool)
        if template is None:
            tools_table.fail(None, None, f"needs {tool} (the tool call the app understands)")
        if not isinstance(template, Mapping | str):
            tools_table.fail(tool, template, "wants a table (the tool call as JSON)")
        allowed = _REQUEST_PLACEHOLDERS[tool] - {"thread"}
        _check_placeholders(tools_table, tool, template, allowed)
        missing = sorted(allowed - _placeholders(template))
        if missing:
            tools_table.fail(tool, template, f"must send {{{missing[0]}}}")
        tools[tool] = template
    tools_table.done()
    return None, RunRoute(route, tools, results, result)


def _app(t: _Table) -> str:
    app = t.text("app", required=True)
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", app):
        t.fail("app", app, "wants an import path module:attribute, such as 'myapp.main:app'")
    return str(app)


def parse_spec(
    table: object, source: str = "", *, read: Callable[[str], str] | None = None
) -> AsgiSpec:
    """Check ``table`` (the ``asgi`` table of ``[tool.isolation-fuzz]``) and build the spec.

    ``read`` reads a file the table names (a private key), relative to the project.

    Raises:
        UsageError: the first thing wrong, in one line naming the table and key.
    """
    t = _Table(table, TABLE, source)
    app = _app(t)
    stores = t.names("stores", required=True, allowed=STORES)
    env = t.pairs("env")
    for name, template in env:
        for placeholder in sorted(_placeholders(template)):
            if placeholder not in ENV_PLACEHOLDERS:
                t.fail("env", dict(env), f"{name} names {{{placeholder}}}; it may name "
                       + ", ".join("{" + p + "}" for p in ENV_PLACEHOLDERS))
            needs = ENV_PLACEHOLDERS[placeholder]
            if needs is not None and needs not in stores:
                t.fail("env", dict(env), f"{name} names {{{placeholder}}}, but {needs} is "
                       "not among stores")
    headers = t.pairs("headers")
    _check_placeholders(t, "headers", dict(headers), _ALWAYS | {"thread"})
    user_ids, thread_ids = t.text("user-ids"), t.text("thread-ids")
    for key, pattern in (("user-ids", user_ids), ("thread-ids", thread_ids)):
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                t.fail(key, pattern, f"is not a regular expression: {exc}")
    data_scope = t.choice("data-scope", DATA_SCOPES, "user")
    routes, run = _requests(t)
    reset_table = t.sub("reset")
    refusal = t.sub("refusal")
    statuses: tuple[int, ...] = (401, 403)
    if refusal is not None:
        statuses = refusal.statuses("statuses", statuses)
        refusal.done()
    spec = AsgiSpec(
        app=app, stores=stores, routes=routes, run=run,
        credentials=_credentials(t.sub("credentials"), read or _read_text),
        events=_events(t.sub("events")), factory=t.flag("factory", False),
        lifespan=t.flag("lifespan", True), env=env, headers=headers, refusal=statuses,
        user_ids=user_ids, thread_ids=thread_ids, data_scope=data_scope,
        reset=None if reset_table is None else _route(reset_table, None),
        source=source,
    )
    for tool, route in (routes or {}).items():
        clash = sorted(set(route.absent) & set(statuses))
        if clash:
            t.fail("refusal", list(statuses), f"{clash[0]} is also routes.{tool}.absent; a "
                   "status cannot mean both 'not yours' and 'no such item'")
    _check_connection(t, spec)
    t.done()
    return spec


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()
