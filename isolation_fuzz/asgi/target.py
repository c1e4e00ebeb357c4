"""The ASGI app of an :class:`~isolation_fuzz.asgi.spec.AsgiSpec` as a Target.

Design note.  Nothing here knows the app: a run is the declared requests, one per
tool call, made through httpx's ASGI transport as whoever the token says (the
token placed where the app reads it); a connection is a WebSocket served in
process whose JSON frames become events by the declared field paths.  The answers
are read as the contract wants them: a refusal status (401 and 403 unless
declared) raises :class:`~isolation_fuzz.errors.Refused`, which the engine counts
``refused`` for a valid identity and ``rejected`` for a forged one; a status the
route declares ``absent`` is "no such item" (``recall`` gives None); any other
error status fails the run, naming the request and what the app said.

The app is imported after the declared environment is set, because apps read
their settings at import time; a module imported by an earlier campaign of the
same process is imported again, so each campaign's app sees that campaign's
engines.  ``reset`` empties what the app stored under the campaign's namespace
(the tables of its Postgres schema and ClickHouse database, the keys under its
Redis prefix) and then calls the declared reset route, if any.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from isolation_fuzz.asgi.connections import Connections, placed
from isolation_fuzz.asgi.login import LoginTokens
from isolation_fuzz.asgi.records import AsgiSpec, Route
from isolation_fuzz.asgi.setup import auth_config, empty_namespace, environ, environment, load_app
from isolation_fuzz.asgi.sockets import serve
from isolation_fuzz.asgi.templates import MissingField, fill, fill_path, pick
from isolation_fuzz.asgi.wire import Lifespan
from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.errors import MissingDependency, Refused
from isolation_fuzz.kit import QueueEventStream, ServiceHandles, Verification
from isolation_fuzz.model import Plan, ToolCall
from isolation_fuzz.tokens import AuthConfig

__all__ = ["AppRequestFailed", "AsgiTarget", "asgi_factory"]


class AppRequestFailed(RuntimeError):
    """A request of a run got an error status that means neither refusal nor absence."""


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise MissingDependency("httpx", extra="asgi") from exc
    return httpx


def _subject(token: str, claim: str) -> str:
    """The user id a token names, read without verifying (it is the fuzzer's own token)."""
    import jwt

    try:
        value = jwt.decode(token, options={"verify_signature": False}).get(claim)
    except jwt.PyJWTError:
        return ""
    return value if isinstance(value, str) else ""


class AsgiTarget:
    """One ASGI app, driven through its own routes and WebSocket."""

    def __init__(self, spec: AsgiSpec, app: Any, auth: AuthConfig,
                 handles: ServiceHandles, served: str | None = None) -> None:
        # ``served``: the base URL of the app on a real server (``--transport websocket``).
        httpx = _httpx()
        self.spec, self.app, self.auth, self.handles = spec, app, auth, handles
        if served is None:
            self.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://app.test",
            )
        else:
            self.client = httpx.AsyncClient(base_url=served, timeout=30.0)
        self.connections = Connections(
            spec, app, None if served is None else (served, self.client))
        self.capabilities = _capabilities(spec)
        self.logins: LoginTokens | None = None
        if spec.credentials.login is not None:
            self.logins = LoginTokens(self._login, Verification.of(auth),
                                      spec.credentials.subject_claim)

    async def _login(self, user: str) -> str:
        """The app's own token for ``user``, from its login route."""
        credentials = self.spec.credentials
        route = credentials.login
        assert route is not None
        values = {"user": user, "run": "", "thread": "", "connection": ""}
        response = await self.client.request(
            route.method, fill_path(route.path, values),
            params={k: fill(v, values) for k, v in route.query} or None,
            json=None if route.json is None else fill(route.json, values),
        )
        said = f"login {route.method} {route.path} for user {user!r}"
        if response.status_code in self.spec.refusal:
            raise Refused(f"{said} answered {response.status_code}")
        if response.status_code >= 400:
            raise AppRequestFailed(f"{said} answered {response.status_code}: "
                                   f"{response.text[:200]}")
        where = credentials.login_token
        if where.startswith("cookie:"):
            token = response.cookies.get(where[len("cookie:"):])
        else:
            try:
                token = pick(response.json(), where)
            except (ValueError, MissingField):
                token = None
        if not isinstance(token, str) or not token:
            raise AppRequestFailed(f"{said}: the answer has no token at {where!r}; fix "
                                   "credentials.login.token")
        return token

    async def _app_token(self, token: str) -> str:
        return token if self.logins is None else await self.logins.translate(token)

    # -- requests ------------------------------------------------------------------

    async def _request(self, route: Route, token: str | None, values: Mapping[str, str]) -> Any:
        if token is not None:
            token = await self._app_token(token)
        where = placed(token, self.spec.credentials.http) if token is not None else {}
        headers = {k: fill(v, values) for k, v in self.spec.headers}
        headers.update(where.get("headers", {}))
        params = {k: fill(v, values) for k, v in route.query}
        params.update(where.get("params", {}))
        path = fill_path(route.path, values)
        body = None if route.json is None else fill(route.json, values)
        response = await self.client.request(
            route.method, path, params=params or None, headers=headers, json=body,
        )
        said = f"{route.method} {route.path}"
        if response.status_code in self.spec.refusal:
            raise Refused(f"{said} answered {response.status_code}")
        if response.status_code in route.absent:
            return None
        if response.status_code >= 400:
            raise AppRequestFailed(
                f"{said} answered {response.status_code}: {response.text[:200]}"
            )
        if not response.content:
            return None
        try:
            data = response.json()
        except ValueError:
            data = response.text
        try:
            return pick(data, route.result)
        except MissingField as exc:
            raise AppRequestFailed(f"{said}: the answer has {exc}; fix its result path") from None

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        """``plan`` as the declared requests: one per tool call, or one for the run."""
        user = _subject(token, self.auth.subject_claim)
        tab = self.connections.starting(user, run_id) if self.spec.events else ""
        base = {"user": user, "run": run_id, "thread": thread_id, "connection": tab}
        if self.spec.run is None:
            assert self.spec.routes is not None
            return [await self._request(self.spec.routes[call.tool], token,
                                        {**base, **_arguments(call)}) for call in plan]
        declared = self.spec.run
        calls = [fill(declared.tools[call.tool], _arguments(call)) for call in plan]
        answer = await self._request(declared.route, token, {**base, "plan": calls})  # type: ignore[dict-item]
        said = f"{declared.route.method} {declared.route.path}"
        try:
            results = pick(answer, declared.results)
        except MissingField as exc:
            raise AppRequestFailed(f"{said}: the answer has {exc}; fix run.results") from None
        if not isinstance(results, list) or len(results) != len(plan):
            raise AppRequestFailed(
                f"{said}: run.results should be a list of {len(plan)} results (one per tool "
                f"call), got {_brief(results)}"
            )
        try:
            return [pick(item, declared.result) for item in results]
        except MissingField as exc:
            raise AppRequestFailed(f"{said}: a result has {exc}; fix run.result") from None

    # -- events --------------------------------------------------------------------

    async def connect(self, token: str) -> QueueEventStream:
        """A connection as whoever ``token`` says; a refusal is an AuthError."""
        user = _subject(token, self.auth.subject_claim)
        return await self.connections.open(await self._app_token(token), user)

    # -- the rest of the contract ------------------------------------------------------

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return {}

    async def reset(self) -> None:
        """Empty what the app stored under the campaign's namespace, then its reset route."""
        await empty_namespace(self.handles, self.spec.stores)
        if self.spec.reset is not None:
            blank = {"user": "", "run": "", "thread": "", "connection": ""}
            await self._request(self.spec.reset, None, blank)

    async def aclose(self) -> None:
        await self.client.aclose()


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _arguments(call: ToolCall) -> dict[str, str]:
    out = {}
    if call.key is not None:
        out["key"] = call.key
    if call.value is not None:
        out["value"] = call.value
    return out


def _capabilities(spec: AsgiSpec) -> Capabilities:
    # The app has one data space, whichever engines hold it: plans draw one store
    # (the first declared), and the other engines run as its services, so a note
    # written "to postgres" is not expected to be missing when read "from redis".
    data, others = spec.stores[:1], spec.stores[1:]
    events = spec.events
    declared: dict[str, Any] = {
        "stores": data, "services": others, "data_scope": spec.data_scope,
        "user_ids": _matcher(spec.user_ids), "thread_ids": _matcher(spec.thread_ids),
    }
    if events is not None:
        declared.update(event_kinds=events.kinds, begin_kinds=events.begin, end_kinds=events.end,
                        event_routing=events.routing)
    return Capabilities(**declared)


def _matcher(pattern: str | None) -> Callable[[str], bool] | None:
    """A predicate that a whole id matches ``pattern`` (None for no rule)."""
    if pattern is None:
        return None
    compiled = re.compile(pattern)

    def matches(uid: str) -> bool:
        return compiled.fullmatch(uid) is not None

    matches.__name__ = f"matches {pattern!r}"
    return matches


@asynccontextmanager
async def _served(app: Any, target_spec: Any) -> AsyncIterator[str | None]:
    """The app on a real loopback server for ``--transport websocket``, else in process."""
    if getattr(target_spec, "transport", "local") != "websocket":
        yield None
        return
    async with serve(app) as url:
        yield url


def asgi_factory(spec: AsgiSpec) -> Any:
    """A target factory for ``spec``, carrying its capabilities and its auth config."""

    @asynccontextmanager
    async def open_app(
        target_spec: Any, services: Any, auth: AuthConfig
    ) -> AsyncIterator[AsgiTarget]:
        handles = ServiceHandles.of(services)
        with environ(environment(spec, handles, auth)):
            app = load_app(spec)
            lifespan = Lifespan(app)
            if spec.lifespan:
                await lifespan.start()
            try:
                async with _served(app, target_spec) as served:
                    target = AsgiTarget(spec, app, auth, handles, served)
                    try:
                        yield target
                    finally:
                        await target.aclose()
            finally:
                await lifespan.stop()

    open_app.capabilities = _capabilities(spec)  # type: ignore[attr-defined]
    open_app.auth_config = lambda: auth_config(spec)  # type: ignore[attr-defined]
    return open_app
