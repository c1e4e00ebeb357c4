"""Every bad ``[tool.isolation-fuzz.asgi]`` is one line naming its table and key, exit 2.

The reader is strict (an unknown key is an error), so each row below changes one
thing of a good description and expects the line to say where and what.  A few rows
go through the real command line, in a project directory, to show the exit code
and that nothing starts.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from isolation_fuzz.asgi.spec import parse_spec
from isolation_fuzz.cli import main
from isolation_fuzz.errors import UsageError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_notes"


def _good() -> dict[str, Any]:
    data = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    return copy.deepcopy(data["tool"]["isolation-fuzz"]["asgi"])


def test_the_example_description_reads_as_declared() -> None:
    spec = parse_spec(_good(), "pyproject.toml")
    assert spec.app == "notes_api.main:app"
    assert spec.stores == ("postgres", "redis")  # the user's order: postgres holds the data
    assert spec.credentials.algorithm == "RS256"
    assert spec.credentials.websocket.where == "query"
    assert spec.credentials.http.format == "Bearer {token}"
    assert spec.run is not None
    assert spec.run.results == "results"
    assert spec.events is not None
    assert spec.events.begin == ("run.started",)
    assert spec.refusal == (401, 403)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        here = data
        for part in parents:
            here = here.setdefault(part, {})
        here[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        here = data
        for part in parents:
            here = here[part]
        del here[last]

    return change


def _routes(data: dict[str, Any]) -> None:
    data["routes"] = {"remember": {"method": "PUT", "path": "/n/{key}", "json": {"v": "{value}"}}}


ROWS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    # the table itself
    ("unknown key", _set("colour", "blue"), "[tool.isolation-fuzz.asgi]: has unknown key 'colour'"),
    ("no app", _drop("app"), "needs app"),
    ("app not a path", _set("app", "notes_api.main"), "app = 'notes_api.main': wants an import"),
    ("app empty", _set("app", ""), "app = '': wants a non-empty string"),
    ("app a number", _set("app", 3), "app = 3: wants a non-empty string"),
    ("no stores", _drop("stores"), "needs stores"),
    ("stores empty", _set("stores", []), "stores = []: wants a non-empty list"),
    ("unknown store", _set("stores", ["mongo"]), "'mongo' is not one of redis"),
    ("bad thread-ids regex", _set("thread-ids", "*"), "thread-ids = '*': is not a regular"),
    ("unknown data scope", _set("data-scope", "tenant"),
     "data-scope = 'tenant': is not one of user"),
    ("factory not bool", _set("factory", "yes"), "factory = 'yes': wants true or false"),
    ("lifespan not bool", _set("lifespan", 1), "lifespan = 1: wants true or false"),
    ("bad user-ids regex", _set("user-ids", "(["), "user-ids = '([': is not a regular"),
    ("env not table", _set("env", "X"), "env = 'X': wants a table"),
    ("env value not text", _set("env.PORT", 5432), "PORT is 5432, not a string"),
    ("env unknown placeholder", _set("env.X", "{mongo_url}"), "X names {mongo_url}"),
    ("env store not running", _set("env.CH", "{clickhouse_url}"), "clickhouse is not among stores"),
    ("headers placeholder", _set("headers", {"X-Key": "{key}"}),
     "headers = {'X-Key': '{key}'}: names {key}"),
    # requests
    ("no run and no routes", _drop("run"), "needs either a routes table"),
    ("both run and routes", _routes, "not both"),
    ("run without tools", _drop("tools"), "has a run table but no tools table"),
    ("run bad method", _set("run.method", "FETCH"), "method = 'FETCH': is not one of GET"),
    ("run no method", _drop("run.method"), "[tool.isolation-fuzz.asgi.run]: needs method"),
    ("run no path", _drop("run.path"), "run]: needs path"),
    ("run relative path", _set("run.path", "threads/{thread}"), "must start with /"),
    ("run path placeholder", _set("run.path", "/t/{tenant}/runs"), "names {tenant}"),
    ("run without plan", _set("run.json", {"run_id": "{run}"}), "must send {plan}"),
    ("run json a string", _set("run.json", "{plan}"), "json = '{plan}': wants a table"),
    ("run unknown key", _set("run.timeout", 5), "run]: has unknown key 'timeout'"),
    ("run results not text", _set("run.results", 0), "results = 0: wants a non-empty string"),
    ("tools missing one", _drop("tools.forget"), "tools]: needs forget"),
    ("tools unknown", _set("tools.search", {"tool": "s"}), "tools]: has unknown key 'search'"),
    ("tool without value", _set("tools.remember", {"tool": "save", "args": {"key": "{key}"}}),
     "must send {value}"),
    ("tool names thread", _set("tools.list", {"tool": "ls", "t": "{thread}"}), "names {thread}"),
    ("tool not a table", _set("tools.recall", 7), "recall = 7: wants a table"),
    # credentials
    ("bad algorithm", _set("credentials.algorithm", "HS512"),
     "algorithm = 'HS512': is not one of HS256"),
    ("secret with RS256", _set("credentials.secret", "s3cret"), "secret = '…': is for HS256"),
    ("key file with HS256", lambda d: (_set("credentials.algorithm", "HS256")(d),
                                       _set("credentials.private-key-file", "k.pem")(d)),
     "private-key-file = 'k.pem': is for RS256"),
    ("key file missing", _set("credentials.private-key-file", "no-such.pem"), "cannot be read"),
    ("secret from unset env", lambda d: (_set("credentials.algorithm", "HS256")(d),
                                         _set("credentials.secret", "env:NOTES_NO_SUCH")(d)),
     "names the environment variable 'NOTES_NO_SUCH', which is unset"),
    ("bad placement", _set("credentials.in", "body"), "in = 'body': is not one of header, cookie"),
    ("subprotocol for http", _set("credentials.in", "subprotocol"),
     "is not one of header, cookie, query"),
    ("format without token", _set("credentials.format", "Bearer"),
     "format = 'Bearer': must contain {token}"),
    ("websocket bad placement", _set("credentials.websocket-in", "path"), "websocket-in = 'path'"),
    ("lifetime too short", _set("credentials.lifetime", 5), "lifetime = 5: wants whole seconds"),
    ("claims sets exp", _set("credentials.claims", {"exp": 1}),
     "sets 'exp', which the fuzzer sets"),
    ("claims sets subject", _set("credentials.claims", {"sub": "x"}),
     "sets 'sub', the subject claim"),
    ("claims placeholder", _set("credentials.claims", {"org": "{thread}"}), "names {thread}"),
    ("login with a key", lambda d: (_set("credentials.algorithm", "HS256")(d),
                                    _set("credentials.secret", "s")(d),
                                    _set("credentials.login", {"method": "POST",
                                                               "path": "/login"})(d)),
     "login = '…': issues the app's own tokens"),
    ("login without user", _set("credentials.login", {"method": "POST", "path": "/login"}),
     "login]: must send {user}"),
    ("login unknown key", _set("credentials.login", {"method": "POST", "path": "/l/{user}",
                                                     "cookie": "s"}),
     "login]: has unknown key 'cookie'"),
    ("credentials unknown", _set("credentials.kid", "k1"), "credentials]: has unknown key 'kid'"),
    # events
    ("events no websocket", _drop("events.websocket"), "events]: needs one of websocket"),
    ("events websocket and sse", _set("events.sse", "/stream"), ", not websocket and sse"),
    ("events websocket and socketio", _set("events.socketio", "/socket.io/"),
     ", not websocket and socketio"),
    ("events relative socketio", lambda d: (_drop("events.websocket")(d),
                                            _set("events.socketio", "socket.io")(d)),
     "socketio = 'socket.io': must start with /"),
    ("namespace without socketio", _set("events.namespace", "/chat"),
     "namespace = '/chat': is for socket.io; it goes with socketio, not websocket"),
    ("names without socketio", _set("events.names", ["agent"]), "names = ['agent']: is for "
     "socket.io"),
    ("relative namespace", lambda d: (_drop("events.websocket")(d),
                                      _set("events.socketio", "/socket.io/")(d),
                                      _set("events.namespace", "chat")(d)),
     "namespace = 'chat': must start with /"),
    ("sid declared", lambda d: (_drop("events.websocket")(d),
                                _set("events.socketio", "/socket.io/")(d),
                                _set("events.connection", "tab")(d)),
     "connection = 'tab': is socket.io's sid already"),
    ("unknown routing", _set("events.routing", "tab"), "routing = 'tab': is not one of"),
    ("routing without {connection}", _set("events.routing", "connection"),
     "no request names {connection}"),
    ("{connection} without events", lambda d: (_drop("events")(d),
                                               _set("headers", {"X-Tab": "{connection}"})(d)),
     "names {connection}, the tab a run goes through, but there is no events table"),
    ("websocket routing without connection field", lambda d: (
        _set("events.routing", "connection")(d), _set("headers", {"X-Tab": "{connection}"})(d)),
     "needs connection (the frame field that names the tab)"),
    ("auth without socketio", _set("credentials.websocket-in", "auth"),
     "credentials.websocket-in = 'auth' is socket.io's auth payload"),
    ("events relative sse", lambda d: (_drop("events.websocket")(d),
                                       _set("events.sse", "stream")(d)),
     "sse = 'stream': must start with /"),
    ("events relative path", _set("events.websocket", "ws"), "websocket = 'ws': must start with /"),
    ("events no kinds", _drop("events.kinds"), "events]: needs kinds"),
    ("begin not a kind", _set("events.begin", ["start"]), "'start' is not among kinds"),
    ("end not a kind", _set("events.end", ["done"]), "'done' is not among kinds"),
    ("begin is end", _set("events.end", ["run.started"]), "cannot both begin and end"),
    ("events unknown", _set("events.channel", "x"), "events]: has unknown key 'channel'"),
    # refusal
    ("refusal not statuses", _set("refusal.statuses", ["403"]), "wants a list of HTTP statuses"),
    ("refusal out of range", _set("refusal.statuses", [700]), "wants a list of HTTP statuses"),
    ("refusal unknown", _set("refusal.bodies", []), "refusal]: has unknown key 'bodies'"),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in ROWS],
                         ids=[name for name, _, _ in ROWS])
def test_a_bad_description_is_one_line_naming_table_and_key(
    change: Callable[[dict[str, Any]], None], expected: str, tmp_path: Path
) -> None:
    data = _good()
    change(data)
    with pytest.raises(UsageError) as caught:
        parse_spec(data, "pyproject.toml", read=lambda name: (tmp_path / name).read_text())
    message = str(caught.value)
    assert expected in message
    assert message.startswith("pyproject.toml: [tool.isolation-fuzz.asgi")
    assert "\n" not in message


def test_there_are_at_least_forty_rows() -> None:
    assert len(ROWS) >= 40


def test_a_wrong_secret_is_never_shown() -> None:
    data = _good()
    data["credentials"].update(algorithm="ES256", secret="hunter2-do-not-print")
    with pytest.raises(UsageError) as caught:
        parse_spec(data, "pyproject.toml")
    assert "hunter2" not in str(caught.value)


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(body)
    return tmp_path


@pytest.mark.parametrize(("body", "expected"), [
    ('[tool.isolation-fuzz.asgi]\napp = "x"\n', "app = 'x': wants an import path"),
    ('[tool.isolation-fuzz.asgi]\napp = "m:app"\nstores = ["redis"]\n', "needs either a routes"),
    ('[tool.isolation-fuzz]\nasgi = 3\n', "[tool.isolation-fuzz.asgi]: wants a table"),
])
def test_the_command_line_says_it_in_one_line_and_exits_2_before_starting_anything(
    body: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(_project(tmp_path, body))
    assert main(["run", "--max-examples", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err
    assert len(err.splitlines()) == 1
    assert "starting services" not in err
