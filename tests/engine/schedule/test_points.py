"""Interleaving points: where a driven run pauses in each mode, and what never pauses it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.points import POINTS_MODES
from isolation_fuzz.engine.schedule.runs import StepOutcome

# A "driver" coroutine that suspends twice for one call, as a reply read in two chunks
# does; its module name makes it driver code, not the target's own.
_DRIVER: dict[str, Any] = {"__name__": "redis.fake_driver", "asyncio": asyncio}
exec(  # a fixed snippet, only to give its frames a driver's module name
    "async def two_reads():\n    await asyncio.sleep(0.001)\n    await asyncio.sleep(0)\n",
    _DRIVER,
)
two_reads: Callable[[], Awaitable[None]] = _DRIVER["two_reads"]


async def _labels(fn: Callable[[], Awaitable[Any]], points: str) -> list[StepOutcome]:
    out = []
    async with RunController(1.0, points=points) as ctl:  # type: ignore[arg-type]
        outcome = await ctl.start("r", fn)
        out.append(outcome)
        while outcome.status == "paused":
            outcome = await ctl.step("r")
            out.append(outcome)
    return out


async def _app() -> str:
    await asyncio.sleep(0.001)
    await checkpoint("marked")
    await two_reads()
    await anyio.to_thread.run_sync(lambda: None)
    return "done"


def test_modes_decide_which_suspensions_are_points() -> None:
    assert POINTS_MODES == ("auto", "explicit", "auto-only")
    auto = anyio.run(_labels, _app, "auto")
    labels = [o.label for o in auto[:-1]]
    assert labels[1] == "marked"
    own = [label for label in labels if label != "marked"]
    assert len(own) == 3
    assert all(label.startswith("test_points:_app:") for label in own)
    assert own[0].endswith(" sleep")
    assert auto[-1] == StepOutcome("finished", result="done")
    explicit = anyio.run(_labels, _app, "explicit")
    assert [o.label for o in explicit[:-1]] == ["marked"]
    only = anyio.run(_labels, _app, "auto-only")
    assert [o.label for o in only[:-1]] == own


def test_one_await_of_own_code_is_one_point_however_often_the_driver_suspends() -> None:
    async def app() -> None:
        await two_reads()
        await two_reads()

    outcomes = anyio.run(_labels, app, "auto-only")
    assert [o.status for o in outcomes] == ["paused", "paused", "finished"]
    first, second = (o.label or "" for o in outcomes[:2])
    assert first != second  # two awaits, two lines


def test_a_loop_over_one_await_line_is_a_point_per_iteration() -> None:
    async def app() -> None:
        for _ in range(3):
            await two_reads()

    outcomes = anyio.run(_labels, app, "auto-only")
    assert [o.status for o in outcomes] == ["paused"] * 3 + ["finished"]


def test_tasks_a_run_starts_are_never_paused_by_its_hook() -> None:
    ticks: list[int] = []

    async def flusher() -> None:
        for i in range(20):
            await checkpoint("flush")
            await asyncio.sleep(0)
            ticks.append(i)

    async def app() -> None:
        task = asyncio.get_running_loop().create_task(flusher())
        await task  # waits on another task: the run's own wait, completed by the loop

    outcomes = anyio.run(_labels, app, "auto")
    assert outcomes[-1].status == "finished"
    assert ticks == list(range(20))
    assert all(o.label != "flush" for o in outcomes)


@pytest.mark.parametrize("points", ["auto", "auto-only"])
def test_a_cancelled_paused_run_cleans_up_and_errors_reach_the_run(points: str) -> None:
    cleaned: list[str] = []

    async def app() -> None:
        try:
            await asyncio.sleep(0.001)
            await asyncio.sleep(0.001)
        finally:
            cleaned.append("done")

    async def failing() -> None:
        await asyncio.sleep(0.001)
        raise KeyError("boom")

    async def main() -> StepOutcome:
        async with RunController(1.0, points=points) as ctl:  # type: ignore[arg-type]
            assert (await ctl.start("r", app)).status == "paused"
            await ctl.cancel_all()
            outcome = await ctl.run_to_end("f", failing)
        return outcome

    outcome = anyio.run(main)
    assert cleaned == ["done"]
    assert outcome.status == "failed"
    assert isinstance(outcome.error, KeyError)
