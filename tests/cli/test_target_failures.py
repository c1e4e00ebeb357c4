"""The user's own start-up errors are theirs: one line naming their frame, exit 3.

Issue 20: an exception raised in the user's factory (or their reset) was reported as "internal error
... (a bug in isolation-fuzz)", and an ``ExceptionGroup`` from their task group
appeared with no detail.  Now the target's failure names the target, what it was
doing, the exception that raised (unwrapped from any group) and the line of their
code that raised it; no engine stays up, nothing is called the tool's bug.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from isolation_fuzz.cli import main
from isolation_fuzz.errors import TargetFailed, innermost_error
from isolation_fuzz.target import Target, TargetSpec, register_target

HERE = Path(__file__).resolve()


def _parse_settings(url: str) -> None:
    raise RuntimeError(f"cannot parse database url {url!r}")


@asynccontextmanager
async def _factory_raises(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Target]:
    _parse_settings("nope://")
    yield None  # type: ignore[misc]  # never reached


async def _warm_cache() -> None:
    raise KeyError("tenant table missing")


@asynccontextmanager
async def _group_raises(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Target]:
    async with anyio.create_task_group() as group:  # a lifespan starting its workers
        group.start_soon(_warm_cache)
    yield None  # type: ignore[misc]  # never reached


register_target("test:factory_raises", _factory_raises)
register_target("test:group_raises", _group_raises)


def _run(target: str, tmp_path: Path) -> int:
    return main(["run", "--target", target, "--max-examples", "3", "--quiet",
                 "--report-dir", str(tmp_path), "--corpus", "none"])


def test_a_factory_that_raises_is_the_targets_failure_with_its_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("test:factory_raises", tmp_path) == 3
    err = capsys.readouterr().err
    line = [text for text in err.splitlines() if "error" in text]
    assert len(line) == 1, err
    assert "the target test:factory_raises failed to start" in line[0]
    assert "RuntimeError: cannot parse database url 'nope://'" in line[0]
    assert f"{HERE}:" in line[0]
    assert "in _parse_settings" in line[0]
    assert "bug in isolation-fuzz" not in err
    assert "Traceback" not in err


def test_an_exception_group_is_unwrapped_to_what_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("test:group_raises", tmp_path) == 3
    err = capsys.readouterr().err
    assert "failed to start: KeyError: 'tenant table missing'" in err
    assert "in _warm_cache" in err
    assert "ExceptionGroup" not in err


def test_innermost_error_goes_through_nested_groups() -> None:
    leaf = ValueError("leaf")
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [leaf]), KeyError("other")])
    assert innermost_error(nested) is leaf
    assert innermost_error(leaf) is leaf
    assert TargetFailed("t", "to start", nested).error is leaf


class _ResetRaises:
    """A target that works until its reset, which raises as a broken migration would."""

    async def run(self, token: str, thread_id: str, plan: Any, run_id: str) -> list[Any]:
        return [None for _ in plan]

    async def connect(self, token: str) -> Any:
        from isolation_fuzz.kit import QueueEventStream

        return QueueEventStream("c")

    async def residue(self, run_id: str) -> dict[str, list[str]]:
        return {}

    async def reset(self) -> None:
        raise LookupError("table notes does not exist")


@asynccontextmanager
async def _reset_raises(spec: TargetSpec, services: Any, auth: Any) -> AsyncIterator[Any]:
    yield _ResetRaises()


_reset_raises.capabilities = {"stores": ["redis"]}  # type: ignore[attr-defined]
register_target("test:reset_raises", _reset_raises)


def test_an_adapter_that_raises_between_examples_is_the_targets_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("test:reset_raises", tmp_path) == 3
    err = capsys.readouterr().err
    assert "the target test:reset_raises failed in its reset after step" in err
    assert "LookupError: table notes does not exist" in err
    assert f"{HERE}:" in err
    assert "in reset" in err
    assert "bug in isolation-fuzz" not in err
    assert "ExceptionGroup" not in err
