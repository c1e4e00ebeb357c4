"""A service that dies mid-campaign ends it in one line naming the service, exit 3 (issue 10).

The Redis here is one we start ourselves, with the ``redis-server`` binary on a free
port, and kill by its PID; the Postgres is the campaign's embedded one, killed by
its postmaster's PID.  Neither may end in a raw driver traceback or in "a bug in
isolation-fuzz", and losing Redis must not leave the namespace on Postgres behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from isolation_fuzz.errors import ServiceUnavailable
from isolation_fuzz.services import ServiceConfig, claim_namespace, start_engines
from isolation_fuzz.services._reach import first_line, service_fault

EXTERNAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CLI = str(Path(sys.executable).with_name("isolation-fuzz"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of our own on a free port, without persistence; killed by PID."""
    binary = shutil.which("redis-server")
    assert binary, "the redis-server binary is needed for this test"
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "our redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOLATION_FUZZ_")}
    return {**env, **extra}


def _assert_one_line_naming(stderr: str, service: str) -> None:
    assert "Traceback" not in stderr
    assert "bug in isolation-fuzz" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("isolation-fuzz: error:")]
    assert len(errors) == 1, stderr
    assert f"{service} at " in errors[0] if service else True
    assert [line for line in stderr.splitlines() if line.strip()][-1] == errors[0]


def test_a_redis_killed_mid_campaign_ends_in_one_line_naming_redis(
    own_redis: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, redis_proc = own_redis
    proc = subprocess.Popen(
        [CLI, "run", "--redis-url", url, "--max-examples", "100000", "--quiet",
         "--report-dir", str(tmp_path / "reports"), "--corpus", "none"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        import redis

        r = redis.Redis.from_url(url)
        deadline = time.monotonic() + 30
        while not r.keys("isolation-fuzz:lease:*"):  # the campaign holds its lease: running
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the campaign did not start"
            time.sleep(0.1)
        r.close()
        time.sleep(1.0)  # examples are moving
        os.kill(redis_proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, stderr
    _assert_one_line_naming(stderr, "redis")


def test_a_killed_embedded_postgres_ends_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="ifz", dir="/tmp"))  # short: pg's socket path
    proc = subprocess.Popen(
        [CLI, "run", "--max-examples", "100000", "--quiet",
         "--report-dir", str(tmp_path / "reports"), "--corpus", "none"],
        env=_env(TMPDIR=str(root)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        postmaster = None
        deadline = time.monotonic() + 30
        while postmaster is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "embedded postgres did not start"
            out = subprocess.run(
                ["pgrep", "-f", f"bin/postgres -D {root}"], capture_output=True, text=True
            ).stdout.split()
            postmaster = int(out[0]) if out else None
            time.sleep(0.1)
        time.sleep(2.5)  # services up, examples moving
        os.kill(postmaster, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
    assert proc.returncode == 3, stderr
    _assert_one_line_naming(stderr, "postgres")


@pytest.mark.anyio
async def test_losing_redis_still_removes_the_namespace_from_postgres(
    own_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, redis_proc = own_redis
    config = ServiceConfig(redis_url=url, postgres_url=EXTERNAL_POSTGRES)
    async with start_engines(config) as engines:
        claimed = claim_namespace(engines)
        svc = await claimed.__aenter__()
        os.kill(redis_proc.pid, signal.SIGKILL)
        redis_proc.wait()
        with pytest.raises(ServiceUnavailable) as info:
            await claimed.__aexit__(None, None, None)
        admin = await svc.postgres_admin()
        try:
            schema = await admin.fetchval(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1", svc.namespace
            )
            role = await admin.fetchval(
                "SELECT 1 FROM pg_roles WHERE rolname = $1", svc.postgres_app_role
            )
        finally:
            await admin.close()
    assert info.value.service == "redis"
    assert (schema, role) == (None, None)


def test_an_error_with_no_message_is_named_by_its_type() -> None:
    assert first_line(ConnectionResetError()) == "ConnectionResetError"
    assert first_line(OSError("refused\nDETAIL: more")) == "refused"


def test_a_driver_error_deep_in_a_group_names_its_service() -> None:
    import redis.exceptions

    lost = redis.exceptions.ConnectionError("Connection closed by server.")
    try:
        try:
            raise lost
        except Exception as exc:
            raise RuntimeError("hypothesis wrapped it") from exc
    except RuntimeError as wrapped:
        group = ExceptionGroup("runs", [ValueError("a run's own error"), wrapped])
    fault = service_fault(group, {"redis": "redis://:hunter2@h:1/0"})
    assert fault is not None
    assert fault.service == "redis"
    assert "hunter2" not in str(fault)
    assert "Connection closed by server." in str(fault)
    assert service_fault(ValueError("not a service")) is None


def test_a_socket_error_raised_inside_a_driver_names_that_driver() -> None:
    async def connect() -> None:
        import asyncpg

        await asyncpg.connect("postgresql://postgres@127.0.0.1:1/x", timeout=2)

    with pytest.raises(OSError, match=r"Connect call failed|refused") as info:
        anyio.run(connect)
    fault = service_fault(info.value)
    assert fault is not None
    assert fault.service == "postgres"
