"""The campaign's event stream: the budget resolved once, events in their documented order."""

from __future__ import annotations

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, run_campaign
from isolation_fuzz.engine.campaign.budget import PROFILES, resolve_budget
from isolation_fuzz.engine.campaign.events import (
    CampaignEvent,
    CampaignFinished,
    CampaignStarted,
    Progress,
    ShrinkImproved,
    Stopped,
    ViolationFound,
)
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.errors import UsageError
from isolation_fuzz.target import TargetSpec


class Recorder:
    """A handler that keeps every event."""

    def __init__(self) -> None:
        self.events: list[CampaignEvent] = []

    def handle_event(self, event: CampaignEvent) -> None:
        self.events.append(event)


def _run(target: str, **kwargs: object) -> tuple[CampaignResult, list[CampaignEvent]]:
    recorder = Recorder()
    config = CampaignConfig(target=TargetSpec(target), **kwargs)  # type: ignore[arg-type]
    return run_campaign(config, handlers=[recorder]), recorder.events


@pytest.fixture(scope="module")
def found() -> tuple[CampaignResult, list[CampaignEvent]]:
    return _run("zoo:broadcast_events", max_examples=100, seed=0)


def test_an_explicit_example_count_is_the_whole_budget() -> None:
    budget = resolve_budget("nightly", max_examples=50)
    assert (budget.profile, budget.seconds, budget.max_examples) == (PROFILES["nightly"], None, 50)
    assert resolve_budget("nightly").seconds == PROFILES["nightly"].budget_seconds
    assert resolve_budget("quick", budget_seconds=5.0).max_examples is None  # time is the budget
    assert resolve_budget("quick", 7, 5.0).max_examples == 7


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"profile": "weekly"}, "unknown profile 'weekly'"),
        ({"profile": "quick", "max_examples": 0}, "at least 1"),
    ],
)
def test_a_bad_budget_is_a_usage_error(kwargs: dict[str, object], shown: str) -> None:
    with pytest.raises(UsageError, match=shown):
        resolve_budget(**kwargs)  # type: ignore[arg-type]


def test_the_stream_opens_with_the_resolved_budget_and_closes_with_the_result(
    found: tuple[CampaignResult, list[CampaignEvent]],
) -> None:
    result, events = found
    first, last = events[0], events[-1]
    assert isinstance(first, CampaignStarted)
    assert first.budget.seconds is None
    assert first.budget.max_examples == 100
    assert first.budget.profile.name == "quick"
    assert (first.seed, first.target) == (result.seed, result.target)
    assert isinstance(last, CampaignFinished)
    assert last.result is result


def test_the_first_failure_comes_before_shrinking_and_the_last_shrink_is_the_result(
    found: tuple[CampaignResult, list[CampaignEvent]],
) -> None:
    result, events = found
    kinds = [type(e) for e in events if not isinstance(e, Progress)]
    assert kinds.count(ViolationFound) == 1
    assert kinds.count(Stopped) == 1
    assert kinds.index(ViolationFound) < kinds.index(Stopped)
    assert all(kinds.index(ViolationFound) < i for i, k in enumerate(kinds) if k is ShrinkImproved)
    violation = next(e for e in events if isinstance(e, ViolationFound))
    assert not violation.finding.shrunk
    shrinks = [e.finding for e in events if isinstance(e, ShrinkImproved)]
    assert shrinks[-1] == result.finding
    lengths = [scenario_length(f.moves) for f in [violation.finding, *shrinks]]
    assert lengths == sorted(lengths, reverse=True)
    assert next(e for e in events if isinstance(e, Stopped)).reason == "violation"


def test_a_clean_campaign_reports_progress_and_stops_on_its_example_budget() -> None:
    result, events = _run("reference", max_examples=3, seed=5)
    assert result.verdict == "clean"
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress
    assert progress[-1].counts.examples <= result.examples
    assert not any(isinstance(e, ViolationFound | ShrinkImproved) for e in events)
    assert [e.reason for e in events if isinstance(e, Stopped)] == ["examples"]
