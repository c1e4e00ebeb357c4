"""The verdict as text: what a person reads at the end of ``isolation-fuzz run``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from isolation_fuzz.engine.events import CampaignEvent, CampaignFinished
from isolation_fuzz.engine.trace import format_moves, scenario_length
from isolation_fuzz.model import violation_text

if TYPE_CHECKING:
    from isolation_fuzz.engine.campaign import CampaignResult

__all__ = ["TextVerdict", "format_result"]


class TextVerdict:
    """A handler that prints :func:`format_result` to ``stream`` when the campaign finishes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def handle_event(self, event: CampaignEvent) -> None:
        """Print the verdict of a finished campaign; ignore everything before it."""
        if isinstance(event, CampaignFinished):
            self.stream.write(format_result(event.result) + "\n")


def format_result(result: CampaignResult) -> str:
    """Verdict, budget spent, and for a violation the shrunk scenario and its evidence."""
    services = ", ".join(f"{name}={where}" for name, where in result.services.items())
    seed = "derandomized" if result.seed is None else f"seed {result.seed}"
    head = (
        f"target {result.target.name} ({result.target.transport}), profile {result.profile}, "
        f"{seed}\nservices: {services}\n"
        f"{result.examples} examples, {result.steps} steps in {result.elapsed:.1f}s "
        f"({result.steps / max(result.elapsed, 1e-9):.0f} steps/s)"
    )
    if result.stopped_by not in (None, "budget"):
        head += f"\nstopped early by {result.stopped_by}; everything found so far is reported"
    if result.finding is None:
        return f"{head}\nverdict: clean (no violation found)"
    finding = result.finding
    shrunk = "" if finding.shrunk else " (not fully shrunk)"
    lines = [head, f"verdict: VIOLATION{shrunk}", ""]
    moves = scenario_length(finding.moves)
    lines.append(f"shortest failing scenario found ({moves} move(s) before the final reads):")
    lines.append(format_moves(finding.identities, finding.moves))
    lines.append("")
    lines.append("what went wrong:")
    for violation in finding.violations:
        lines.append(f"  {violation_text(violation)}")
    rerun = "" if result.seed is None else f" --seed {result.seed}"
    lines.append("")
    lines.append(f"re-run with: isolation-fuzz run --target {result.target.name}{rerun}")
    return "\n".join(lines)
