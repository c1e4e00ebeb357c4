"""``isolation-fuzz replay FILE``: perform a saved scenario again and say if it still fails."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from isolation_fuzz.cli._flags import add_points_flag, add_service_flags, services_from

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``replay`` and its flags to the command's subparsers."""
    replay = sub.add_parser("replay", help="perform a saved scenario again")
    replay.add_argument("file", help="a scenario.json written by run or check")
    replay.add_argument("--repeat", type=int, default=1, help="replay N times, report k of N")
    replay.add_argument("--export-test", metavar="PATH", help="write a pytest regression test")
    replay.add_argument(
        "--force", action="store_true", help="let --export-test overwrite an existing file"
    )
    replay.add_argument("--target", help="replay against this target instead of the recorded one")
    add_service_flags(replay)
    add_points_flag(replay, recorded=True)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Exit 1 while the scenario reproduces, 0 once it no longer does."""
    from isolation_fuzz.engine.replay.reproduce import export_test, replay_scenario
    from isolation_fuzz.engine.replay.scenario import load_scenario

    scenario = load_scenario(args.file)
    if args.export_test:
        path = export_test(scenario, Path(args.export_test), overwrite=args.force)
        err.write(f"wrote regression test {path}\n")
    report = replay_scenario(
        scenario, target=args.target, services=services_from(args), repeat=args.repeat,
        points=args.points,
    )
    out.write(report.explain() + "\n")
    return 1 if report.reproduced else 0
