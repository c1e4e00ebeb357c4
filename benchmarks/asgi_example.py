"""The FastAPI example through its front door: the app as shipped, and its beta.

Runs ``examples/fastapi_notes`` from its ``[tool.isolation-fuzz.asgi]`` table alone,
as ``isolation-fuzz run`` does there: the app as shipped for ``--examples`` examples
(it must be clean, with its refusals counted), then the beta (``notes_api.beta:app``)
over ``--seeds``, with shrinking and confirmation on, and each finding replayed
``--replays`` times.  Prints a table and writes benchmarks/results/asgi_example.md
(and .json).

    python benchmarks/asgi_example.py [--examples 2000] [--seeds 0-2] [--replays 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isolation_fuzz import (  # noqa: E402
    CampaignConfig,
    replay_scenario,
    run_campaign,
)
from isolation_fuzz.asgi import APP_ENV  # noqa: E402
from isolation_fuzz.engine.trace import scenario_length  # noqa: E402
from isolation_fuzz.services import ServiceConfig  # noqa: E402
from isolation_fuzz.target import TargetSpec  # noqa: E402

RESULTS = Path(__file__).parent / "results"
EXAMPLE = ROOT / "examples" / "fastapi_notes"
SHORTEST = 2  # B starts a run; A starts one on the same thread


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def shipped(examples: int) -> dict[str, object]:
    os.environ.pop(APP_ENV, None)
    started = time.monotonic()
    result = run_campaign(CampaignConfig(
        target=TargetSpec("asgi"), max_examples=examples, budget_seconds=3 * 3600, seed=0,
        services=ServiceConfig.from_env(),
    ))
    return {
        "verdict": result.verdict, "examples": result.examples, "steps": result.steps,
        "seconds": round(time.monotonic() - started, 1), "finished": result.runs.finished,
        "refused": result.runs.refused, "rejected": result.runs.rejected,
        "failed": sum(result.runs.failed.values()), "blocked": result.runs.blocked,
    }


def beta(seed: int, replays: int) -> dict[str, object]:
    os.environ[APP_ENV] = "notes_api.beta:app"
    try:
        started = time.monotonic()
        result = run_campaign(CampaignConfig(
            target=TargetSpec("asgi"), max_examples=2000, budget_seconds=300, seed=seed,
            services=ServiceConfig.from_env(),
        ))
        seconds = round(time.monotonic() - started, 1)
        finding = result.finding
        if finding is None:
            return {"seed": seed, "found": False, "seconds": seconds}
        report = replay_scenario(finding.to_scenario(result.target, result.seed), repeat=replays)
        return {
            "seed": seed, "found": True, "seconds": seconds, "examples": result.examples,
            "moves": scenario_length(finding.moves), "shrunk": finding.shrunk,
            "invariants": sorted({v.invariant for v in finding.violations}),
            "replayed": f"{report.reproductions}/{replays}",
        }
    finally:
        os.environ.pop(APP_ENV, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--replays", type=int, default=20)
    args = parser.parse_args()
    os.chdir(EXAMPLE)
    ship = shipped(args.examples)
    betas = [beta(seed, args.replays) for seed in _seeds(args.seeds)]
    lines = [
        "# The FastAPI example through its front door",
        "",
        f"`python benchmarks/asgi_example.py --examples {args.examples} --seeds {args.seeds} "
        f"--replays {args.replays}` on {platform.node() or 'this machine'} "
        f"(Python {platform.python_version()}); configuration: the example's pyproject table only.",
        "",
        "## The app as shipped",
        "",
        "| verdict | examples | steps | seconds | runs finished | refused | rejected "
        "| failed | blocked |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| {verdict} | {examples} | {steps} | {seconds} | {finished} | {refused} | {rejected} "
        "| {failed} | {blocked} |".format(**ship),
        "",
        f"## The beta (`notes_api.beta:app`), shortest {SHORTEST} moves",
        "",
        "| seed | found | seconds | examples | moves | shrunk | invariants | replayed |",
        "|---:|---|---:|---:|---:|---|---|---|",
    ]
    for row in betas:
        lines.append(
            f"| {row['seed']} | {row['found']} | {row['seconds']} | {row.get('examples', '')} "
            f"| {row.get('moves', '')} | {row.get('shrunk', '')} "
            f"| {', '.join(row.get('invariants', []))} | {row.get('replayed', '')} |"  # type: ignore[arg-type]
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "asgi_example.md").write_text(text)
    (RESULTS / "asgi_example.json").write_text(
        json.dumps({"shipped": ship, "beta": betas}, indent=2) + "\n")


if __name__ == "__main__":
    main()
