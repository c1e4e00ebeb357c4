"""Why a campaign stopped and what its verdict is: the rules that make a verdict trustworthy.

Design note (issue 10).  "clean" must mean clean and "violation" a violation:

* A signal wins.  A campaign that SIGINT or SIGTERM stopped is "interrupted",
  whatever it saw, and its command exits 130 or 143, never 0.
* A finding is a "violation" only once a replay of the shrunk scenario shows it
  again (k of N, k > 0); otherwise it is "unconfirmed": saved apart, never in the
  corpus.  A stalled Redis once turned a 5 s block timeout into a "violation" of the
  correct platform that replayed 0 of 5 times.
* A campaign that completed no example is never "clean": "no examples", because the
  budget was too small (exit 2) or something else stopped it (exit 3).
* A target that fails most runs is "not working" (exit 3), never "clean": a run that
  raises is checked by nothing, so a system that raised on every request once passed
  (see :meth:`~isolation_fuzz.engine.example.harness.RunCounts.target_not_working`).  A
  confirmed violation still stands.

The stop reason says why the search ended, one of :data:`STOP_REASONS`.  Pure
functions over the campaign's counters; :mod:`~isolation_fuzz.engine.campaign.runner`
calls them once, after the session has closed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from isolation_fuzz.engine.campaign.budget import Budget
    from isolation_fuzz.engine.campaign.finding import Finding

__all__ = [
    "STOP_REASONS",
    "Verdict",
    "stop_reason_of",
    "trouble_seen",
    "verdict_of",
    "why_ended",
]

#: Why a campaign's search ended: a failing example, the time or example budget
#: spent, a signal, or (in an aborted campaign's report) a tool error.
STOP_REASONS = ("violation", "budget", "examples", "interrupted", "infrastructure")

Verdict = Literal[
    "clean", "violation", "unconfirmed", "interrupted", "no examples", "not working"
]


def verdict_of(
    finding: Finding | None,
    examples: int,
    signal_name: str | None,
    reproduced: int | None,
    not_working: bool = False,
) -> Verdict:
    """A signal wins; then a confirmed finding; then a target failing most runs
    (``not_working``); then an unconfirmed finding; then whether anything ran."""
    if signal_name is not None:
        return "interrupted"
    if finding is not None and reproduced:
        return "violation"
    if not_working:
        return "not working"
    if finding is not None:
        return "unconfirmed"
    return "clean" if examples > 0 else "no examples"


def stop_reason_of(
    stopped_by: str | None,
    finding: Finding | None,
    budget: Budget,
    started: float,
    signal_name: str | None,
) -> str:
    """One of :data:`STOP_REASONS` for a campaign that returned."""
    if signal_name is not None:
        return "interrupted"
    if stopped_by == "budget":
        return "budget"
    return why_ended(finding, budget, started) if stopped_by in (None, "shrink limit") else (
        stopped_by
    )


def trouble_seen(finding: Finding | None) -> bool:
    """Whether the campaign saw a run blocked: what a stalled service looks like.

    A finding that blocked a run and then never replays is most likely a service
    that stalled (issue 10: Redis under SIGSTOP), not a bug.
    """
    if finding is None:
        return False
    return any(v.invariant == "runs_make_progress" for v in finding.violations)


def why_ended(finding: Finding | None, budget: Budget, started: float) -> str:
    """Why a search that no one stopped ended: a failure, or a budget used up."""
    if finding is not None:
        return "violation"
    if budget.seconds is not None and time.monotonic() - started >= budget.seconds:
        return "budget"
    return "examples"
