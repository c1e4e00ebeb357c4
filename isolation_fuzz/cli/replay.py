"""``isolation-fuzz replay FILE``: perform a saved scenario again and say if it still fails."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from isolation_fuzz.cli._flags import services_from
from isolation_fuzz.engine.reproduce import export_test, replay_scenario
from isolation_fuzz.engine.scenario import load_scenario

__all__ = ["replay_command"]


def replay_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Exit 1 while the scenario reproduces, 0 once it no longer does."""
    scenario = load_scenario(args.file)
    if args.export_test:
        path = export_test(scenario, Path(args.export_test))
        err.write(f"wrote regression test {path}\n")
    report = replay_scenario(
        scenario, target=args.target, services=services_from(args), repeat=args.repeat
    )
    out.write(report.explain() + "\n")
    return 1 if report.reproduced else 0
