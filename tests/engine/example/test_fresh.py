"""A fresh target per example: the factory is called again, reset() still clears the data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.example.fresh import FreshTarget, fresh_target
from isolation_fuzz.engine.example.harness import Limits
from isolation_fuzz.model import Plan
from isolation_fuzz.target import Target, TargetSpec, register_target


class _Fake:
    def __init__(self, number: int, log: list[str]) -> None:
        self.number = number
        self.log = log
        self.capabilities = None

    async def connect(self, token: str) -> Any:
        self.log.append(f"connect {self.number}")

    async def run(self, token: str, thread_id: str, plan: Plan, run_id: str) -> list[Any]:
        self.log.append(f"run {self.number}")
        return []

    async def residue(self, run_id: str) -> Mapping[str, list[str]]:
        return {}

    async def reset(self) -> None:
        self.log.append(f"reset {self.number}")


def _opener(log: list[str]) -> Any:
    count = [0]

    @asynccontextmanager
    async def open_fake() -> AsyncIterator[Target]:
        count[0] += 1
        log.append(f"open {count[0]}")
        try:
            yield _Fake(count[0], log)
        finally:
            log.append(f"close {count[0]}")

    return open_fake


@pytest.mark.anyio
async def test_reset_clears_closes_and_opens_a_new_target() -> None:
    log: list[str] = []
    async with fresh_target(_opener(log)) as target:
        await target.run("t", "th", (), "r1")
        await target.reset()
        await target.run("t", "th", (), "r2")
        assert target.opened == 2
    assert log == [
        "open 1", "run 1", "reset 1", "close 1", "open 2", "run 2", "close 2",
    ]


@pytest.mark.anyio
async def test_a_closed_fresh_target_says_so() -> None:
    target = FreshTarget(_opener([]))
    with pytest.raises(RuntimeError, match="before start"):
        await target.run("t", "th", (), "r1")


def test_a_campaign_with_fresh_targets_calls_the_factory_once_per_example() -> None:
    from examples.chatdesk.adapter import open_target

    opened: list[int] = []

    def counting(spec: TargetSpec, services: Any, auth: Any) -> AbstractAsyncContextManager[Any]:
        opened.append(1)
        return open_target(spec, services, auth)

    counting.capabilities = open_target.capabilities  # type: ignore[attr-defined]
    register_target("test-fresh:chatdesk", counting)
    result = run_campaign(CampaignConfig(
        target=TargetSpec("test-fresh:chatdesk"), max_examples=6, seed=3,
        limits=Limits(fresh_target=True),
    ))
    assert result.verdict == "clean"
    # One target for each example's start (Hypothesis may run a few extra examples).
    assert len(opened) >= result.examples + 1

    opened.clear()
    result = run_campaign(CampaignConfig(target=TargetSpec("test-fresh:chatdesk"),
                                         max_examples=6, seed=3))
    assert result.verdict == "clean"
    assert len(opened) == 1
