"""An example through its front door: the app as shipped, and its beta.

Runs ``examples/fastapi_notes`` (or ``--example socketio_tabs``) from its
``[tool.isolation-fuzz.asgi]`` table alone, as ``isolation-fuzz run`` does there:
the app as shipped for ``--examples`` examples (it must be clean, with its
refusals counted), then its beta over ``--seeds``, with shrinking and
confirmation on, and each finding replayed ``--replays`` times.  ``--transport
websocket`` serves the app with uvicorn instead of in process.  Prints a table
and writes benchmarks/results/asgi_example[-EXAMPLE][-websocket].md (and .json).

    python benchmarks/asgi_example.py [--example fastapi_notes] [--examples 2000]
        [--seeds 0-2] [--replays 20] [--transport local]
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
#: Each example's beta and the length of its shortest failing scenario.
EXAMPLES = {
    "fastapi_notes": ("notes_api.beta:app", 2),  # B starts a run; A starts one on its thread
    "socketio_tabs": ("tabs_chat.beta:app", 0),  # one look, broadcast to every tab
}


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def shipped(examples: int, transport: str) -> dict[str, object]:
    os.environ.pop(APP_ENV, None)
    started = time.monotonic()
    result = run_campaign(CampaignConfig(
        target=TargetSpec("asgi", transport), max_examples=examples,
        budget_seconds=3 * 3600, seed=0,
        services=ServiceConfig.from_env(),
    ))
    return {
        "verdict": result.verdict, "examples": result.examples, "steps": result.steps,
        "seconds": round(time.monotonic() - started, 1), "finished": result.runs.finished,
        "refused": result.runs.refused, "rejected": result.runs.rejected,
        "failed": sum(result.runs.failed.values()), "blocked": result.runs.blocked,
    }


def beta(app: str, seed: int, replays: int, transport: str) -> dict[str, object]:
    os.environ[APP_ENV] = app
    try:
        started = time.monotonic()
        result = run_campaign(CampaignConfig(
            target=TargetSpec("asgi", transport), max_examples=2000, budget_seconds=300, seed=seed,
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
    parser.add_argument("--example", choices=sorted(EXAMPLES), default="fastapi_notes")
    parser.add_argument("--transport", choices=["local", "websocket"], default="local")
    args = parser.parse_args()
    app, shortest = EXAMPLES[args.example]
    os.chdir(ROOT / "examples" / args.example)
    ship = shipped(args.examples, args.transport)
    betas = [beta(app, seed, args.replays, args.transport) for seed in _seeds(args.seeds)]
    name = "asgi_example" + ("" if args.example == "fastapi_notes" else f"-{args.example}") \
        + ("" if args.transport == "local" else f"-{args.transport}")
    lines = [
        f"# The {args.example} example through its front door ({args.transport})",
        "",
        f"`python benchmarks/asgi_example.py --example {args.example} --examples "
        f"{args.examples} --seeds {args.seeds} --replays {args.replays} --transport "
        f"{args.transport}` on {platform.node() or 'this machine'} "
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
        f"## The beta (`{app}`), shortest {shortest} moves",
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
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"shipped": ship, "beta": betas}, indent=2) + "\n")


if __name__ == "__main__":
    main()
