"""What the oracle costs: events per second, and one move's check at 10 to 10,000 records.

A correct platform is simulated (no engines: the oracle alone is measured).
``--identities`` identities each hold one connection; runs of one to three calls
over the three stores and a small key pool start, step call by call and finish,
interleaved up to four at a time; every call delivers its three events to the
owner's connection, and a finished run's results are recorded at its finishing
step, as ``run`` records them.  Each move's records share one step.  The seed is
fixed (``random.Random``): the same history every time.

* **Throughput**: the whole history is appended move by move with the incremental
  oracle checking after every move, as ``Execution.check`` does, and again checking
  once 2,000 records have gathered, as stress's cadence does; events per second is
  records appended per second of wall time, checks included.
* **Per-move check cost**: with ``n`` records already checked, the cost of checking
  after one more move, averaged over the next moves: batch (`oracle.check` over the
  whole history) against incremental (`IncrementalOracle.check`).

Writes benchmarks/results/oracle.md.

    python benchmarks/oracle.py [--identities 10] [--records 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isolation_fuzz.engine.canary import make_canary, make_key_mark  # noqa: E402
from isolation_fuzz.engine.history import History  # noqa: E402
from isolation_fuzz.engine.oracle import invariants as oracle  # noqa: E402
from isolation_fuzz.engine.oracle.incremental.core import IncrementalOracle  # noqa: E402
from isolation_fuzz.engine.oracle.lifecycle import expected_kinds  # noqa: E402
from isolation_fuzz.model import (  # noqa: E402
    STORES,
    ConnectionOpened,
    Event,
    EventDelivered,
    Record,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolResult,
)

SIZES = (10, 100, 1_000, 10_000)
KEYS = ("k", "b:x", "x", "k*")
TOOLS = ("remember", "recall", "list", "aggregate", "forget")


def simulate(identities: int, records: int, seed: int) -> tuple[History, list[list[Record]]]:
    """A correct platform's moves (each a list of records), and a history set up for them."""
    rnd = random.Random(seed)
    base = History()
    names = [f"I{i}" for i in range(identities)]
    moves: list[list[Record]] = [[]]
    for i, name in enumerate(names):
        base.add_identity(name, f"u{i}")
        base.canaries.register(make_key_mark(i), name)
        moves[0].append(ConnectionOpened(0, f"c{i}", name))
    memory: dict[tuple[str, str, str], str] = {}
    active: dict[str, list[Any]] = {}
    step = total = canaries = 0
    while total < records:
        step += 1
        move: list[Record] = []
        if len(active) < 4 and (not active or rnd.random() < 0.3):
            who = rnd.randrange(identities)
            name, plan = names[who], []
            for _ in range(rnd.randint(1, 3)):
                tool = rnd.choice(TOOLS)
                key = rnd.choice(KEYS) + make_key_mark(who) if tool in (
                    "remember", "recall", "forget") else None
                value = None
                if tool == "remember":
                    canaries += 1
                    value = f"{make_canary(canaries)} v"
                    base.canaries.register(make_canary(canaries), name)
                plan.append(ToolCall(tool, rnd.choice(STORES), key, value))  # type: ignore[arg-type]
            run_id = f"r{step}"
            move.append(RunStarted(step, run_id, name, f"u{who}", "t1", tuple(plan)))
            move.append(_event(step, who, name, run_id, 0, "agent_started", {}))
            active[run_id] = [who, tuple(plan), []]
        else:
            run_id = rnd.choice(sorted(active))
            who, plan, results = active[run_id]
            name = names[who]
            if len(results) == len(plan):
                del active[run_id]
                move += [ToolResult(step, run_id, name, i, c, r)
                         for i, (c, r) in enumerate(zip(plan, results, strict=True))]
                move.append(RunFinished(step, run_id, name, True, None))
                move.append(_event(step, who, name, run_id, 3 * len(plan) + 1,
                                   "agent_completed", {}))
            else:
                call = plan[len(results)]
                mine = sorted((k, v) for (u, s, k), v in memory.items()
                              if (u, s) == (name, call.store))
                result: Any = {
                    "remember": "ok", "forget": True, "list": [k for k, _ in mine],
                    "recall": memory.get((name, call.store, call.key or "")),
                    "aggregate": {"values": sorted(v for _, v in mine)},
                }[call.tool]
                if call.tool == "remember":
                    memory[(name, call.store, call.key)] = call.value
                elif call.tool == "forget":
                    memory.pop((name, call.store, call.key), None)
                results.append(result)
                seq = 3 * len(results) - 2
                for i, kind in enumerate(expected_kinds(len(plan))[seq : seq + 3]):
                    move.append(_event(step, who, name, run_id, seq + i, kind,
                                       {"result": result} if i == 2 else {}))
        moves.append(move)
        total += len(move)
    return base, moves


def _event(step: int, who: int, name: str, run_id: str, seq: int, kind: str,
           payload: dict[str, Any]) -> EventDelivered:
    return EventDelivered(step, f"c{who}", name, Event(kind, f"u{who}", "t1", run_id, seq,
                                                       payload))


def _fresh(base: History) -> History:
    h = History()
    for name, user_id in base.identities.items():
        h.add_identity(name, user_id)
    for canary, owner in base.canaries.items():
        h.canaries.register(canary, owner)
    return h


def throughput(base: History, moves: list[list[Record]], every: int = 0) -> tuple[int, float]:
    """(records, seconds) to append every move, checking incrementally after each move
    (``every=0``, as ``run`` does) or once ``every`` records have gathered (as stress does).
    """
    h = _fresh(base)
    live = IncrementalOracle(h)
    started = time.perf_counter()
    pending = 0
    for move in moves:
        for record in move:
            h.append(record)
        pending += len(move)
        if pending >= every:
            assert live.check() == []
            pending = 0
    assert live.check() == []
    return len(h), time.perf_counter() - started


def per_move(base: History, moves: list[list[Record]], size: int, probes: int
             ) -> tuple[float, float]:
    """Microseconds per check after one move, at ``size`` records: (batch, incremental).

    Timed in two passes over two copies of the history: a batch check between two
    incremental ones would leave the caches cold for the second.
    """
    costs = []
    for batch in (True, False):
        h = _fresh(base)
        live = IncrementalOracle(h)
        it = iter(moves)
        while len(h) < size:
            for record in next(it):
                h.append(record)
        live.check()
        took = 0.0
        for _ in range(probes):
            for record in next(it):
                h.append(record)
            started = time.perf_counter()
            found = oracle.check(h) if batch else live.check()
            took += time.perf_counter() - started
            assert found == []
        assert live.check() == oracle.check(h) == []
        costs.append(took / probes * 1e6)
    return costs[0], costs[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=10)
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probes", type=int, default=50)
    args = parser.parse_args(argv)
    base, moves = simulate(args.identities, max(args.records, SIZES[-1] * 2), args.seed)
    count, seconds = throughput(base, moves)
    _, batched = throughput(base, moves, every=2_000)
    rows = []
    for size in SIZES:
        batch, incremental = per_move(base, moves, size, args.probes)
        rows.append(f"| {size:,} | {batch:,.0f} µs | {incremental:,.0f} µs |")
    head = (
        f"Machine: {platform.machine()}, Python {platform.python_version()}. "
        f"Simulated correct platform, {args.identities} identities, seed {args.seed}; "
        f"{count:,} records in {len(moves):,} moves, checked after every move."
    )
    table = "\n".join([
        f"Throughput (incremental, checked after every move): **{count / seconds:,.0f} "
        f"events/s** ({count:,} records in {seconds:.2f}s); checked every 2,000 records "
        f"(stress's cadence): **{count / batched:,.0f} events/s**.",
        "",
        "| records checked | batch check per move | incremental check per move |",
        "|---|---|---|",
        *rows,
    ])
    text = f"# Oracle cost\n\n{head}\n\n{table}\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / "oracle.md"
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
