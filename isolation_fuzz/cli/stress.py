"""``isolation-fuzz stress``: many identities, runs truly at once, a verdict like ``run``'s.

The command reads its flags (checked as they are parsed: ``--identities`` at least 2,
``--rate`` a positive number of runs per second, ``--duration`` a positive duration),
hands :func:`~isolation_fuzz.engine.stress.runner.run_stress` the report handlers ``run``
uses, draws the live line on stderr, and prints the stress figures and the verdict on
stdout.  Exit codes are ``run``'s.  Heavy imports wait inside :func:`run`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TextIO

from isolation_fuzz.cli._flags import (
    add_block_timeout_flag,
    add_points_flag,
    add_report_flags,
    add_service_flags,
    duration_arg,
    report_from,
    services_from,
)

__all__ = ["MAX_IDENTITIES", "MAX_RATE", "add_parser", "run"]

#: Beyond these a number is a typo: one process holds that many connections at most.
MAX_IDENTITIES = 10_000
MAX_RATE = 10_000.0


def _identities(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 2 <= value <= MAX_IDENTITIES:
        raise argparse.ArgumentTypeError(
            f"wants a whole number of identities from 2 to {MAX_IDENTITIES:,} (isolation needs "
            f"at least two users), got {text!r}"
        )
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_RATE):
        raise argparse.ArgumentTypeError(
            f"wants runs per second, a number above 0 and at most {MAX_RATE:g}, got {text!r}"
        )
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stress`` and its flags to the command's subparsers."""
    stress = sub.add_parser(
        "stress", help="many identities on real connections, runs truly concurrent",
        description="Run many identities' agent runs truly at once, with seeded schedule "
        "noise at every interleaving point, checked as they go; a violation is turned into "
        "a stepped, shrunk scenario that 'isolation-fuzz replay' reproduces.",
    )
    stress.add_argument(
        "--target", default="reference",
        help="reference (default), zoo:<bug>, or package.module:factory",
    )
    stress.add_argument(
        "--transport", choices=["websocket", "local"], default="websocket",
        help="real WebSocket connections (default) or in-process event delivery",
    )
    stress.add_argument("--identities", type=_identities, default=100, metavar="N",
                        help="identities, each with its own connection (default 100)")
    stress.add_argument("--rate", type=_rate, default=50.0, metavar="RUNS/S",
                        help="runs started per second (default 50)")
    stress.add_argument("--duration", type=duration_arg, default=10.0,
                        help="how long runs are started, e.g. 60s (default 10s)")
    stress.add_argument("--seed", type=int, help="seed of the draws and the schedule noise")
    stress.add_argument(
        "--confirm", type=_count, default=5, metavar="N",
        help="replays of the stepped scenario, or repeated stress windows when it does not "
        "replay, before a finding counts (default 5)",
    )
    add_service_flags(stress)
    add_block_timeout_flag(stress)
    add_points_flag(stress)
    add_report_flags(stress)
    stress.add_argument("--quiet", action="store_true", help="no live progress line")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"wants a whole number of at least 1, got {text!r}")
    return value


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the stress the flags describe; live line to ``err``, figures and verdict to ``out``."""
    from isolation_fuzz.engine.example.harness import Limits
    from isolation_fuzz.engine.stress.runner import StressConfig, run_stress
    from isolation_fuzz.report.stress import StressLine, format_figures, write_stress_files
    from isolation_fuzz.report.text import format_result
    from isolation_fuzz.target import TargetSpec

    config = StressConfig(
        target=TargetSpec(args.target, args.transport),
        identities=args.identities,
        rate=args.rate,
        duration=args.duration,
        seed=args.seed,
        services=services_from(args),
        limits=Limits(block_timeout=args.block_timeout, points=args.points),
        confirm=args.confirm,
    )
    report = report_from(args, f"stress-{args.target}", notices=err)
    # The corpus takes a finding only once it is known to replay step by step.
    corpus, report.corpus = report.corpus, None
    line = None if args.quiet else StressLine(err, args.duration)
    try:
        result = run_stress(config, handlers=[report] if line is None else [report, line])
    finally:
        if line is not None:
            line.close()
    write_stress_files(report, result, corpus if corpus is None else Path(corpus))
    verdict = format_result(result.campaign).replace(
        f"re-run with: isolation-fuzz run --target {args.target}",
        f"re-run with: isolation-fuzz stress --target {args.target} --transport "
        f"{args.transport} --identities {args.identities} --rate {args.rate:g} "
        f"--duration {args.duration:g}s",
    )
    if result.stepped:
        verdict += f"\nreplay with: isolation-fuzz replay {report.scenario_path}"
    out.write(format_figures(result) + "\n" + verdict + "\n")
    return result.exit_code
