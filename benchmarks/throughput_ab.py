"""Examples per second of this tree against a git revision, measured in one run, alternating.

The machine's own speed drifts: two runs of ``throughput.py`` minutes apart measured the
bare Redis driver 37% apart, which swamps any change to the fuzzer.  This runs the same
clean campaign (reference platform, quick profile, seed 42, embedded engines) for this
tree and for ``--baseline REV`` (checked out into a temporary git worktree) in
alternation, ``--rounds`` times each, every campaign in a fresh subprocess, and compares
the medians.  Examples per second count fuzzing time only (engines already up).  Writes
benchmarks/results/throughput_ab.md (and .json).

    python benchmarks/throughput_ab.py --baseline REV [--examples 80] [--rounds 3]
                                       [--points auto]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"

#: One campaign, printed as JSON; run with PYTHONPATH set to the tree being measured.
_CAMPAIGN = """
import json, sys
from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.example.harness import Limits
examples, points = int(sys.argv[1]), sys.argv[2]
# A revision from before interleaving points (issue 12) knows only explicit ones.
fields = getattr(Limits, "__dataclass_fields__", {})
limits = Limits(points=points) if "points" in fields else Limits()
if "points" not in fields and points != "explicit":
    raise SystemExit("this revision has explicit points only: pass --points explicit")
result = run_campaign(CampaignConfig(max_examples=examples, seed=42, limits=limits))
seconds = getattr(result, "fuzzing_seconds", 0.0) or result.elapsed
print(json.dumps({"examples": result.examples, "seconds": seconds,
                  "steps": result.steps, "verdict": result.verdict}))
"""


def campaign(tree: Path, examples: int, points: str) -> dict[str, float]:
    """One campaign of ``tree``'s code in a fresh interpreter: its examples, steps, seconds."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("ISOLATION_FUZZ_")}  # embedded engines for both
    env["PYTHONPATH"] = str(tree)
    proc = subprocess.run(
        [sys.executable, "-c", _CAMPAIGN, str(examples), points], cwd=tree, env=env,
        capture_output=True, text=True, timeout=1800, check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"campaign in {tree} failed (exit {proc.returncode}):\n{proc.stderr}")
    record: dict[str, float] = json.loads(lines[-1])
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--examples", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", default="auto", choices=["auto", "explicit", "auto-only"])
    args = parser.parse_args(argv)

    revision = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.strip()
    rates: dict[str, list[float]] = {"this tree": [], revision: []}
    moves: dict[str, list[float]] = {"this tree": [], revision: []}
    with tempfile.TemporaryDirectory(prefix="throughput-ab-") as scratch:
        base = Path(scratch) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), revision],
                       cwd=ROOT, check=True)
        try:
            for round_ in range(1, args.rounds + 1):
                for name, tree in (("this tree", ROOT), (revision, base)):
                    record = campaign(tree, args.examples, args.points)
                    rate = record["examples"] / record["seconds"]
                    rates[name].append(rate)
                    moves[name].append(record["steps"] / record["seconds"])
                    print(f"round {round_} {name}: {record['examples']} examples in "
                          f"{record['seconds']:.1f}s = {rate:.2f} examples/s "
                          f"({record['verdict']})", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False)

    ours = statistics.median(rates["this tree"])
    theirs = statistics.median(rates[revision])
    change = (ours - theirs) / theirs
    lines = [
        f"# Examples per second: this tree against {revision}, alternating",
        "",
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"reference platform, quick profile, seed 42, {args.examples} examples, points "
        f"{args.points}, embedded engines; {args.rounds} rounds, each tree in turn.",
        "",
        "| tree | examples/s per round | median examples/s | median moves/s |",
        "|---|---|---|---|",
    ]
    for name in rates:
        per_round = " ".join(f"{r:.2f}" for r in rates[name])
        lines.append(f"| {name} | {per_round} | {statistics.median(rates[name]):.2f} | "
                     f"{statistics.median(moves[name]):.1f} |")
    lines += ["", f"Change in median examples/s: **{change:+.1%}**."]
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "throughput_ab.md").write_text(table)
    (RESULTS / "throughput_ab.json").write_text(json.dumps(
        {"baseline": revision, "examples": args.examples, "points": args.points,
         "rates": rates, "change": change}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
