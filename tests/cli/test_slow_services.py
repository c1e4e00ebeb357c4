"""A stalled service ends the campaign with exit 3 naming it, never with a violation.

Issue 10 measured it: a Redis stopped with SIGSTOP for 7 s made a run miss the
block timeout, and the campaign reported ``runs_make_progress`` against the correct
reference platform (exit 1) and saved the false scenario in the corpus.  Here a
``redis-server`` of our own, on a free port, is stopped mid-campaign for longer
than the block timeout and the service timeout, then continued; the campaign must
end with exit 3, one line naming redis, no VIOLATION and an empty corpus.  Only the
process this test started is signalled, by its PID.  The binary must be on PATH:
a missing one fails the test, it never skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

#: Small timeouts keep the test quick: a run silent for 0.5 s has its services
#: probed, and a service silent for 1 s ends the campaign.
BLOCK, SERVICE = "0.5s", "1s"
#: Longer than the block timeout plus a probe, with room to spare.
STALL_SECONDS = 4.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server of this test's own, without persistence, on a free port."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server must be on PATH for this test"
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start in 10 s"
                time.sleep(0.05)
        yield proc, port
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _commands(port: int) -> int:
    info = redis.Redis(port=port, socket_timeout=1).info("stats")
    return int(info["total_commands_processed"])


def _campaign_with_a_stall(
    proc: subprocess.Popen[bytes], port: int, tmp_path: Path, stall: float, *flags: str
) -> tuple[int, str, str, float]:
    """Run a campaign on our Redis, stop Redis for ``stall`` s mid-campaign, continue it.

    Returns the exit code, stdout, stderr, and the seconds from the stop to the end.
    """
    cli = Path(sys.executable).with_name("isolation-fuzz")
    campaign = subprocess.Popen(
        [str(cli), "run", "--redis-url", f"redis://127.0.0.1:{port}/0",
         "--block-timeout", BLOCK, "--seed", "7", "--quiet",
         "--report-dir", str(tmp_path / "reports"), "--corpus", str(tmp_path / "corpus"),
         *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Mid-campaign: the engines are up and examples are running against Redis.
        before = _commands(port)
        deadline = time.monotonic() + 90
        while _commands(port) < before + 300:
            assert campaign.poll() is None, campaign.communicate()
            assert time.monotonic() < deadline, "the campaign never got going"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            time.sleep(stall)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        out, err = campaign.communicate(timeout=90)
    finally:
        if campaign.poll() is None:
            campaign.kill()
            campaign.wait()
    return campaign.returncode, out, err, time.monotonic() - stopped


def test_a_redis_stalled_past_the_service_timeout_is_exit_3_naming_redis(
    redis_server: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    proc, port = redis_server
    code, out, err, _ = _campaign_with_a_stall(
        proc, port, tmp_path, STALL_SECONDS,
        "--service-timeout", SERVICE, "--max-examples", "100000", "--budget", "120s",
    )
    assert code == 3, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("isolation-fuzz: error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith("isolation-fuzz: error: redis at "), err
    assert "did not answer within 1s" in errors[0], err
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    assert "VIOLATION" not in out, out
    corpus = tmp_path / "corpus"
    assert not corpus.exists() or not list(corpus.iterdir())


def test_a_redis_stalled_for_less_than_the_service_timeout_changes_nothing(
    redis_server: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    # Issue 10's measured case, scaled down: a stall longer than the block timeout but
    # shorter than the service timeout is only slowness; the campaign goes on, clean.
    proc, port = redis_server
    code, out, err, _ = _campaign_with_a_stall(
        proc, port, tmp_path, 3 * 0.5, "--service-timeout", "5s", "--budget", "12s",
    )
    assert code == 0, (out, err)
    assert "verdict: clean" in out, out
    assert "VIOLATION" not in out, out
    corpus = tmp_path / "corpus"
    assert not corpus.exists() or not list(corpus.iterdir())
