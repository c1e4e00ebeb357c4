"""The verdict as text: what a person reads at the end of ``isolation-fuzz run``.

The verdict is one line that starts ``verdict:``, whatever happened: clean,
VIOLATION (with how often replays reproduced it), unconfirmed, interrupted, or no
examples.  Above it, the campaign's numbers and why it stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from isolation_fuzz.engine.campaign.events import CampaignEvent, CampaignFinished
from isolation_fuzz.engine.trace import format_moves, scenario_length
from isolation_fuzz.model import violation_text

if TYPE_CHECKING:
    from isolation_fuzz.engine.campaign.finding import Finding
    from isolation_fuzz.engine.campaign.result import CampaignResult

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
    head = _head(result)
    no_verdict = _no_verdict(result)
    if no_verdict is not None:
        return f"{head}\nverdict: {no_verdict}"
    if result.finding is None:
        return f"{head}\nverdict: clean (no violation found)"
    if result.verdict == "unconfirmed":
        trouble = (
            "; runs were blocked, so a service probably stalled" if result.infrastructure_trouble
            else ""
        )
        return (
            f"{head}\nverdict: unconfirmed: a failing example was seen but reproduced "
            f"0/{result.confirm_runs} times on replay; saved apart, not a violation{trouble}"
        )
    return "\n".join([head, *_violation_lines(result, result.finding)])


def _head(result: CampaignResult) -> str:
    """The lines above the verdict: what ran where, what it spent, and why it stopped."""
    services = ", ".join(f"{name}={where}" for name, where in result.services.items())
    seed = "derandomized" if result.seed is None else f"seed {result.seed}"
    head = (
        f"target {result.target.name} ({result.target.transport}), profile {result.profile}, "
        f"{seed}\nservices: {services}\n"
        f"{result.examples} examples, {result.steps} steps in {result.elapsed:.1f}s "
        f"({result.steps / max(result.elapsed, 1e-9):.0f} steps/s)"
    )
    head += f"\nstopped: {result.stop_reason}\nruns: {result.runs.describe()}"
    leaked = result.runs.leak_warning()
    if leaked is not None:
        head += f"\n{leaked}"
    declared = result.declared.describe()
    if declared is not None:
        head += f"\ndeclared: {declared}"
    return head


def _no_verdict(result: CampaignResult) -> str | None:
    """The verdict when the campaign could not judge isolation at all, else ``None``."""
    if result.verdict == "interrupted":
        saved = "" if result.finding is None else "; the failing example seen is saved, unconfirmed"
        return (
            f"interrupted by {result.signal} after {result.examples} "
            f"example(s); no verdict on isolation{saved}"
        )
    if result.verdict == "no examples":
        if result.stop_reason == "budget":
            return (
                "no examples: not one example completed in the budget of "
                f"{result.budget_seconds:g}s; give a larger --budget"
            )
        return "no examples: not one example completed; nothing was checked"
    if result.verdict == "not working":
        runs = result.runs
        kind, count = max(runs.failed.items(), key=lambda item: item[1])
        return (
            f"target not working: {runs.failed_total} of {runs.valid} runs "
            f"of valid identities failed (most with {kind}, {count}); a failed run is checked "
            "by nothing, so this is no verdict on isolation. Fix the target or its adapter, "
            "then run again"
        )
    return None


def _violation_lines(result: CampaignResult, finding: Finding) -> list[str]:
    """A confirmed finding from the verdict on: the scenario, what went wrong, how to re-run."""
    shrunk = "" if finding.shrunk else " (not fully shrunk)"
    confirmed = "" if result.reproduced is None else (
        f", reproduced {result.reproduced}/{result.confirm_runs}"
    )
    lines = [f"verdict: VIOLATION{shrunk}{confirmed}"]
    gathered = finding.gathered_text()  # would plain concurrency have caught it? (issue 12)
    lines += [f"plain concurrency: {gathered}", ""] if gathered else [""]
    moves = scenario_length(finding.moves)
    lines.append(f"shortest failing scenario found ({moves} move(s) before the final reads):")
    lines.append(format_moves(finding.identities, finding.moves))
    lines.append("")
    lines.append("what went wrong:")
    for violation in finding.violations:
        lines.append(f"  {violation_text(violation)}")
    rerun = "" if result.seed is None else f" --seed {result.seed}"
    rerun += "" if finding.points == "auto" else f" --points {finding.points}"
    lines.append("")
    lines.append(f"re-run with: {_app_override(result.target.name)}isolation-fuzz run "
                 f"--target {result.target.name}{rerun}")
    return lines


def _app_override(target: str) -> str:
    """``ISOLATION_FUZZ_ASGI_APP=... `` when this run fuzzed another app than its table's."""
    import os

    from isolation_fuzz.asgi import APP_ENV

    app = os.environ.get(APP_ENV) if target == "asgi" else None
    return f"{APP_ENV}={app} " if app else ""
