"""The gather baseline: several plans run truly at once, as a hand-written stress test does.

Design note.  Teams that test isolation by hand start a few users' runs together
with ``asyncio.gather`` and a random sleep at every checkpoint, then read back and
compare.  :func:`gather` does that inside an example, so the benchmark
(``benchmarks/zoo.py``, baseline A) measures it with the same targets, the same
plans, the same canaries and the same oracle as the search.  The only difference
is who decides the interleaving: here the event loop and the jitter do, so what
it finds cannot be replayed; that is the point of the comparison.

It is a benchmark's move, not the engine's: the state machine never reaches it
(it is no method of :class:`~isolation_fuzz.engine.example.execution.Execution`).  It is
built from the example's own pieces, so gathered runs are launched, recorded and
checked exactly as scheduled ones are: one step, one ``start_run`` move per run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import anyio

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.engine.example.execution import Execution
from isolation_fuzz.engine.schedule.controller import RunFn
from isolation_fuzz.engine.schedule.runs import StepOutcome
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.model import Plan

__all__ = ["gather"]


def gather(
    execution: Execution,
    starts: Sequence[tuple[str, str, Plan]],
    rng: random.Random,
    max_jitter: float = 0.002,
    *,
    marked: bool = False,
) -> None:
    """Run several plans at once in one move: ``(identity, thread, plan)`` each.

    Each run sleeps a random ``0..max_jitter`` seconds at every checkpoint instead of
    pausing for the scheduler, so the event loop decides the interleaving: what a
    ``gather`` with jitter explores, and why such a test cannot replay what it finds.
    A run that has not ended after four block timeouts is recorded as blocked.
    With ``max_jitter`` 0 the checkpoints do nothing at all: the runs are simply
    gathered (:mod:`isolation_fuzz.engine.campaign.plainly`).  ``marked``: the plans already
    carry their canaries (a recorded finding's).
    """
    ex = execution
    # Private pieces of the example on purpose: a gathered run must be numbered,
    # marked and recorded by the very code that does it for a scheduled run.
    step = ex._next_step()
    jobs = []
    for name, thread_id, plan in starts:
        run_id, _, fn = ex._launch(step, name, thread_id, plan, marked=marked)
        jobs.append((run_id, fn, rng.random()))
    outcomes: dict[str, StepOutcome] = {}

    async def one(run_id: str, fn: RunFn, seed: float) -> None:
        jitter = random.Random(seed)

        async def hook(label: str) -> None:
            await anyio.sleep(jitter.uniform(0, max_jitter))

        with installed_hook(hook if max_jitter > 0 else None):
            try:
                outcomes[run_id] = StepOutcome("finished", result=await fn())
            except Exception as exc:  # a failing run is an outcome, as in Execution.step
                outcomes[run_id] = StepOutcome("failed", error=exc)

    async def all_together() -> None:
        with anyio.move_on_after(ex.harness.limits.block_timeout * 4):
            async with anyio.create_task_group() as group:
                for job in jobs:
                    group.start_soon(one, *job)

    ex.loop.call(all_together)
    for run_id, _, _ in jobs:
        outcome = outcomes.get(run_id, StepOutcome("blocked"))
        text = ex.outcomes.record(step, run_id, outcome)
        ex.moves.append(Move(step, "start_run", ex.run_owner[run_id], run_id,
                             ex.history.runs[run_id].thread_id,
                             ex.history.runs[run_id].plan, outcome=text))
