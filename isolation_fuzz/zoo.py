"""Run a campaign against each seeded bug, then the correct platform, and tabulate.

The zoo is the project's self-check and its demo: every variant must be caught,
the correct platform must stay clean, and every shrunk scenario must be at most one
move longer than the shortest interleaving that shows that bug.  Everything the
runner knows about a bug (its target name, that length) it reads from the bug's
record, :class:`isolation_fuzz.platform.bugs.SeededBug`.

A bug counts as caught only by a confirmed finding (the campaign's replays showed
it again).  A signal stops the zoo after the campaign it interrupted, whose row is
left out: the command prints the rows it has and exits with the signal's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from isolation_fuzz import CampaignConfig, CampaignResult, run_campaign
from isolation_fuzz.engine.example.harness import Limits
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.engine.trace import scenario_length
from isolation_fuzz.errors import UsageError
from isolation_fuzz.platform.bugs import BUGS, seeded_bug
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec

__all__ = ["ZooRow", "format_zoo", "run_zoo", "shortest_for"]


@dataclass(frozen=True)
class ZooRow:
    """One line of the zoo table."""

    bug: str
    caught: bool
    invariants: tuple[str, ...]
    first_failure_seconds: float | None
    first_failure_examples: int | None
    shrunk_moves: int | None
    shortest_moves: int | None
    examples: int
    elapsed: float
    #: The correct system that must stay clean (``reference``, or ``zoo --target``'s).
    control: bool = False

    def __post_init__(self) -> None:
        if self.bug == "reference":
            object.__setattr__(self, "control", True)

    @property
    def ok(self) -> bool:
        """Caught (or, for the correct system, clean) and shrunk to within one move."""
        if self.control:
            return not self.caught
        if not self.caught or self.shrunk_moves is None or self.shortest_moves is None:
            return False
        return self.shrunk_moves <= self.shortest_moves + 1

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def shortest_for(bug: str, points: Points = "auto") -> int:
    """The length of the shortest interleaving that shows ``bug`` (from its record).

    With automatic points only, the bug's ``shortest_auto`` where it states one.
    """
    record = seeded_bug(bug)
    if points == "auto-only" and record.shortest_auto is not None:
        return record.shortest_auto
    return record.shortest


def _row(
    bug: str, result: CampaignResult, points: Points = "auto", control: bool = False
) -> ZooRow:
    finding = result.finding
    return ZooRow(
        bug=bug,
        caught=result.verdict == "violation",
        invariants=tuple(sorted({v.invariant for v in finding.violations})) if finding else (),
        first_failure_seconds=result.first_failure_seconds,
        first_failure_examples=result.first_failure_examples,
        shrunk_moves=scenario_length(finding.moves) if finding else None,
        shortest_moves=None if control else shortest_for(bug, points),
        examples=result.examples,
        elapsed=result.elapsed,
        control=control,
    )


def run_zoo(
    bugs: Sequence[str] = BUGS,
    *,
    budget_per_bug: float = 60.0,
    seed: int = 0,
    services: ServiceConfig | None = None,
    on_row: Callable[[ZooRow], None] | None = None,
    points: Points = "auto",
    control: str = "reference",
) -> list[ZooRow]:
    """A campaign per bug, then one on the correct system; one row each.

    ``control`` is the correct system that must stay clean: the reference platform,
    or a user's own target (a name or an import path), so that ``zoo --target``
    checks the user's system alongside the zoo's bugs.

    ``points`` says where runs interleave; with ``auto-only`` the platform's explicit
    checkpoints are switched off, and each shrunk scenario is held to the bug's
    ``shortest_auto``.
    """
    unknown = sorted(set(bugs) - set(BUGS))
    if unknown:
        raise UsageError(f"unknown bug(s) {unknown}; choose from {list(BUGS)}")
    rows = []
    for name in [*bugs, None]:
        target = control if name is None else seeded_bug(name).target
        config = CampaignConfig(
            target=TargetSpec(target),
            max_examples=1_000_000,
            budget_seconds=budget_per_bug,
            seed=seed,
            services=services or ServiceConfig.from_env(),
            limits=Limits(points=points),
        )
        result = run_campaign(config)
        if result.verdict == "interrupted":
            break
        row = _row(control if name is None else name, result, points, control=name is None)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


HEADER = ("bug", "caught", "invariant", "first failure", "examples", "shrunk", "shortest")


def format_row(row: ZooRow) -> tuple[str, ...]:
    """The table cells of one row."""
    first = "-" if row.first_failure_seconds is None else f"{row.first_failure_seconds:.1f}s"
    caught = ("clean" if not row.caught else "VIOLATION") if row.control else (
        "yes" if row.caught else "NO"
    )
    return (
        row.bug,
        caught,
        ", ".join(row.invariants) or "-",
        first,
        "-" if row.first_failure_examples is None else str(row.first_failure_examples),
        "-" if row.shrunk_moves is None else str(row.shrunk_moves),
        "-" if row.shortest_moves is None else str(row.shortest_moves),
    )


def format_zoo(rows: Sequence[ZooRow]) -> str:
    """A Markdown table of the rows, then the verdict."""
    cells = [HEADER, *(format_row(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) + " |"
             for cell in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    bugs = [r for r in rows if not r.control]
    caught = sum(r.caught for r in bugs)
    times = sorted(r.first_failure_seconds for r in bugs if r.first_failure_seconds is not None)
    median = times[len(times) // 2] if times else None
    verdict = "PASS" if all(r.ok for r in rows) else "FAIL"
    median_text = "-" if median is None else f"{median:.1f}s"
    lines.append("")
    lines.append(
        f"{caught}/{len(bugs)} caught, median time to first failure {median_text}; "
        f"verdict: {verdict}"
    )
    return "\n".join(lines)
