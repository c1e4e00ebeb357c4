"""Examples to the first failure, per seeded bug, over several seeds.

One seed says little about how fast a bug is found: a bug first failing at example 145
under seed 0 may fail at 12 under seed 1.  This runs each bug's campaign for several
seeds with shrinking and confirmation off (only the search is measured), and prints the
examples and seconds to the first failing example: per seed, then the median and the
worst.  Writes benchmarks/results/first_failure.md (and .json).

    python benchmarks/first_failure.py [--bugs prefix_ownership ...] [--seeds 0-4]
                                       [--budget 60] [--points auto]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isolation_fuzz import CampaignConfig, run_campaign  # noqa: E402
from isolation_fuzz.engine.example.harness import Limits  # noqa: E402
from isolation_fuzz.platform.bugs import BUGS, seeded_bug  # noqa: E402
from isolation_fuzz.services import ServiceConfig  # noqa: E402
from isolation_fuzz.target import TargetSpec  # noqa: E402

RESULTS = Path(__file__).parent / "results"
#: The id-collision bugs: the ones a change to identity or move drawing slows first.
COLLISION_BUGS = ("prefix_ownership", "delimiter_injection", "glob_injection")


def seeds_from(text: str) -> list[int]:
    """``0-4`` or ``0,3,7`` as a list of seeds."""
    if "-" in text:
        low, high = text.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def first_failure(bug: str, seed: int, budget: float, points: str) -> tuple[int | None, float]:
    """Examples and fuzzing seconds to ``bug``'s first failing example (None: not found)."""
    config = CampaignConfig(
        target=TargetSpec(seeded_bug(bug).target),
        max_examples=1_000_000,
        budget_seconds=budget,
        seed=seed,
        services=ServiceConfig.from_env(),
        limits=Limits(points=points),  # type: ignore[arg-type]
        shrink=False,
        confirm=1,
    )
    result = run_campaign(config)
    if result.verdict == "interrupted":
        # A signal ends the benchmark, not just this seed's campaign.
        raise SystemExit(result.exit_code)
    if result.first_failure_examples is None:
        return None, result.fuzzing_seconds
    return result.first_failure_examples, result.first_failure_seconds or 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bugs", nargs="+", default=list(COLLISION_BUGS), choices=BUGS)
    parser.add_argument("--seeds", default="0-4", type=seeds_from)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--points", default="auto", choices=["auto", "explicit", "auto-only"])
    parser.add_argument("--out", default="first_failure")
    args = parser.parse_args(argv)

    rows = []
    started = time.perf_counter()
    for bug in args.bugs:
        found: list[tuple[int | None, float]] = []
        for seed in args.seeds:
            examples, seconds = first_failure(bug, seed, args.budget, args.points)
            found.append((examples, seconds))
            shown = "not found" if examples is None else f"{examples} examples"
            print(f"{bug} seed {seed}: {shown}, {seconds:.1f}s", flush=True)
        counts = [e for e, _ in found if e is not None]
        times = [s for e, s in found if e is not None]
        rows.append({
            "bug": bug,
            "per_seed": [e for e, _ in found],
            "found": len(counts),
            "median_examples": statistics.median(counts) if counts else None,
            "worst_examples": max(counts) if counts else None,
            "median_seconds": round(statistics.median(times), 1) if times else None,
            "worst_seconds": round(max(times), 1) if times else None,
        })

    header = "| bug | examples per seed | found | median | worst | median s | worst s |"
    lines = [
        f"# Examples to the first failure (seeds {args.seeds[0]}..{args.seeds[-1]}, "
        f"points {args.points}, budget {args.budget:g}s)",
        "",
        f"Python {platform.python_version()}, {platform.machine()}; "
        f"whole run {time.perf_counter() - started:.0f}s.",
        "",
        header,
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        per_seed = " ".join("-" if e is None else str(e) for e in row["per_seed"])
        lines.append(
            f"| {row['bug']} | {per_seed} | {row['found']}/{len(args.seeds)} | "
            f"{row['median_examples']} | {row['worst_examples']} | "
            f"{row['median_seconds']} | {row['worst_seconds']} |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text(table)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["found"] == len(args.seeds) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
