"""The ASGI target drives any ASGI app as declared: tokens, requests, answers, frames.

A small Starlette app (not the FastAPI example) keeps notes per user behind a cookie
or a bearer header, one request per tool call, and streams frames on a WebSocket
that takes its token as a subprotocol.  Each test declares it differently and reads
what the target made of it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from isolation_fuzz import AuthError, Refused, ToolCall
from isolation_fuzz.asgi.setup import auth_config
from isolation_fuzz.asgi.spec import parse_spec
from isolation_fuzz.asgi.target import AppRequestFailed, AsgiTarget, _capabilities
from isolation_fuzz.asgi.wire import Lifespan, StartupFailed
from isolation_fuzz.kit import Verification
from isolation_fuzz.tokens import ALGORITHMS, AuthConfig, forge_token, mint_token

SECRET = "test-secret-of-the-small-app-0123456789"


def _small_app(where: str) -> Starlette:
    notes: dict[tuple[str, str], str] = {}
    sockets: dict[str, list[WebSocket]] = {}

    def who(request: Request) -> str | None:
        raw = (request.cookies.get("session") if where == "cookie"
               else request.headers.get("authorization", "").removeprefix("Bearer "))
        try:
            return str(jwt.decode(raw or "", SECRET, algorithms=["HS256"],
                                  options={"require": ["exp", "uid"]})["uid"])
        except jwt.PyJWTError:
            return None

    async def note(request: Request) -> Response:
        user = who(request)
        if user is None:
            return Response(status_code=401)
        if request.path_params["thread"] == "locked":
            return Response(status_code=403)
        key = request.path_params["key"]
        run = request.headers.get("x-run", "")
        for socket in sockets.get(user, []):
            await socket.send_text(json.dumps({"t": "saved", "meta": {"run": run}}))
        if request.method == "PUT":
            notes[(user, key)] = (await request.json())["body"]["text"]
            return JSONResponse({"ok": True})
        if request.method == "DELETE":
            return JSONResponse({"deleted": notes.pop((user, key), None) is not None})
        if (user, key) not in notes:
            return Response(status_code=404)
        return JSONResponse({"note": {"text": notes[(user, key)]}})

    async def listing(request: Request) -> Response:
        user = who(request)
        if user is None:
            return Response(status_code=401)
        return JSONResponse({"keys": sorted(k for u, k in notes if u == user)})

    async def stream(websocket: WebSocket) -> None:
        token = (websocket.scope.get("subprotocols") or [""])[0]
        try:
            user = str(jwt.decode(token, SECRET, algorithms=["HS256"])["uid"])
        except jwt.PyJWTError:
            await websocket.close(code=4401)
            return
        await websocket.accept(subprotocol=token)
        await websocket.send_text("hello")  # not JSON: no event
        await websocket.send_text(json.dumps({"t": "ping", "meta": {"run": "x"}}))
        sockets.setdefault(user, []).append(websocket)
        try:
            while True:
                await websocket.receive_text()
        except Exception:
            sockets[user].remove(websocket)

    return Starlette(routes=[
        Route("/threads/{thread}/notes/{key}", note, methods=["GET", "PUT", "DELETE"]),
        Route("/threads/{thread}/notes", listing),
        WebSocketRoute("/events", stream),
    ])


def _table(where: str) -> dict[str, Any]:
    note = "/threads/{thread}/notes/{key}"
    return {
        "app": "tests.small:app", "stores": ["redis"],
        "headers": {"X-Run": "{run}"},
        "credentials": {"algorithm": "HS256", "secret": SECRET, "subject-claim": "uid",
                        "in": where, "name": "session" if where == "cookie" else "Authorization",
                        "format": "{token}" if where == "cookie" else "Bearer {token}",
                        "websocket-in": "subprotocol"},
        "routes": {
            "remember": {"method": "PUT", "path": note, "json": {"body": {"text": "{value}"}}},
            "recall": {"method": "GET", "path": note, "result": "note.text", "absent": [404]},
            "forget": {"method": "DELETE", "path": note, "result": "deleted"},
            "list": {"method": "GET", "path": "/threads/{thread}/notes", "result": "keys"},
            "aggregate": {"method": "GET", "path": "/threads/{thread}/notes", "result": "keys"},
        },
        "events": {"websocket": "/events", "kind": "t", "run": "meta.run",
                   "kinds": ["saved", "begin", "end"], "begin": ["begin"], "end": ["end"],
                   "ignore": ["ping"]},
        "refusal": {"statuses": [401, 403]},
    }


def _target(where: str) -> tuple[AsgiTarget, AuthConfig]:
    spec = parse_spec(_table(where), "pyproject.toml")
    auth = auth_config(spec)
    return AsgiTarget(spec, _small_app(where), auth, handles=None), auth  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["header", "cookie"])
def test_a_run_is_the_declared_requests_and_their_answers_are_read_as_declared(
    where: str,
) -> None:
    target, auth = _target(where)
    token = mint_token(auth, "ann")
    plan = (ToolCall("remember", "redis", "k", "v1"), ToolCall("recall", "redis", "k"),
            ToolCall("recall", "redis", "nope"), ToolCall("list", "redis"),
            ToolCall("forget", "redis", "k"), ToolCall("forget", "redis", "k"))
    results = asyncio.run(target.run(token, "t1", plan, "r1"))
    assert results == [{"ok": True}, "v1", None, ["k"], True, False]


def test_a_refusal_status_is_refused_and_an_unverified_token_is_rejected() -> None:
    target, auth = _target("header")
    with pytest.raises(Refused, match="answered 403"):
        asyncio.run(target.run(mint_token(auth, "ann"), "locked",
                               (ToolCall("recall", "redis", "k"),), "r1"))
    for kind in auth.forgeries:
        forged = forge_token(auth, kind, "ann", other_user_id="bob")
        with pytest.raises(AuthError):
            asyncio.run(target.run(forged, "t1", (ToolCall("list", "redis"),), "r2"))


def test_an_answer_of_another_shape_fails_the_run_naming_the_path() -> None:
    table = _table("header")
    table["routes"]["list"]["result"] = "items"
    spec = parse_spec(table, "pyproject.toml")
    auth = auth_config(spec)
    target = AsgiTarget(spec, _small_app("header"), auth, handles=None)  # type: ignore[arg-type]
    with pytest.raises(AppRequestFailed, match="no 'items' at 'items'; fix its result path"):
        asyncio.run(target.run(mint_token(auth, "ann"), "t1", (ToolCall("list", "redis"),), "r"))


def test_frames_become_events_of_their_run_and_a_refused_handshake_is_an_auth_error() -> None:
    async def scenario() -> list[Any]:
        target, auth = _target("header")
        token = mint_token(auth, "ann")
        stream = await target.connect(token)
        await target.run(token, "t1", (ToolCall("remember", "redis", "k", "v"),), "r7")
        await stream.sync()
        events = stream.take()
        await stream.aclose()
        with pytest.raises(AuthError, match="refused the WebSocket"):
            await target.connect(forge_token(auth, "wrong_signature", "ann"))
        return events

    events = asyncio.run(scenario())
    assert [(e.kind, e.run_id, e.user_id, e.seq) for e in events] == [("saved", "r7", "ann", 0)]


def test_the_campaign_tokens_take_the_apps_claims_and_leave_out_what_it_does_not_check() -> None:
    spec = parse_spec(_table("header"), "pyproject.toml")
    auth = auth_config(spec)
    claims = jwt.decode(mint_token(auth, "ann"), SECRET, algorithms=["HS256"])
    assert claims["uid"] == "ann"
    assert "sub" not in claims
    assert "aud" not in claims
    assert "iss" not in claims
    assert "wrong_audience" not in auth.forgeries
    assert "wrong_issuer" not in auth.forgeries
    assert _capabilities(spec).stores == ("redis",)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_mints_tokens_that_verify_and_forgeries_that_do_not(
    algorithm: str,
) -> None:
    auth = AuthConfig.generate(algorithm, audience=None, claims=(("org", "org-{user}"),))  # type: ignore[arg-type]
    check = Verification.of(auth)
    token = mint_token(auth, "ann")
    assert check.verify(token) == "ann"
    assert jwt.decode(token, options={"verify_signature": False})["org"] == "org-ann"
    for kind in auth.forgeries:
        with pytest.raises(AuthError):
            check.verify(forge_token(auth, kind, "ann", other_user_id="bob"))


def test_a_lifespan_that_fails_raises_the_apps_own_error_and_one_without_lifespan_is_fine() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "Traceback...\nKeyError: 'x'"})
        raise KeyError("DATABASE_URL")

    async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] != "lifespan", "speaks no lifespan"

    async def scenario() -> None:
        with pytest.raises(KeyError, match="DATABASE_URL"):
            await Lifespan(failing).start()
        quiet = Lifespan(no_lifespan)
        await quiet.start()
        assert not quiet.spoken
        await quiet.stop()

    asyncio.run(scenario())


def test_a_failure_reported_without_raising_is_the_apps_message() -> None:
    async def reports(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "Traceback\nValueError: bad"})
        await receive()

    async def scenario() -> None:
        lifespan = Lifespan(reports)
        with pytest.raises(StartupFailed, match=r"^ValueError: bad$"):
            await lifespan.start()

    asyncio.run(scenario())


def _sse_app() -> Starlette:
    from starlette.responses import StreamingResponse

    queues: dict[str, list[asyncio.Queue[str]]] = {}

    def who(request: Request) -> str | None:
        raw = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            return str(jwt.decode(raw, SECRET, algorithms=["HS256"])["uid"])
        except jwt.PyJWTError:
            return None

    async def stream(request: Request) -> Response:
        user = who(request)
        if user is None:
            return Response(status_code=401)
        queue: asyncio.Queue[str] = asyncio.Queue()
        queues.setdefault(user, []).append(queue)

        async def body() -> Any:
            yield ": a comment, no event\n\n"
            while True:
                frame = await queue.get()
                yield f"event: update\ndata: {frame}\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    async def save(request: Request) -> Response:
        user = who(request)
        if user is None:
            return Response(status_code=401)
        for queue in queues.get(user, []):
            queue.put_nowait(json.dumps({"t": "saved", "meta": {"run": request.headers["x-run"]}}))
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/stream", stream), Route("/threads/{thread}/notes/{key}",
                                                              save, methods=["PUT"])])


def test_a_server_sent_events_route_is_a_connection_too() -> None:
    table = _table("header")
    table["events"] = {**table["events"], "sse": "/stream"}
    del table["events"]["websocket"]
    spec = parse_spec(table, "pyproject.toml")
    auth = auth_config(spec)

    async def scenario() -> list[Any]:
        target = AsgiTarget(spec, _sse_app(), auth, handles=None)  # type: ignore[arg-type]
        token = mint_token(auth, "ann")
        stream = await target.connect(token)
        await target.run(token, "t1", (ToolCall("remember", "redis", "k", "v"),), "r9")
        await stream.sync()
        events = stream.take()
        await stream.aclose()
        with pytest.raises(AuthError, match="refused the event stream"):
            await target.connect(forge_token(auth, "garbage", "ann"))
        return events

    events = asyncio.run(scenario())
    assert [(e.kind, e.run_id, e.user_id) for e in events] == [("saved", "r9", "ann")]


APP_ONLY_SECRET = "a-key-only-the-app-knows-0123456789abcdef"


def _login_app(verify_signature: bool) -> Starlette:
    async def login(request: Request) -> Response:
        user = (await request.json())["username"]
        token = jwt.encode({"sub": user, "iss": "app", "exp": int(1e10)}, APP_ONLY_SECRET)
        return JSONResponse({"data": {"token": token}})

    async def notes(request: Request) -> Response:
        raw = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(raw, APP_ONLY_SECRET, algorithms=["HS256"], issuer="app",
                                options={"verify_signature": verify_signature})
        except jwt.PyJWTError:
            return Response(status_code=401)
        return JSONResponse({"keys": [f"key-of-{claims['sub']}"]})

    return Starlette(routes=[Route("/login", login, methods=["POST"]),
                             Route("/threads/{thread}/notes", notes)])


def _login_target(verify_signature: bool) -> tuple[AsgiTarget, AuthConfig]:
    table = _table("header")
    table["credentials"] = {"login": {"method": "POST", "path": "/login",
                                      "json": {"username": "{user}"}, "token": "data.token"}}
    spec = parse_spec(table, "pyproject.toml")
    auth = auth_config(spec)
    app = _login_app(verify_signature)
    return AsgiTarget(spec, app, auth, handles=None), auth  # type: ignore[arg-type]


def test_an_app_that_issues_its_own_tokens_gets_them_from_its_login_route() -> None:
    target, auth = _login_target(verify_signature=True)
    listing = (ToolCall("list", "redis"),)
    assert asyncio.run(target.run(mint_token(auth, "ann"), "t1", listing, "r1")) == [
        ["key-of-ann"]]
    for kind in auth.forgeries:  # each forgery made of the app's own token, without its key
        forged = forge_token(auth, kind, "ann", other_user_id="bob")
        with pytest.raises(AuthError):
            asyncio.run(target.run(forged, "t1", listing, "r2"))


def test_a_forged_subject_made_of_the_apps_token_gets_through_an_app_that_skips_the_signature(
) -> None:
    target, auth = _login_target(verify_signature=False)
    listing = (ToolCall("list", "redis"),)

    async def scenario() -> Any:
        await target.run(mint_token(auth, "ann"), "t1", listing, "r1")  # ann logs in
        forged = forge_token(auth, "tampered_sub", "ann", other_user_id="bob")
        return await target.run(forged, "t1", listing, "r2")

    assert asyncio.run(scenario()) == [["key-of-bob"]]  # what the fuzzer then reports
