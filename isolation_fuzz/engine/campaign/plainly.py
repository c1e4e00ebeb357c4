"""Would plain concurrency have caught it?  A shrunk finding's runs, simply gathered.

Design note (issue 12).  After a finding is shrunk, its runs are performed again
``N`` times, all started at once with ``asyncio``-style gathering and no pauses at
all (no scheduler, no jitter, explicit checkpoints switched off): what an ordinary
concurrency test of the same requests does.  The verdict then says "also fails
when the runs are simply gathered (k/N)" or "needs this interleaving", as simloom's
"shrunk to FIFO" tells its users whether a plain test would have seen the bug.

It reuses :func:`~isolation_fuzz.engine.example.gather.gather` (the benchmark's baseline)
with no jitter, on the campaign's harness, so identities, canaries and the oracle
are exactly the finding's: forged attempts first (they do not depend on the
interleaving), then every run together in one move, then the final reads.  A
gathered performance counts as failing when it violates one of the finding's
invariants.  Looks in the middle are left out: the final reads see everything.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from isolation_fuzz.engine.example.execution import Execution
from isolation_fuzz.engine.example.gather import gather
from isolation_fuzz.engine.example.harness import Harness, IsolationViolated, Stats
from isolation_fuzz.engine.trace import Move

__all__ = ["GATHER_RUNS", "perform_plainly"]

#: How many plain performances a finding gets.
GATHER_RUNS = 5


def perform_plainly(
    harness: Harness,
    identities: Mapping[str, str],
    moves: Sequence[Move],
    invariants: frozenset[str],
    runs: int = GATHER_RUNS,
) -> tuple[int, int]:
    """Perform the moves' runs ``runs`` times, simply gathered; ``(failed, runs)``."""
    failed = 0
    for index in range(runs):
        if _fails_once(harness, identities, moves, invariants, index):
            failed += 1
    return failed, runs


def _fails_once(
    harness: Harness,
    identities: Mapping[str, str],
    moves: Sequence[Move],
    invariants: frozenset[str],
    index: int,
) -> bool:
    ex = Execution(replace(harness, stats=Stats()))
    chosen = [m for m in moves if not m.final]
    try:
        ex.log_in([identities[name] for name in sorted(identities)])
        for move in chosen:
            if move.kind == "forge":
                victim = str(move.extra.get("victim", move.identity))
                ex.forge(move.identity or "A", victim, move.forgery,  # type: ignore[arg-type]
                         move.action or "run")
        starts = [(m.identity or "A", m.thread_id or "t1", m.plan)
                  for m in chosen if m.kind == "start_run"]
        if starts:
            gather(ex, starts, random.Random(index), max_jitter=0.0, marked=True)
        ex.check()
        ex.final_reads()
    except IsolationViolated as failure:
        wanted = invariants or {v.invariant for v in failure.violations}
        return any(v.invariant in wanted for v in failure.violations)
    finally:
        ex.close()
    return False
