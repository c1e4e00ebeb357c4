"""The campaign's control: what the state machine consults after every rule.

Design note (issue 18).  A campaign decides to stop for three reasons (its time
budget ran out, shrinking used its allowance, a signal came) and hears of two
things as they happen (a step was taken, an example failed).  Before, those
decisions travelled down into every example as callbacks stored on the harness and
came back up as an exception through Hypothesis.  Now the state machine holds one
:class:`CampaignControl` and calls it after each rule (:meth:`after_rule`: a stop
reason raised as :class:`~isolation_fuzz.engine.stopping.StopRequested`, then the
progress event) and on each failing example (:meth:`failed`: the finding kept and
announced before any shrinking, so nothing is lost), as Schemathesis's engine
consults its ``ExecutionControl``.  The example's world
(:class:`~isolation_fuzz.engine.example.harness.Harness`) knows none of it.

:class:`Lifecycle` is the part both runners share: the first event, the abort event
when a runner raises instead of returning, and the last event with the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from isolation_fuzz.engine.campaign.budget import Budget
from isolation_fuzz.engine.campaign.events import (
    CampaignAborted,
    CampaignFinished,
    CampaignStarted,
    Counts,
    EventHandler,
    Progress,
    ShrinkImproved,
    ViolationFound,
    emit,
)
from isolation_fuzz.engine.campaign.finding import Finding
from isolation_fuzz.engine.campaign.result import CampaignResult
from isolation_fuzz.engine.example.harness import IsolationViolated, Stats
from isolation_fuzz.engine.stopping import Stopper, StopRequested, signalled
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.errors import IsolationFuzzError
from isolation_fuzz.target import TargetSpec

__all__ = ["CampaignControl", "Lifecycle", "aborted"]


@dataclass
class CampaignControl:
    """Stop reasons and news for one campaign's search, consulted by its state machine.

    Attributes:
        budget: The resolved budget: its deadline and its shrink allowance.
        stopper: Deadlines, the shrink limit and signals.
        listeners: The handlers that hear the progress and failure events.
        started: When the campaign started (``time.monotonic()``).
        best: The shortest failing example seen so far, if any.
    """

    budget: Budget
    stopper: Stopper
    listeners: tuple[EventHandler, ...] = ()
    started: float = field(default_factory=time.monotonic)
    best: Finding | None = None

    def after_rule(self, stats: Stats) -> None:
        """Raise :class:`StopRequested` if the campaign must stop; else report progress."""
        self.stopper.check(stats.examples)
        if self.listeners:
            counts = Counts(stats.examples, stats.steps, stats.violations, stats.tool_calls)
            emit(self.listeners, Progress(counts, time.monotonic() - self.started))

    def failed(self, failure: IsolationViolated, stats: Stats) -> None:
        """Keep a failing example if it is the shortest yet, and say so at once."""
        found = Finding.of(failure)
        best = self.best
        if best is not None and scenario_length(found.moves) >= scenario_length(best.moves):
            return
        if best is None:
            # Shrinking may run this many more examples (the budget's allowance).
            self.stopper.shrink_after = stats.examples + self.budget.shrink_examples
        self.best = found
        elapsed = time.monotonic() - self.started
        emit(self.listeners, ViolationFound(found, elapsed) if best is None
             else ShrinkImproved(found))


@dataclass
class Lifecycle:
    """The events every runner emits around its work, from first to last."""

    listeners: tuple[EventHandler, ...]
    target: TargetSpec
    budget: Budget
    seed: int | None

    @contextmanager
    def running(self, examples: Callable[[], int]) -> Iterator[None]:
        """Announce the start; if the body raises, announce why (after ``examples()``
        examples), then let it raise."""
        emit(self.listeners, CampaignStarted(self.target, self.budget, self.seed))
        try:
            yield
        except (Exception, KeyboardInterrupt) as exc:
            emit(self.listeners, aborted(exc, examples()))
            raise

    def finished(self, result: CampaignResult) -> CampaignResult:
        """Announce the result, and return it."""
        emit(self.listeners, CampaignFinished(result))
        return result


def aborted(exc: BaseException, examples: int) -> CampaignAborted:
    """The event that says why a runner raised instead of returning."""
    if isinstance(exc, KeyboardInterrupt):
        name = (exc.reason if isinstance(exc, StopRequested) else None) or signalled() or "SIGINT"
        return CampaignAborted("interrupted", f"interrupted by {name}", name, examples)
    if isinstance(exc, IsolationFuzzError):
        state = "infrastructure" if exc.exit_code == 3 else "error"
        return CampaignAborted(state, str(exc), signalled(), examples)
    return CampaignAborted("error", f"{type(exc).__name__}: {exc}", signalled(), examples)
