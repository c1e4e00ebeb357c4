"""``isolation-fuzz zoo``: every seeded bug, then the correct platform, as a table.

Interrupted (SIGINT, SIGTERM), it prints and saves the rows it has, says
"interrupted", and exits with the signal's code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from isolation_fuzz.cli._flags import add_points_flag, duration_arg
from isolation_fuzz.errors import UsageError

if TYPE_CHECKING:
    from isolation_fuzz.zoo import ZooRow

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zoo`` and its flags to the command's subparsers."""
    zoo = sub.add_parser("zoo", help="run against every seeded-bug variant and tabulate")
    zoo.add_argument("--bugs", nargs="+", metavar="BUG", help="only these bugs (default: all)")
    zoo.add_argument(
        "--budget-per-bug", type=duration_arg, default=60.0, help="time per bug (default 60s)"
    )
    zoo.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    zoo.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    zoo.add_argument(
        "--target", default="reference", metavar="NAME|MODULE:FACTORY",
        help="the correct system that must stay clean, checked after the bugs "
        "(default reference; a name or an import path such as myapp.fuzz:open_target)",
    )
    add_points_flag(zoo)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Exit 0 only if every variant was caught (and shrunk well) and the platform is clean."""
    from isolation_fuzz.engine.stopping import SIGNAL_EXIT_CODES, signalled
    from isolation_fuzz.platform.bugs import BUGS
    from isolation_fuzz.zoo import format_row, format_zoo, run_zoo

    json_path = Path(args.json) if args.json else None
    if json_path is not None and not json_path.parent.exists():
        raise UsageError(f"cannot write {json_path}: directory {json_path.parent} does not exist")
    bugs = args.bugs or list(BUGS)

    def progress(row: ZooRow) -> None:
        err.write("zoo: " + " | ".join(format_row(row)) + f" ({row.elapsed:.0f}s)\n")
        err.flush()

    rows = run_zoo(bugs, budget_per_bug=args.budget_per_bug, seed=args.seed, on_row=progress,
                   points=args.points, control=args.target)
    received = signalled()
    table = format_zoo(rows)
    if received is not None:  # the rows it has, without the PASS/FAIL of a finished zoo
        table = table.rsplit("\n", 2)[0]
        table += f"\nverdict: interrupted by {received} after {len(rows)} row(s)"
    out.write(table + "\n")
    if json_path is not None:
        json_path.write_text(json.dumps([r.to_json() for r in rows], indent=2) + "\n")
    if received is not None:
        return SIGNAL_EXIT_CODES[received]
    return 0 if all(r.ok for r in rows) else 1
