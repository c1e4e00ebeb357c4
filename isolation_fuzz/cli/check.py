"""``isolation-fuzz check``: the pre-release gate.

First every scenario in the corpus is replayed: each that still reproduces is a
bug that came back (or was never fixed).  Then the ``pre-release`` profile runs:
derandomized, so the same build gets the same verdict, with a fixed budget.
The gate passes only if nothing reproduced and nothing new was confirmed.

A signal during the corpus replays or the campaign ends the gate as INTERRUPTED
with the signal's exit code (130, 143), a summary whose state is "interrupted" and a
JUnit file whose gate case fails: a killed CI job never looks green.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from isolation_fuzz.cli._flags import (
    add_points_flag,
    add_service_flags,
    report_from,
    services_from,
)
from isolation_fuzz.cli.run import add_confirm_flag

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check`` and its flags to the command's subparsers."""
    check = sub.add_parser("check", help="pre-release gate: replay the corpus, then fuzz")
    check.add_argument("--corpus", default="reports/corpus", help="scenario directory")
    check.add_argument("--target", help="target for replays and the campaign (default: recorded "
                       "targets, and reference for the campaign)")
    check.add_argument("--transport", choices=["local", "websocket"], default="local")
    check.add_argument("--max-examples", type=int, help="pre-release budget (default 300)")
    check.add_argument("--junit", metavar="FILE", help="also write the JUnit XML here")
    check.add_argument("--report-dir", default="reports", help="where run reports go")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    add_confirm_flag(check)
    add_service_flags(check)
    add_points_flag(check)  # the campaign's; corpus scenarios replay as recorded


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Exit 1 if a corpus scenario reproduces or the pre-release campaign finds a violation."""
    from isolation_fuzz.cli.run import run_with_report
    from isolation_fuzz.engine.campaign.runner import CampaignConfig
    from isolation_fuzz.engine.example.harness import Limits
    from isolation_fuzz.engine.replay.corpus import replay_corpus
    from isolation_fuzz.report.gate import GateReport
    from isolation_fuzz.report.text import TextVerdict
    from isolation_fuzz.target import TargetSpec

    services = services_from(args)
    override = TargetSpec(args.target, args.transport) if args.target else None
    config = CampaignConfig(
        target=override or TargetSpec("reference"),
        profile="pre-release",
        max_examples=args.max_examples,
        confirm=args.confirm,
        services=services,
        limits=Limits(points=args.points),
    )
    run_report = report_from(args, f"check-{config.target.name}", notices=err)
    gate = GateReport(out, run_report.dir, args.junit)
    # A bad corpus file fails the gate loudly (exit 2); a signal between replays is
    # reported by both reporters, then ends the command with its exit code.
    replay_corpus(Path(args.corpus), override, services, handlers=[run_report, gate])
    result = run_with_report(
        config, run_report, err, quiet=args.quiet, also=[TextVerdict(out), gate]
    )
    failed = gate.reproduced > 0 or result.verdict == "violation"
    if result.exit_code in (130, 143) or (not failed and result.exit_code != 0):
        return result.exit_code  # interrupted; or no examples, or trouble behind a finding
    return 1 if failed else 0
