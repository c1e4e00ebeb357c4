"""A silent run is blocked only when every service answers and another run is paused.

The services here are stand-ins: a probe that answers or raises as the test says.
The real thing (a Redis stopped with SIGSTOP under a whole campaign) is
``tests/cli/test_slow_services.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import anyio
import pytest

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.loop import CampaignLoop
from isolation_fuzz.engine.schedule.runs import StepOutcome, Waited
from isolation_fuzz.engine.schedule.stall import StallPolicy
from isolation_fuzz.errors import ServiceUnavailable, TargetStalled, UsageError

BLOCK = 0.5  # wide enough that a loaded CI machine keeps the timings apart


@pytest.fixture(scope="module")
def loop() -> Iterator[CampaignLoop]:
    with CampaignLoop() as campaign_loop:
        yield campaign_loop


class _Services:
    """A probe whose answer the test sets; counts how often it was asked."""

    def __init__(self) -> None:
        self.down: str | None = None
        self.probes = 0

    async def probe(self) -> None:
        self.probes += 1
        if self.down is not None:
            raise ServiceUnavailable(self.down, "redis://127.0.0.1:1", "did not answer within 1s")


def _controller(services: _Services, service_timeout: float = 1.0,
                points: str = "explicit") -> RunController:
    # Explicit points: these tests are about silence between checkpoints, not awaits.
    return RunController(
        BLOCK, service_timeout=service_timeout, probe=services.probe,
        points=points,  # type: ignore[arg-type]
    )


async def _idle() -> None:
    await checkpoint("idle")
    await checkpoint("idle again")


def test_a_run_slow_on_a_stalled_service_ends_with_the_service_named(
    loop: CampaignLoop,
) -> None:
    services = _Services()
    services.down = "redis"

    async def stalled() -> None:
        await checkpoint("before")
        await anyio.sleep(30)  # a read from a server that stopped answering

    with loop.portal.wrap_async_context_manager(_controller(services)) as ctl:
        loop.call(ctl.start, "other", _idle)  # paused: without the probe this is "blocked"
        loop.call(ctl.start, "r", stalled)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="redis") as info:
            loop.call(ctl.step, "r")
        assert time.monotonic() - started < 1.0
        assert info.value.service == "redis"
        with pytest.raises(UsageError, match="blocked"):
            loop.call(ctl.step, "r")  # given up on: it never moves again


def test_a_service_that_comes_back_lets_the_run_go_on(loop: CampaignLoop) -> None:
    services = _Services()
    back = anyio.Event()

    async def slow() -> str:
        await checkpoint("before")
        await back.wait()  # the stalled server answers late
        await checkpoint("after")
        return "done"

    async def resume_later() -> None:
        await anyio.sleep(BLOCK * 1.5)  # past the block timeout, within the grace
        back.set()

    with loop.portal.wrap_async_context_manager(_controller(services)) as ctl:
        loop.call(ctl.start, "other", _idle)
        loop.call(ctl.start, "r", slow)
        loop.portal.start_task_soon(resume_later)
        assert loop.call(ctl.step, "r") == StepOutcome("paused", label="after")
        assert services.probes == 1


def test_a_run_waiting_on_a_paused_runs_lock_moves_the_holder_and_is_never_blocked(
    loop: CampaignLoop,
) -> None:
    services = _Services()
    lock = anyio.Lock()

    async def holder() -> None:
        async with lock:
            await checkpoint("holding")

    async def waiter() -> None:
        await checkpoint("before")
        async with lock:
            await checkpoint("got it")

    with loop.portal.wrap_async_context_manager(_controller(services)) as ctl:
        loop.call(ctl.start, "h", holder)
        loop.call(ctl.start, "w", waiter)
        started = time.monotonic()
        outcome = loop.call(ctl.step, "w")
        assert outcome == StepOutcome(
            "paused", label="got it", waited=(Waited("h", "lock", StepOutcome("finished")),)
        )
        assert time.monotonic() - started < BLOCK  # seen waiting, not waited out
        assert services.probes == 0
        assert ctl.active() == ["w"]


def test_a_run_waiting_on_what_no_lock_shows_is_blocked_when_services_answer(
    loop: CampaignLoop,
) -> None:
    services = _Services()
    ready = anyio.Event()

    async def setter() -> None:
        await checkpoint("about to set")
        ready.set()

    async def waiter() -> None:
        await checkpoint("before")
        await ready.wait()  # set by a paused run: an event names no holder
        await checkpoint("got it")

    with loop.portal.wrap_async_context_manager(_controller(services)) as ctl:
        loop.call(ctl.start, "s", setter)
        loop.call(ctl.start, "w", waiter)
        started = time.monotonic()
        assert loop.call(ctl.step, "w") == StepOutcome("blocked")
        # One block timeout, a probe, one more block timeout of grace, a probe.
        assert 2 * BLOCK <= time.monotonic() - started < 2 * BLOCK + 1.0
        assert services.probes == 2


def test_a_run_silent_with_no_other_run_paused_is_the_target_hanging(
    loop: CampaignLoop,
) -> None:
    services = _Services()

    async def hangs() -> None:
        await checkpoint("before")
        await anyio.sleep(30)

    with loop.portal.wrap_async_context_manager(_controller(services, 0.5)) as ctl:
        loop.call(ctl.start, "r", hangs)
        with pytest.raises(TargetStalled, match="no other run was paused") as caught:
            loop.call(ctl.step, "r")
    # It says where the run waits: the user's line that awaits, not only anyio's.
    assert f"{__file__}:{hangs.__code__.co_firstlineno + 2} in hangs" in str(caught.value)


async def _waits_forever() -> None:
    await asyncio.Event().wait()


async def _handler() -> None:
    await _waits_forever()


def test_a_stalled_run_under_automatic_points_is_shown_inside_its_own_code(
    loop: CampaignLoop,
) -> None:
    auto = _controller(_Services(), 0.5, points="auto")
    with loop.portal.wrap_async_context_manager(auto) as ctl, \
            pytest.raises(TargetStalled) as caught:
        loop.call(ctl.start, "r", _handler)
    # Through the driver that steps the run, down to the user's innermost await.
    line = _waits_forever.__code__.co_firstlineno + 1
    assert f"{__file__}:{line} in _waits_forever" in str(caught.value)


@pytest.mark.anyio
async def test_a_call_outside_any_run_is_bounded_and_blames_the_service() -> None:
    services = _Services()
    policy = StallPolicy(BLOCK, 0.3, services.probe)

    async def reset() -> None:
        await anyio.sleep(30)

    with pytest.raises(TargetStalled, match="reset"):
        await policy.bounded("reset", reset)
    services.down = "postgres"
    with pytest.raises(ServiceUnavailable, match="postgres"):
        await policy.bounded("reset", reset)


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(UsageError, match="service_timeout"):
        StallPolicy(1.0, 0)
