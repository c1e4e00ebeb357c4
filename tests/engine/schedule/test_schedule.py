"""The run controller moves exactly the run it is told to, one checkpoint at a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.loop import CampaignLoop
from isolation_fuzz.engine.schedule.runs import StepOutcome
from isolation_fuzz.errors import UsageError

Worker = Callable[[], Coroutine[Any, Any, str]]


def _worker(trace: list[str], name: str, points: int) -> Worker:
    """A run that appends to ``trace`` right after each of its ``points`` checkpoints."""

    async def run() -> str:
        for i in range(points):
            await checkpoint(f"{name}.{i}")
            trace.append(f"{name}{i}")
        return f"{name} done"

    return run


@pytest.fixture(scope="module")
def loop() -> Iterator[CampaignLoop]:
    # One loop for the module, as in a campaign: starting a portal per test is slow.
    with CampaignLoop() as campaign_loop:
        yield campaign_loop


def _controller(loop: CampaignLoop, timeout: float = 2.0) -> AbstractContextManager[RunController]:
    return loop.portal.wrap_async_context_manager(RunController(block_timeout=timeout))


def test_steps_decide_the_interleaving(loop: CampaignLoop) -> None:
    trace: list[str] = []
    with _controller(loop) as ctl:
        first = loop.call(ctl.start, "a", _worker(trace, "a", 2))
        assert first == StepOutcome("paused", label="a.0")
        loop.call(ctl.start, "b", _worker(trace, "b", 2))
        assert ctl.active() == ["a", "b"]
        assert loop.call(ctl.step, "b").label == "b.1"
        assert loop.call(ctl.step, "a").label == "a.1"
        done = loop.call(ctl.step, "a")
        assert (done.status, done.result, done.error) == ("finished", "a done", None)
        assert ctl.active() == ["b"]
    assert trace == ["b0", "a0", "a1"]


def test_a_run_without_checkpoints_finishes_at_start(loop: CampaignLoop) -> None:
    async def quick() -> int:
        return 42

    with _controller(loop) as ctl:
        assert loop.call(ctl.start, "q", quick) == StepOutcome("finished", result=42)
        assert ctl.active() == []


def test_a_failing_run_is_an_outcome(loop: CampaignLoop) -> None:
    async def broken() -> None:
        await checkpoint("x")
        raise KeyError("boom")

    with _controller(loop) as ctl:
        loop.call(ctl.start, "r", broken)
        outcome = loop.call(ctl.step, "r")
        assert outcome.status == "failed"
        assert isinstance(outcome.error, KeyError)
        assert ctl.active() == []
        with pytest.raises(UsageError, match="failed"):
            loop.call(ctl.step, "r")


def test_finish_and_run_to_end_let_one_run_go_to_its_end(loop: CampaignLoop) -> None:
    trace: list[str] = []
    with _controller(loop) as ctl:
        loop.call(ctl.start, "a", _worker(trace, "a", 3))
        assert loop.call(ctl.run_to_end, "b", _worker(trace, "b", 2)).status == "finished"
        assert loop.call(ctl.finish, "a").result == "a done"
    assert trace == ["b0", "b1", "a0", "a1", "a2"]


def test_a_run_blocked_on_a_paused_run_is_reported_not_hung(loop: CampaignLoop) -> None:
    ready = anyio.Event()  # set by the paused run: no lock names it as the holder
    cleaned: list[str] = []

    async def holder() -> None:
        try:
            await checkpoint("holding")
            ready.set()
        finally:
            cleaned.append("holder")

    async def waiter() -> None:
        try:
            await checkpoint("before")
            await ready.wait()
            await checkpoint("got it")
        finally:
            cleaned.append("waiter")

    with _controller(loop, timeout=0.3) as ctl:
        loop.call(ctl.start, "h", holder)
        loop.call(ctl.start, "w", waiter)
        started = time.monotonic()
        assert loop.call(ctl.step, "w") == StepOutcome("blocked")
        assert 0.25 < time.monotonic() - started < 1.5
        assert ctl.active() == ["h"]
        with pytest.raises(UsageError, match="blocked"):
            loop.call(ctl.step, "w")
    # Closing cancelled both, and both cleanups ran.
    assert sorted(cleaned) == ["holder", "waiter"]


def test_stepping_what_cannot_move_is_a_usage_error(loop: CampaignLoop) -> None:
    with _controller(loop) as ctl:
        with pytest.raises(UsageError, match="unknown"):
            loop.call(ctl.step, "ghost")
        loop.call(ctl.start, "a", _worker([], "a", 1))
        with pytest.raises(UsageError, match="already started"):
            loop.call(ctl.start, "a", _worker([], "a", 1))
        loop.call(ctl.step, "a")
        with pytest.raises(UsageError, match="finished"):
            loop.call(ctl.step, "a")


def test_closing_with_paused_runs_cancels_them(loop: CampaignLoop) -> None:
    cleaned: list[str] = []

    def pausing(name: str) -> Worker:
        async def run() -> str:
            try:
                await checkpoint("p")
                await checkpoint("q")
            finally:
                cleaned.append(name)
            return name

        return run

    with _controller(loop) as ctl:
        loop.call(ctl.start, "a", pausing("a"))
        loop.call(ctl.start, "b", pausing("b"))
        loop.call(ctl.step, "b")
        assert cleaned == []
    assert sorted(cleaned) == ["a", "b"]


def test_cancel_all_runs_the_cleanups_and_frees_the_ids(loop: CampaignLoop) -> None:
    cleaned: list[str] = []

    async def run() -> None:
        try:
            await checkpoint("p")
        finally:
            cleaned.append("done")

    with _controller(loop) as ctl:
        loop.call(ctl.start, "a", run)
        loop.call(ctl.cancel_all)
        assert cleaned == ["done"]
        assert ctl.active() == []
        # The next example reuses run ids.
        assert loop.call(ctl.start, "a", run).status == "paused"


def test_checkpoint_outside_a_controller_is_a_no_op(loop: CampaignLoop) -> None:
    anyio.run(checkpoint, "anything")

    async def bystander() -> str:
        await checkpoint("not a run")
        return "ran through"

    # Even in the campaign loop, next to a paused run, a task the controller did not
    # start runs straight through its checkpoints.
    with _controller(loop) as ctl:
        loop.call(ctl.start, "a", _worker([], "a", 2))
        assert loop.call(bystander) == "ran through"
        assert ctl.active() == ["a"]


def _script(loop: CampaignLoop) -> list[Any]:
    trace: list[str] = []
    outcomes: list[Any] = []
    with _controller(loop) as ctl:
        for name, points in (("a", 3), ("b", 2), ("c", 1)):
            outcomes.append(loop.call(ctl.start, name, _worker(trace, name, points)))
        for name in "cbaabab":
            if name in ctl.active():
                outcomes.append(loop.call(ctl.step, name))
    return [*outcomes, trace]


def test_the_same_script_gives_the_same_trace(loop: CampaignLoop) -> None:
    first = _script(loop)
    assert first == _script(loop)
    assert first[-1] == ["c0", "b0", "a0", "a1", "b1", "a2"]


@pytest.mark.anyio
async def test_the_controller_works_inside_plain_async_code() -> None:
    trace: list[str] = []
    async with RunController(block_timeout=1.0) as ctl:
        await ctl.start("a", _worker(trace, "a", 2))
        await ctl.start("b", _worker(trace, "b", 1))
        assert (await ctl.step("b")).status == "finished"
        assert (await ctl.finish("a")).result == "a done"
    assert trace == ["b0", "a0", "a1"]


def test_a_bad_timeout_and_an_unentered_controller_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="positive"):
        RunController(block_timeout=0)
    with pytest.raises(UsageError, match="enter"):
        anyio.run(RunController().start, "a", _worker([], "a", 1))
    with pytest.raises(UsageError, match="not open"):
        _ = CampaignLoop().portal


@settings(max_examples=30, deadline=None)
@given(
    runs=st.integers(2, 3),
    choices=st.lists(st.integers(0, 2), max_size=12),
)
def test_the_global_trace_is_the_order_of_the_steps(
    loop: CampaignLoop, runs: int, choices: list[int]
) -> None:
    trace: list[str] = []
    expected: list[str] = []
    names = ["a", "b", "c"][:runs]
    with _controller(loop) as ctl:
        for name in names:
            loop.call(ctl.start, name, _worker(trace, name, 3))
        done = dict.fromkeys(names, 0)
        for choice in choices:
            name = names[choice % runs]
            if name not in ctl.active():
                continue
            outcome = loop.call(ctl.step, name)
            expected.append(f"{name}{done[name]}")
            done[name] += 1
            assert outcome.status == ("finished" if done[name] == 3 else "paused")
        assert ctl.active() == [n for n in names if done[n] < 3]
    assert trace == expected
