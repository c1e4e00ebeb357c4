"""Failed runs are counted, and a target that fails most of them is never "clean".

Issue 10: a run of a valid identity that raised was neither checked nor counted, so
a system that raised on every request was reported clean.  Here a target whose
``run`` always raises ends with exit 3 and a verdict saying it is not working; the
reference platform stays clean, with its run counts in the verdict and summary.json.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from isolation_fuzz.cli import main
from isolation_fuzz.engine.example.harness import MIN_RUNS_TO_JUDGE, RunCounts
from isolation_fuzz.model import Event, Plan
from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.target import EventStream, Target, TargetSpec, register_target


class _Silent:
    """An event stream that never receives anything."""

    connection_id = "silent"

    def take(self) -> list[Event]:
        return []

    async def sync(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _AlwaysRaises:
    """A backend that is down: it checks tokens, then every agent run raises."""

    def __init__(self, auth: Any) -> None:
        self.auth = Authenticator(auth)

    async def connect(self, token: str) -> EventStream:
        self.auth.authenticate(token)
        return _Silent()

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        self.auth.authenticate(token)  # a forged token is refused (AuthError), as it should be
        raise RuntimeError("backend unavailable")

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return {}

    async def reset(self) -> None:
        return None


@asynccontextmanager
async def _always_raises(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Target]:
    yield _AlwaysRaises(auth)


register_target("test:always_raises", _always_raises)


def _run(target: str, tmp_path: Path) -> int:
    return main([
        "run", "--target", target, "--max-examples", "5", "--seed", "3", "--quiet",
        "--report-dir", str(tmp_path), "--corpus", "none",
    ])


def _summary(tmp_path: Path) -> dict[str, Any]:
    (summary,) = tmp_path.glob("*/summary.json")
    result: dict[str, Any] = json.loads(summary.read_text())
    return result


def test_a_target_that_raises_on_every_run_is_not_working_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("test:always_raises", tmp_path) == 3
    out = capsys.readouterr().out
    assert "verdict: target not working" in out, out
    assert "RuntimeError" in out, out
    assert "verdict: clean" not in out, out
    runs = _summary(tmp_path)["runs"]
    assert runs["finished"] == 0
    assert runs["failed"] >= MIN_RUNS_TO_JUDGE
    assert runs["failed_by_error"] == {"RuntimeError": runs["failed"]}
    assert _summary(tmp_path)["verdict"].startswith("target not working")


def test_the_reference_platform_stays_clean_with_its_runs_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("reference", tmp_path) == 0
    out = capsys.readouterr().out
    assert "verdict: clean" in out, out
    assert "\nruns: " in out, out
    runs = _summary(tmp_path)["runs"]
    assert runs["finished"] >= MIN_RUNS_TO_JUDGE
    assert 2 * runs["failed"] < runs["finished"]


def test_most_runs_failing_is_judged_only_from_enough_runs() -> None:
    assert not RunCounts(0, {"KeyError": MIN_RUNS_TO_JUDGE - 1}).target_not_working()
    assert RunCounts(4, {"KeyError": 6}).target_not_working()
    assert not RunCounts(5, {"KeyError": 5}).target_not_working()  # half is not most
    assert RunCounts(3, {"A": 1, "B": 2}, 4, 0).describe() == (
        "3 finished, 3 failed (A 1, B 2), 4 rejected, 0 blocked"
    )
