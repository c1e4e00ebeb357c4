"""The front door: an ASGI app fuzzed through its own routes, tokens and WebSocket.

Contract.  A user describes their app in ``[tool.isolation-fuzz.asgi]`` of their
``pyproject.toml`` (:mod:`~isolation_fuzz.asgi.spec` says every key) and writes no
Python: ``isolation-fuzz run`` in the project then fuzzes the target named
``asgi``, which is this table.  The app is imported and its lifespan run on the
campaign's loop, with the declared environment pointing it at the campaign's
engines; each run's tool calls are the declared requests, made in process through
httpx's ASGI transport with the run's token where the app reads it; each
connection is a WebSocket, a server-sent events stream or a socket.io connection,
served in process.  So the app's own handlers run inside the runs, and are
interleaved at every await they make.

Its modules, in the order a campaign uses them: ``spec`` (the table, read strictly,
with ``_table``, into the frozen ``records``); ``setup`` (the tokens in the app's
format, the environment, the import, the reset); ``target`` (runs as requests, with
``templates`` for placeholders and result paths, and ``login`` for apps that issue
their own tokens); ``connections`` (frames as events, and which tab is whose);
``wire`` (the ASGI lifespan, WebSocket and server-sent events protocols, served in
process) and ``socketio`` (socket.io's client protocol over that WebSocket);
``sockets`` (the same over a real uvicorn server, for ``--transport websocket``).

This floor stands on the target protocol, the kit, the tokens and the records; it
imports nothing of the engine, the platform, the CLI or the reporters.  httpx is
imported when a target opens, uvicorn when it is served (``pip install
'isolation-fuzz[asgi]'``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from isolation_fuzz.asgi.records import AsgiSpec
from isolation_fuzz.asgi.spec import parse_spec

__all__ = ["APP_ENV", "AsgiSpec", "open_from_pyproject", "parse_spec", "spec_from_pyproject"]

#: Names another app than the table's (``notes_api.beta:app``), for one run or a CI job.
APP_ENV = "ISOLATION_FUZZ_ASGI_APP"


def spec_from_pyproject(start: Any = None) -> AsgiSpec:
    """The spec of the nearest ``pyproject.toml`` that has ``[tool.isolation-fuzz.asgi]``."""
    import tomllib
    from pathlib import Path

    from isolation_fuzz.errors import UsageError

    here = Path(start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        path = directory / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{path}: cannot be read as TOML: {exc}") from None
        asgi = table.get("tool", {}).get("isolation-fuzz", {}).get("asgi")
        if asgi is None:
            break
        import os

        app = os.environ.get(APP_ENV)
        if app:  # the environment outranks the file, as it does for service URLs
            asgi = {**asgi, "app": app}
        return parse_spec(asgi, str(path), read=partial(_read_beside, directory))
    raise UsageError(
        "target 'asgi' is the [tool.isolation-fuzz.asgi] table of the nearest pyproject.toml, "
        f"and there is none from {here} up; run in the project, or add the table"
    )


def _read_beside(directory: Any, name: str) -> str:
    return str((directory / name).read_text(encoding="utf-8"))


class _FromPyproject:
    """The target ``asgi``: the factory of the nearest table, read when first used."""

    __qualname__ = "asgi"

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _factory(self) -> Any:
        import os
        from pathlib import Path

        from isolation_fuzz.asgi.target import asgi_factory

        key = f"{Path.cwd()}\0{os.environ.get(APP_ENV, '')}"  # the app may be overridden
        if key not in self._cache:
            self._cache[key] = asgi_factory(spec_from_pyproject())
        return self._cache[key]

    @property
    def capabilities(self) -> Any:
        return self._factory().capabilities

    @property
    def auth_config(self) -> Any:
        return self._factory().auth_config

    def __call__(self, spec: Any, services: Any, auth: Any) -> Any:
        return self._factory()(spec, services, auth)


#: The ``asgi`` target of the entry points: the nearest ``[tool.isolation-fuzz.asgi]``.
open_from_pyproject = _FromPyproject()
