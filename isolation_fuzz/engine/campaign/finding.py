"""A finding: the violations of one failing example, the example itself, and what it needs.

A record, moved out of :mod:`isolation_fuzz.engine.campaign.runner` (which re-exports it) so
that the campaign module stays one job.  Besides the moves and the evidence it says
which interleaving points the example ran with (``points``: a replay must use the
same, see :mod:`isolation_fuzz.engine.schedule.points`) and, once shrunk, whether plain
concurrency already shows it (``gathered``, see :mod:`isolation_fuzz.engine.campaign.plainly`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from isolation_fuzz.engine.example.harness import IsolationViolated
from isolation_fuzz.engine.replay.scenario import Scenario
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.model import Violation
from isolation_fuzz.target import TargetSpec

__all__ = ["Finding"]


@dataclass(frozen=True)
class Finding:
    """The violations of one failing example, with the example itself."""

    violations: tuple[Violation, ...]
    identities: dict[str, str]
    moves: tuple[Move, ...]
    #: Whether no single move can be deleted with the violation still showing.
    shrunk: bool
    #: Every event delivery of the failing example (step, run, owner, receiver, foreign).
    deliveries: tuple[dict[str, Any], ...] = ()
    #: The interleaving points the example ran with.
    points: Points = "explicit"
    #: Of N plain concurrent performances of its runs (no pauses), how many failed too:
    #: ``(k, N)``; ``None`` when not tried (not shrunk, or stopped first).
    gathered: tuple[int, int] | None = None

    def to_scenario(self, target: TargetSpec, seed: int | None = None) -> Scenario:
        """The finding as a scenario file's contents (what replay and export read)."""
        return Scenario(
            target, dict(self.identities), self.moves, self.violations,
            shrunk=self.shrunk, seed=seed, points=self.points,
        )

    @classmethod
    def of(cls, failure: IsolationViolated, shrunk: bool = False) -> Finding:
        """The finding an example's failure carries (not shrunk unless told)."""
        return cls(
            tuple(failure.violations), dict(failure.identities), tuple(failure.moves), shrunk,
            tuple(failure.deliveries()), failure.points,
        )

    def gathered_text(self) -> str | None:
        """``also fails when the runs are simply gathered (k/N)`` or ``needs this interleaving``."""
        if self.gathered is None:
            return None
        k, n = self.gathered
        if k:
            return f"also fails when the runs are simply gathered ({k}/{n})"
        return f"needs this interleaving (the runs simply gathered passed {n}/{n})"
