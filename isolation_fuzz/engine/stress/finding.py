"""A violation seen under stress, turned into a stepped scenario like any other finding.

Design note (issue 14).  A stress window cannot replay what it saw: real I/O decided
part of the interleaving.  But it logged the order in which runs passed their
interleaving points (:attr:`Noise.log <isolation_fuzz.engine.stress.noise.Noise.log>`), and
a stepped run stops at the very same points (the window drives runs with the same
:class:`~isolation_fuzz.engine.schedule.points.RunHook`).  So:

1. **Candidate.**  Take the identities the violation names (at most the eight an
   example can hold, renamed ``A``, ``B``, ... in that order) and their most recent
   runs started before the violation (:data:`MAX_RUNS`).  Walk the log: a run's first
   stretch (from its start to its first point) becomes its ``start_run``, each later
   stretch a ``step``, in the order the stretches started (then, if that does not
   show it, the order they ended); other runs' points are left out.
   Plans keep their canaries and key marks, so the scenario is self-contained.
2. **Stepped replay.**  Perform the moves under the stepped controller
   (:func:`~isolation_fuzz.engine.replay.perform.perform`, not strict: a point that real
   timing created and the replay does not meet is skipped, and runs left paused
   finish in the final reads).  It reproduces when it violates one of the invariants
   stress saw.
3. **Shrink.**  First whole runs are dropped while it still fails (cheap, and most of
   a stress candidate is bystanders), then :func:`~isolation_fuzz.engine.replay.shrink.minimize`
   does what it does for every finding.

When the stepped replay does not show it, the caller measures the stress
reproduction rate instead and keeps the evidence: :func:`evidence` is the raw
history slice (the identities' and runs' records, the violations, the point order)
as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from isolation_fuzz.engine.example.harness import NAMES, Harness
from isolation_fuzz.engine.replay.perform import Replayed, perform
from isolation_fuzz.engine.replay.shrink import minimize
from isolation_fuzz.engine.stress.noise import END, START, Passed
from isolation_fuzz.engine.trace import Move, MoveKind
from isolation_fuzz.model import EventDelivered, Record, RunStarted, Violation, record_to_json

__all__ = ["MAX_RUNS", "Candidate", "Order", "candidate", "evidence", "shrink", "stepped"]

#: Runs of the involved identities a candidate takes, the most recent first.
MAX_RUNS = 8

#: Which order of the runs' stretches a candidate's moves follow.
Order = Literal["start", "end", "overlap"]


@dataclass(frozen=True)
class Candidate:
    """A stress violation as stepped moves, before any replay.

    Attributes:
        identities: ``A``, ``B``, ... to user ids, as a scenario holds them.
        renamed: each involved stress identity (``I017``) to its scenario name.
        moves: the chosen runs' points in the order stress passed them.
        runs: the chosen runs' ids, in the order they started.
        violations: what stress saw (stress names).
    """

    identities: dict[str, str]
    renamed: dict[str, str]
    moves: tuple[Move, ...]
    runs: tuple[str, ...]
    violations: tuple[Violation, ...]

    @property
    def invariants(self) -> frozenset[str]:
        """The invariants stress saw violated."""
        return frozenset(v.invariant for v in self.violations)


def candidate(
    identities: dict[str, str], records: Iterable[Record], log: Iterable[Passed],
    violations: list[Violation], order: Order = "start",
) -> Candidate:
    """The stepped moves of the first violation's identities and runs (step 1 above).

    ``order`` says which order of the runs' stretches the moves follow: the order they
    *started* in (a run's start, or the end of its wait at a point), or the order they
    *ended* in (reaching the next point).  Stretches overlap in time; the code before
    a stretch's first await (where shared state is read and requests are sent) runs
    when it starts, so "start" is tried first.  ``overlap`` is the coarsest: every
    run started to its first point in the order they started, then each finished in
    the order they ended (the widest overlap the runs had).
    """
    first = min(violations, key=lambda v: v.step)
    involved = [n for n in dict.fromkeys(first.identities) if n in identities][: len(NAMES)]
    same = [v for v in violations if set(v.identities) <= set(involved)]
    renamed = {name: NAMES[i] for i, name in enumerate(involved)}
    started = [r for r in records if isinstance(r, RunStarted)]
    chosen = [r for r in started if r.identity in renamed and r.step <= first.step][-MAX_RUNS:]
    by_id = {r.run_id: r for r in chosen}
    entries = [p for p in log if p.run_id in by_id]
    stops: dict[str, list[str]] = {}
    for passed in entries:
        if not passed.resumed:
            stops.setdefault(passed.run_id, []).append(passed.label)
    moves: list[Move] = []
    stretch: dict[str, int] = {}
    if order == "overlap":
        # Each run's first stretch in start order; then its end, one move each.
        firsts = [p for p in entries if p.label == START]
        entries = firsts + [p for p in entries if p.label == END]
        stops = {run_id: [labels[0], END] for run_id, labels in stops.items()}
    for passed in entries:
        if not _stretch_begins(passed, order):
            continue
        run = by_id[passed.run_id]
        k = stretch.get(run.run_id, 0)
        stretch[run.run_id] = k + 1
        ends = stops.get(run.run_id, [])
        stop = ends[k] if k < len(ends) else END
        outcome = "finished" if stop == END else f"paused at {stop}"
        name = renamed[run.identity]
        if k:
            kind: MoveKind = "finish" if order == "overlap" else "step"
            moves.append(Move(len(moves) + 1, kind, name, run.run_id, outcome=outcome))
        else:
            moves.append(Move(len(moves) + 1, "start_run", name, run.run_id, run.thread_id,
                              run.plan, outcome=outcome))
    return Candidate(
        {renamed[n]: identities[n] for n in involved}, renamed, tuple(moves),
        tuple(r.run_id for r in chosen), tuple(same),
    )


def _stretch_begins(passed: Passed, order: Order) -> bool:
    """Whether ``passed`` is where one of the moves of ``order`` goes."""
    if order == "start":
        return passed.resumed
    if order == "end":
        return not passed.resumed
    return passed.label in (START, END)


def stepped(harness: Harness, found: Candidate) -> Replayed | None:
    """Perform the candidate under the stepped controller; the replay if it reproduced."""
    replayed = perform(harness, found.identities, found.moves, strict=False)
    return replayed if replayed.invariants & found.invariants else None


def shrink(
    harness: Harness, replayed: Replayed, wanted: frozenset[str], *,
    budget_seconds: float = 60.0, should_stop: Callable[[], bool] = lambda: False,
) -> tuple[Replayed, bool]:
    """Drop whole runs while it fails, then minimise move by move (steps 3 above)."""
    best = replayed
    runs = [m.run_id for m in best.moves if m.kind == "start_run" and not m.final]
    for run_id in reversed(runs):
        if should_stop():
            return best, False
        rest = [m for m in best.moves if not m.final and m.run_id != run_id]
        if not any(m.kind == "start_run" for m in rest):
            continue
        outcome = perform(harness, best.identities, rest, strict=False)
        if outcome.invariants & wanted:
            best = outcome
    return minimize(harness, best, budget_seconds=budget_seconds, should_stop=should_stop)


def evidence(
    seed: int, identities: dict[str, str], records: Iterable[Record], log: Iterable[Passed],
    found: Candidate,
) -> dict[str, Any]:
    """The raw stress history slice of a finding, as JSON-ready data."""
    names = set(found.renamed)
    runs = set(found.runs)
    kept = []
    for record in records:
        run_id = record.event.run_id if isinstance(record, EventDelivered) else getattr(
            record, "run_id", None)
        if getattr(record, "identity", None) in names or run_id in runs:
            kept.append(record_to_json(record))
    return {
        "kind": "isolation-fuzz stress evidence",
        "seed": seed,
        "identities": {n: identities[n] for n in found.renamed},
        "renamed": dict(found.renamed),
        "violations": [v.to_json() for v in found.violations],
        "runs": list(found.runs),
        "points": [[p.run_id, "go on from" if p.resumed else "reach", p.label]
                   for p in log if p.run_id in runs],
        "records": kept,
    }
