"""What a campaign found and what it spent: the record both runners return.

It lives apart from the runners so that the events (which carry it) and the
verdict rules (which it reports) need not import an orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from isolation_fuzz.engine.campaign.finding import Finding
from isolation_fuzz.engine.campaign.userids import Declared
from isolation_fuzz.engine.campaign.verdict import Verdict
from isolation_fuzz.engine.example.harness import RunCounts
from isolation_fuzz.engine.stopping import SIGNAL_EXIT_CODES
from isolation_fuzz.target import TargetSpec

__all__ = ["CampaignResult"]


@dataclass(frozen=True)
class CampaignResult:
    """What a campaign found and what it spent.

    ``verdict`` is "violation" only for a confirmed finding; ``finding`` is kept for
    an unconfirmed or interrupted one too, so that it can be saved apart.
    """

    verdict: Verdict
    finding: Finding | None
    examples: int
    steps: int
    elapsed: float
    seed: int | None
    profile: str
    target: TargetSpec
    services: dict[str, str]
    #: Seconds of fuzzing (engines already up) and examples run until the first violation.
    first_failure_seconds: float | None = None
    first_failure_examples: int | None = None
    #: Why the campaign stopped before its budget: "SIGINT", "SIGTERM", "budget"...
    stopped_by: str | None = None
    #: Seconds spent fuzzing, engines already up; and the tool calls performed in them.
    fuzzing_seconds: float = 0.0
    tool_calls: int = 0
    #: One of :data:`STOP_REASONS`; and the signal, when one stopped the campaign.
    stop_reason: str = "examples"
    signal: str | None = None
    #: Replays of the finding that showed it again, and replays made (``None``: none).
    reproduced: int | None = None
    confirm_runs: int = 0
    #: Whether the campaign saw runs blocked (a stalled service looks like that).
    infrastructure_trouble: bool = False
    #: The time budget, to say so when it was too small for one example.
    budget_seconds: float | None = None
    #: How the runs ended: finished, failed by error type, rejected, blocked.
    runs: RunCounts = field(default_factory=RunCounts)
    declared: Declared = field(default_factory=Declared)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 confirmed violation, 2 budget too small, 3 trouble, 130/143 signals."""
        if self.verdict == "interrupted":
            return SIGNAL_EXIT_CODES.get(self.signal or "", 130)
        if self.verdict == "violation":
            return 1
        if self.verdict == "not working":
            return 3  # the target failed most runs: nothing it did was checked
        if self.verdict == "no examples":
            return 2 if self.stop_reason == "budget" else 3
        if self.verdict == "unconfirmed" and self.infrastructure_trouble:
            return 3
        return 0
