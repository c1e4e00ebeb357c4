"""socket.io apps through the front door: the handshake, the auth payload, the tab.

A small python-socketio app on a namespace of its own takes its token in the
CONNECT packet's ``auth``, refuses a bad one, and sends a run's frames, which carry
no run id, to the tab the request names.  The target must join the namespace,
name the user's newest tab in ``{connection}``, and attribute each frame to the
run that was started through that tab.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from isolation_fuzz import AuthError, ToolCall
from isolation_fuzz.asgi.setup import auth_config
from isolation_fuzz.asgi.spec import parse_spec
from isolation_fuzz.asgi.target import AsgiTarget
from isolation_fuzz.tokens import forge_token, mint_token

SECRET = "socket-io-test-secret-0123456789abcdef"


def _app() -> Any:
    sio = socketio.AsyncServer(async_mode="asgi")
    tabs: dict[str, str] = {}

    @sio.on("connect", namespace="/agent")
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        try:
            tabs[sid] = jwt.decode((auth or {}).get("jwt", ""), SECRET,
                                   algorithms=["HS256"])["sub"]
        except jwt.PyJWTError:
            raise socketio.exceptions.ConnectionRefusedError("who are you?") from None

    async def post(request: Request) -> JSONResponse:
        tab = request.headers["x-tab"]
        await sio.emit("update", {"kind": "begin"}, to=tab, namespace="/agent")
        await sio.emit("update", {"kind": "end"}, to=tab, namespace="/agent")
        await sio.emit("typing", {"kind": "begin"}, to=tab, namespace="/agent")  # not named
        return JSONResponse({"results": [tabs.get(tab, "?")]})

    web = Starlette(routes=[Route("/messages", post, methods=["POST"])])
    return socketio.ASGIApp(sio, other_asgi_app=web)


TABLE: dict[str, Any] = {
    "app": "tests.sio:app", "stores": ["redis"], "headers": {"X-Tab": "{connection}"},
    "credentials": {"secret": SECRET, "websocket-in": "auth", "websocket-name": "jwt"},
    "run": {"method": "POST", "path": "/messages", "json": {"calls": "{plan}"},
            "results": "results"},
    "tools": {"remember": {"k": "{key}", "v": "{value}"}, "recall": {"k": "{key}"},
              "forget": {"k": "{key}"}, "list": {}, "aggregate": {}},
    "events": {"socketio": "/socket.io/", "namespace": "/agent", "names": ["update"],
               "routing": "connection", "kind": "data.kind", "kinds": ["begin", "end"],
               "begin": ["begin"], "end": ["end"]},
}


def test_a_run_goes_through_the_newest_tab_whose_frames_are_its_events() -> None:
    async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
        spec = parse_spec(TABLE, "pyproject.toml")
        auth = auth_config(spec)
        target = AsgiTarget(spec, _app(), auth, handles=None)  # type: ignore[arg-type]
        token = mint_token(auth, "ann")
        old, new = await target.connect(token), await target.connect(token)
        results = await target.run(token, "t1", (ToolCall("list", "redis"),), "r1")
        await old.sync()
        await new.sync()
        with pytest.raises(AuthError, match=r"refused the socket\.io connection: .*who are you"):
            await target.connect(forge_token(auth, "wrong_signature", "ann"))
        got = old.take(), new.take()
        await old.aclose()
        await new.aclose()
        return results, *got

    results, old, new = asyncio.run(scenario())
    assert results == ["ann"]  # the tab named in the request is ann's
    assert old == []
    assert [(e.kind, e.run_id, e.user_id, e.seq) for e in new] == [
        ("begin", "r1", "ann", 0), ("end", "r1", "ann", 1),
    ]
