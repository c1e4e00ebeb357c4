"""``isolation-fuzz run``: flags in, campaign, verdict out, and the run's report files.

The command only assembles handlers of the campaign's events (the progress bar on
stderr, the report files, the text verdict on stdout) and hands them to
:func:`~isolation_fuzz.engine.campaign.runner.run_campaign`; the budget they show comes
from the campaign's first event, not from the flags.  Heavy imports wait inside the
functions, so that building the parser (``--help``, a typo) stays quick.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from isolation_fuzz.cli._flags import (
    add_block_timeout_flag,
    add_points_flag,
    add_report_flags,
    add_service_flags,
    duration_arg,
    report_from,
    services_from,
)

if TYPE_CHECKING:
    from isolation_fuzz.engine.campaign.events import EventHandler
    from isolation_fuzz.engine.campaign.result import CampaignResult
    from isolation_fuzz.engine.campaign.runner import CampaignConfig
    from isolation_fuzz.report.files import RunReport

__all__ = ["add_confirm_flag", "add_parser", "run", "run_with_report"]


def add_confirm_flag(parser: argparse.ArgumentParser) -> None:
    """``--confirm N``: replays of a shrunk finding before it counts as a violation."""
    parser.add_argument(
        "--confirm", type=_positive, default=5, metavar="N",
        help="replay a finding N times before calling it a violation (default 5)",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"wants a whole number of at least 1, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and its flags to the command's subparsers."""
    run = sub.add_parser("run", help="run a fuzz campaign and print a verdict")
    run.add_argument(
        "--target", default="reference",
        help="reference (default), zoo:<bug>, or package.module:factory",
    )
    run.add_argument(
        "--transport",
        choices=["local", "websocket"],
        default="local",
        help="deliver events in process (fast) or over real WebSocket connections",
    )
    run.add_argument("--profile", default="quick", help="quick (default), nightly or pre-release")
    run.add_argument("--max-examples", type=int, help="stop after this many examples")
    run.add_argument("--budget", type=duration_arg, help="stop after this long, e.g. 10m")
    run.add_argument("--seed", type=int, help="seed for a reproducible campaign")
    add_confirm_flag(run)
    add_service_flags(run)
    add_block_timeout_flag(run)
    add_points_flag(run)
    add_report_flags(run)
    run.add_argument(
        "--database",
        metavar="PATH|URL",
        help="Hypothesis example database shared by workers: a directory or redis://host/db",
    )
    run.add_argument(
        "--fresh-target", action="store_true",
        help="open a new target (call the factory again) for every example, for systems "
        "whose in-process state reset() cannot clear; slower than reset()",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the campaign the flags describe; print progress to ``err`` and the verdict to ``out``."""
    from isolation_fuzz.engine.campaign.database import open_database
    from isolation_fuzz.engine.campaign.runner import CampaignConfig
    from isolation_fuzz.engine.example.harness import Limits
    from isolation_fuzz.report.text import TextVerdict
    from isolation_fuzz.target import TargetSpec

    config = CampaignConfig(
        target=TargetSpec(args.target, args.transport),
        profile=args.profile,
        max_examples=args.max_examples,
        budget_seconds=args.budget,
        seed=args.seed,
        confirm=args.confirm,
        services=services_from(args),
        limits=Limits(block_timeout=args.block_timeout, fresh_target=args.fresh_target,
                      points=args.points),
        database=open_database(args.database) if args.database else None,
    )
    report = report_from(args, args.target, notices=err)
    result = run_with_report(config, report, err, quiet=args.quiet, also=[TextVerdict(out)])
    return result.exit_code


def run_with_report(
    config: CampaignConfig,
    report: RunReport,
    err: TextIO,
    *,
    quiet: bool = False,
    also: list[EventHandler] | None = None,
) -> CampaignResult:
    """Run a campaign with a progress bar on ``err`` (unless ``quiet``) and ``report``'s files.

    ``report`` saves each failing case the moment it is seen; ``also`` are further
    handlers, called after those two (the text verdict, after the report line).
    """
    from isolation_fuzz.engine.campaign.runner import run_campaign
    from isolation_fuzz.report.progress import ProgressBar

    bar = None if quiet else ProgressBar(err)
    handlers: list[EventHandler] = [*([bar] if bar is not None else []), report, *(also or [])]
    try:
        return run_campaign(config, handlers=handlers)
    finally:
        if bar is not None:
            bar.close()  # a campaign that raised still leaves the terminal tidy
