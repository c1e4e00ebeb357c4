"""The events a campaign emits, and the protocol of those who listen.

Design note.  A campaign used to hand its news back through callbacks
(``on_progress``, ``on_finding``) while the CLI recomputed what it needed (the
budget, for the progress bar) on the side.  Now the campaign emits one stream of
typed, frozen events, as Schemathesis's engine does (``engine/events.py``), and
every reporter is an :class:`EventHandler` of that stream: the progress bar, the
report files, the text verdict.  The engine knows none of them.

The order is fixed, so a handler can rely on it::

    CampaignStarted
    Progress*                    (after every step; a handler throttles for itself)
    ViolationFound?              (the first failing example, before any shrinking)
    ShrinkImproved*              (each smaller failing example; the last is the result's)
    Stopped                      (why the search ended; exactly once)
    Confirmed?                   (a finding replayed N times: how often it showed)
    CampaignFinished             (the result, the same object run_campaign returns)

``ViolationFound`` comes the moment an example fails, before shrinking starts, so a
handler can save the case before anything else can go wrong (a killed job, a
crashing shrink).  A campaign that raises after its start (a service that dies, a
second Ctrl-C) emits ``CampaignAborted`` instead of ``CampaignFinished``, so the
report can still say what happened ("infrastructure", "interrupted"), then raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from isolation_fuzz.engine.campaign.budget import Budget
    from isolation_fuzz.engine.campaign.finding import Finding
    from isolation_fuzz.engine.campaign.result import CampaignResult
    from isolation_fuzz.target import TargetSpec

__all__ = [
    "CampaignAborted",
    "CampaignEvent",
    "CampaignFinished",
    "CampaignStarted",
    "Confirmed",
    "Counts",
    "EventHandler",
    "Progress",
    "ShrinkImproved",
    "Stopped",
    "ViolationFound",
    "emit",
]


@dataclass(frozen=True)
class Counts:
    """A snapshot of a campaign's counters (the live ones keep changing)."""

    examples: int
    steps: int
    violations: int
    tool_calls: int


@dataclass(frozen=True)
class CampaignStarted:
    """The campaign is about to start its services; its budget is final.

    Attributes:
        target: The system under test.
        budget: The resolved budget (profile, seconds, examples): read it here, never
            recompute it from flags.
        seed: The campaign seed, or ``None`` when the profile is derandomized.
    """

    target: TargetSpec
    budget: Budget
    seed: int | None


@dataclass(frozen=True)
class Progress:
    """The counters after a step, and seconds since the campaign started.

    A stress run's progress also carries its live figures (``live``), which the stress
    line draws; a campaign's carries none.
    """

    counts: Counts
    elapsed: float
    live: LiveFigures | None = None


class LiveFigures(Protocol):
    """What a stress run measures as it goes (its window's counters)."""

    identities: int
    connected: int
    ended: int
    events: int
    violations: int
    began: float

    def percentile(self, q: float, last: int | None = None) -> float | None:
        """The ``q`` quantile of the delivery latencies (of the ``last`` ones)."""


@dataclass(frozen=True)
class ViolationFound:
    """The first failing example, as it failed: not shrunk yet."""

    finding: Finding
    elapsed: float


@dataclass(frozen=True)
class ShrinkImproved:
    """A smaller failing example, or the same one now known to be fully shrunk."""

    finding: Finding


@dataclass(frozen=True)
class Stopped:
    """The search ended; ``reason`` says why.

    One of ``"violation"`` (an example failed), ``"examples"`` (the example budget
    ran out), ``"budget"`` (the time budget ran out), ``"shrink limit"`` (shrinking
    used its allowance), ``"SIGINT"`` or ``"SIGTERM"`` (someone asked it to stop).
    """

    reason: str


@dataclass(frozen=True)
class Confirmed:
    """The shrunk finding was replayed ``runs`` times and showed ``reproduced`` times.

    A finding that never reproduces is not reported as a violation (a stalled
    service can fail one example and no replay).
    """

    finding: Finding
    reproduced: int
    runs: int


@dataclass(frozen=True)
class CampaignAborted:
    """The campaign raised after it started; no ``CampaignFinished`` will come.

    Attributes:
        state: ``"infrastructure"`` (a tool error: a service died or stalled) or
            ``"interrupted"`` (a signal that could not wait for a step's end).
        reason: One line saying what happened, secrets already redacted.
        signal: ``"SIGINT"`` or ``"SIGTERM"`` when a signal ended it.
        examples: Examples run before it ended.
    """

    state: str
    reason: str
    signal: str | None = None
    examples: int = 0


@dataclass(frozen=True)
class CampaignFinished:
    """The campaign's result: the same record :func:`run_campaign` returns."""

    result: CampaignResult


CampaignEvent = (
    CampaignStarted
    | Progress
    | ViolationFound
    | ShrinkImproved
    | Stopped
    | Confirmed
    | CampaignFinished
    | CampaignAborted
)


class EventHandler(Protocol):
    """Anything that listens to a campaign: a reporter, a test, a user's dashboard.

    Handlers are called synchronously, in the order given, from the thread running
    the campaign; an exception from one ends the campaign (a report that cannot be
    saved must not pass silently).  ``Progress`` comes after every step, so a handler
    that draws throttles itself.
    """

    def handle_event(self, event: CampaignEvent) -> None:
        """React to one event of the campaign."""


def emit(handlers: tuple[EventHandler, ...], event: CampaignEvent) -> None:
    """Give ``event`` to every handler, in order."""
    for handler in handlers:
        handler.handle_event(event)
