"""``isolation-fuzz run``: flags in, campaign, verdict out, and the run's report files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from isolation_fuzz.cli._flags import services_from
from isolation_fuzz.engine.campaign import CampaignConfig, CampaignResult, Finding, run_campaign
from isolation_fuzz.engine.database import open_database
from isolation_fuzz.report import ProgressBar, format_result
from isolation_fuzz.report.files import RunReport, new_run_id
from isolation_fuzz.target import TargetSpec

__all__ = ["report_for", "run_command"]


def report_for(args: argparse.Namespace, label: str) -> RunReport:
    corpus = None if args.corpus == "none" else Path(args.corpus)
    return RunReport(Path(args.report_dir), new_run_id(label), corpus)


def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the campaign the flags describe; print progress to ``err`` and the verdict to ``out``."""
    config = CampaignConfig(
        target=TargetSpec(args.target, args.transport),
        profile=args.profile,
        max_examples=args.max_examples,
        budget_seconds=args.budget,
        seed=args.seed,
        services=services_from(args),
        database=open_database(args.database) if args.database else None,
    )
    profile = config.resolved_profile()
    budget = args.budget if args.budget is not None else (
        None if args.max_examples is not None else profile.budget_seconds
    )
    examples = args.max_examples if args.max_examples is not None else profile.max_examples
    result = run_with_report(config, report_for(args, args.target), err, budget, examples,
                             quiet=args.quiet)
    out.write(format_result(result) + "\n")
    return result.exit_code


def run_with_report(
    config: CampaignConfig,
    report: RunReport,
    err: TextIO,
    budget: float | None,
    examples: int,
    quiet: bool = False,
) -> CampaignResult:
    """Run a campaign that saves each failing case the moment it is seen."""
    bar = None if quiet else ProgressBar(err, budget, examples)
    saved: list[Path] = []

    def save(finding: Finding) -> None:
        meta = {"target": config.target, "seed": config.seed, "profile": config.profile}
        path = report.save_finding(meta, finding)
        if not saved:
            err.write(f"\nviolation found; saved to {path} (shrinking it now)\n")
            err.flush()
        saved.append(path)

    try:
        result = run_campaign(
            config,
            on_progress=None if bar is None else (lambda s, t: bar.update(s, t)),
            on_finding=save,
        )
    finally:
        if bar is not None:
            bar.close()
    where = report.finish(result)
    err.write(f"report: {where}\n")
    return result
