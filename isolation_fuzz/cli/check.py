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
from typing import TYPE_CHECKING, TextIO

from isolation_fuzz.cli._flags import (
    add_points_flag,
    add_service_flags,
    report_from,
    services_from,
)
from isolation_fuzz.cli.run import add_confirm_flag

if TYPE_CHECKING:
    from isolation_fuzz.report.junit import JUnitCase

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
    from isolation_fuzz.engine.campaign.events import CampaignAborted, CampaignStarted
    from isolation_fuzz.engine.campaign.runner import CampaignConfig
    from isolation_fuzz.engine.example.harness import Limits
    from isolation_fuzz.engine.replay.reproduce import replay_all, scenario_files
    from isolation_fuzz.engine.replay.scenario import load_scenario
    from isolation_fuzz.engine.stopping import StopRequested
    from isolation_fuzz.report.junit import JUnitCase, invariant_cases
    from isolation_fuzz.report.text import TextVerdict
    from isolation_fuzz.target import TargetSpec

    corpus = Path(args.corpus)
    files = scenario_files(corpus) if corpus.exists() else []
    scenarios = [load_scenario(p) for p in files]  # a bad file fails the gate loudly (exit 2)
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
    cases: list[JUnitCase] = []
    reproduced = 0
    out.write(f"corpus {corpus}: {len(scenarios)} scenario(s)\n")
    try:
        replays = replay_all(scenarios, override, services)
    except StopRequested as stop:  # between replays: the report says so, then the verdict
        why = f"interrupted by {stop.reason}"
        run_report.handle_event(CampaignStarted(config.target, config.resolved_budget(), None))
        run_report.handle_event(CampaignAborted("interrupted", why, stop.reason))
        _write_junit(run_report.dir, args.junit, [_gate_case(why)])
        out.write(f"gate: INTERRUPTED by {stop.reason} during the corpus replays\n")
        raise
    for path, report in zip(files, replays, strict=True):
        if report.reproduced:
            reproduced += 1
        status = "REPRODUCES" if report.reproduced else "fixed"
        out.write(f"  {status:<10} {path.name} ({report.target.name})\n")
        cases.append(
            JUnitCase(
                f"replay {path.name}",
                "isolation-fuzz.corpus",
                report.explain() if report.reproduced else None,
                ", ".join(sorted(report.scenario.invariants)),
            )
        )

    result = run_with_report(
        config, run_report, err, quiet=args.quiet, also=[TextVerdict(out)]
    )
    scenario = None
    if result.finding is not None and result.verdict == "violation":
        scenario = run_report.scenario_of(
            {"target": result.target, "seed": result.seed}, result.finding
        )
    if result.verdict in ("interrupted", "no examples"):
        cases.append(_gate_case(f"pre-release campaign: {result.verdict}"))
    else:
        cases += invariant_cases("isolation-fuzz.pre-release", scenario)
    _write_junit(run_report.dir, args.junit, cases)
    failed = reproduced > 0 or result.verdict == "violation"
    gate = "INTERRUPTED" if result.verdict == "interrupted" else ("FAIL" if failed else "PASS")
    if result.verdict == "no examples":
        gate = "FAIL"
    out.write(
        f"gate: {gate} ({reproduced} of {len(scenarios)} corpus "
        f"scenario(s) reproduce; pre-release campaign {result.verdict})\n"
    )
    if result.exit_code in (130, 143) or (not failed and result.exit_code != 0):
        return result.exit_code  # interrupted; or no examples, or trouble behind a finding
    return 1 if failed else 0


def _gate_case(why: str) -> JUnitCase:
    from isolation_fuzz.report.junit import JUnitCase

    return JUnitCase("gate", "isolation-fuzz.check", f"the gate did not finish: {why}", why)


def _write_junit(run_dir: Path, also: str | None, cases: list[JUnitCase]) -> None:
    from isolation_fuzz._atomic import write_atomic
    from isolation_fuzz.report.junit import junit_xml

    junit = junit_xml("isolation-fuzz check", cases=cases)
    write_atomic(run_dir / "junit.xml", junit)
    if also:
        write_atomic(Path(also), junit)
