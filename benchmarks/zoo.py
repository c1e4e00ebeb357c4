"""Every seeded bug, the same time budget, four ways of looking for it, side by side.

* isolation-fuzz: a quick-profile campaign (shrinking off: this measures finding),
  with the default interleaving points (every real await and every checkpoint).
* automatic points only: the same campaign with the platform's explicit
  ``checkpoint()`` calls switched off (``--points auto-only``, issue 12): what a
  system with no markers at all gets.
* baseline A: the stress test teams write by hand. Each round logs in three users
  with plain ids (``alice``, ``bob``, ``carol``), starts two or three plans each,
  all together with ``gather`` and a random sleep at every checkpoint, then every
  user reads back what they hold; the same oracle checks the history. Same plan
  vocabulary, same shared thread pool; no forged tokens, as such tests rarely forge.
* baseline A+: A with confusable ids (``u1``/``u10``, ``a``/``a:b``, ``x*``/``x1``...),
  to separate what the ids find from what the interleaving finds.
* baseline B: the isolation-fuzz state machine with every run executed start to
  end in one move (``Limits(atomic_runs=True)``): everything but the interleaving.

Each cell is the time to the first failure (or "-" when the budget ran out).
Writes benchmarks/results/zoo.md and zoo.json.

    python benchmarks/zoo.py [--budget 20] [--bugs a,b] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.example.execution import Execution
from isolation_fuzz.engine.example.gather import gather
from isolation_fuzz.engine.example.harness import IsolationViolated, Limits
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.model import STORES, ToolCall
from isolation_fuzz.platform.bugs import BUGS, seeded_bug
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.strategies.plans import KEY_POOL
from isolation_fuzz.strategies.threads import THREAD_POOL
from isolation_fuzz.target import TargetSpec

RESULTS = Path(__file__).parent / "results"
PLAIN = ("alice", "bob", "carol")
CONFUSABLE = (
    ("u1", "u10"), ("a", "a:b"), ("x*", "x1"), ("x?", "x1"), ("a[1]", "a1"), ("a%", "az"),
    ("a_", "az"), ("user", "USER"), ("é", unicodedata.normalize("NFD", "é")), ("u1", "u1 "),
)
APPROACHES = ("isolation-fuzz", "automatic points only", "A: gather+jitter",
              "A+: gather, confusable ids", "B: no interleaving")


def _plan(rng: random.Random) -> tuple[ToolCall, ...]:
    calls = []
    for _ in range(rng.randint(1, 3)):
        tool = rng.choice(["remember", "remember", "recall", "aggregate", "list", "forget"])
        store = rng.choice(STORES)
        key = rng.choice(KEY_POOL) if tool in ("remember", "recall", "forget") else None
        value = rng.choice(["v", "note", "secret"]) if tool == "remember" else None
        calls.append(ToolCall(tool, store, key, value))  # type: ignore[arg-type]
    return tuple(calls)


def stress(target: str, budget: float, seed: int, confusable: bool) -> dict[str, Any]:
    """Baseline A (or A+): rounds of gathered runs with jitter until a violation or the budget."""
    rng = random.Random(seed)
    rounds = 0
    with open_session(TargetSpec(target), ServiceConfig.from_env(), Limits()) as session:
        started = time.monotonic()
        while time.monotonic() - started < budget:
            rounds += 1
            ids = list(PLAIN)
            if confusable:
                ids[:2] = rng.choice(CONFUSABLE)
            execution = Execution(session.harness)
            try:
                execution.log_in(ids)
                starts = [(name, rng.choice(THREAD_POOL), _plan(rng))
                          for name in execution.names for _ in range(rng.randint(2, 3))]
                rng.shuffle(starts)
                gather(execution, starts, rng)
                execution.check()
                execution.final_reads()
            except IsolationViolated as failure:
                return {"caught": True, "seconds": round(time.monotonic() - started, 2),
                        "examples": rounds,
                        "invariants": sorted({v.invariant for v in failure.violations})}
            finally:
                execution.close()
    return {"caught": False, "seconds": None, "examples": rounds, "invariants": []}


def fuzz(
    target: str, budget: float, seed: int, atomic: bool, points: Points = "auto"
) -> dict[str, Any]:
    """isolation-fuzz (or baseline B): a campaign stopped at its first failure."""
    result = run_campaign(CampaignConfig(
        target=TargetSpec(target), max_examples=1_000_000, budget_seconds=budget, seed=seed,
        services=ServiceConfig.from_env(), limits=Limits(atomic_runs=atomic, points=points),
        shrink=False,
    ))
    finding = result.finding
    return {
        "caught": finding is not None,
        "seconds": None if finding is None else round(result.first_failure_seconds or 0, 2),
        "examples": result.first_failure_examples if finding else result.examples,
        "invariants": sorted({v.invariant for v in finding.violations}) if finding else [],
    }


def measure(target: str, budget: float, seed: int) -> dict[str, Any]:
    return {
        "isolation-fuzz": fuzz(target, budget, seed, atomic=False),
        "automatic points only": fuzz(target, budget, seed, atomic=False, points="auto-only"),
        "A: gather+jitter": stress(target, budget, seed, confusable=False),
        "A+: gather, confusable ids": stress(target, budget, seed, confusable=True),
        "B: no interleaving": fuzz(target, budget, seed, atomic=True),
    }


def _cell(outcome: dict[str, Any], clean: bool) -> str:
    if clean:
        return "clean" if not outcome["caught"] else f"FALSE ALARM ({outcome['invariants']})"
    if not outcome["caught"]:
        return f"- ({outcome['examples']} ex)"
    return f"{outcome['seconds']:.1f}s ({outcome['examples']} ex)"


def _services() -> str:
    env = ServiceConfig.from_env()
    urls = {"redis": env.redis_url, "postgres": env.postgres_url,
            "clickhouse": env.clickhouse_url}
    return ", ".join(f"{name} {'external' if url else 'embedded'}" for name, url in urls.items())


def table(rows: dict[str, dict[str, Any]], budget: float, seed: int) -> str:
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}, {platform.system()} {platform.release()}")
    lines = [
        "# Zoo benchmark: who finds each seeded bug, and how fast", "",
        f"Machine: {machine}. Services: {_services()}. "
        f"Budget {budget:g}s per bug and approach, seed {seed}. Cells: time to the first "
        "failure and examples (rounds) run until then; `-` = not found in the budget.", "",
        "| bug | " + " | ".join(APPROACHES) + " |",
        "|---|" + "---|" * len(APPROACHES),
    ]
    for bug, row in rows.items():
        cells = [_cell(row[a], bug == "reference") for a in APPROACHES]
        lines.append(f"| {bug} | " + " | ".join(cells) + " |")
    bugs = [r for b, r in rows.items() if b != "reference"]
    lines += ["", "| approach | caught | median time to first failure (caught only) |",
              "|---|---|---|"]
    for a in APPROACHES:
        times = [r[a]["seconds"] for r in bugs if r[a]["caught"]]
        median = f"{statistics.median(times):.1f}s" if times else "-"
        lines.append(f"| {a} | {len(times)}/{len(bugs)} | {median} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per bug and approach")
    parser.add_argument("--bugs", default=",".join(BUGS), help="comma-separated zoo bugs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bugs = [b for b in args.bugs.split(",") if b]
    unknown = sorted(set(bugs) - set(BUGS))
    if unknown:
        print(f"zoo.py: unknown bug(s) {unknown}; choose from {list(BUGS)}", file=sys.stderr)
        return 2
    rows: dict[str, dict[str, Any]] = {}
    for bug in [*bugs, "reference"]:
        target = "reference" if bug == "reference" else seeded_bug(bug).target
        rows[bug] = measure(target, args.budget, args.seed)
        cells = " | ".join(_cell(rows[bug][a], bug == "reference") for a in APPROACHES)
        print(f"{bug}: {cells}", file=sys.stderr, flush=True)
    text = table(rows, args.budget, args.seed)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "zoo.md").write_text(text + "\n")
    (RESULTS / "zoo.json").write_text(json.dumps(
        {"budget_seconds": args.budget, "seed": args.seed, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
