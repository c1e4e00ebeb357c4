"""The ``isolation-fuzz`` command.

The CLI only parses flags, calls the engine and prints what it returns; every
exit code comes from the result (0 clean, 1 violation) or from the error class
(2 usage or bad input, 3 infrastructure).  No traceback reaches the user for an
error of ours, and no secret reaches the terminal: everything printed passes
through the campaign's redactor.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from isolation_fuzz import __version__
from isolation_fuzz.cli._flags import add_service_flags
from isolation_fuzz.errors import IsolationFuzzError, UsageError

__all__ = ["main", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"10m"``, ``"1.5h"`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"budget {text!r} is not a duration; write e.g. 90s, 10m or 1h")
    value = float(match.group(1))
    factor = {"s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]
    seconds = value * factor
    if seconds <= 0:
        raise UsageError(f"budget {text!r} must be positive")
    return seconds


def _duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except UsageError as exc:
        # argparse replaces a ValueError's message with a generic one; keep ours.
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="isolation-fuzz",
        description="Find cross-user isolation bugs in multi-user agent backends.",
    )
    parser.add_argument("--version", action="version", version=f"isolation-fuzz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a fuzz campaign and print a verdict")
    run.add_argument("--target", default="reference", help="reference (default) or zoo:<bug>")
    run.add_argument(
        "--transport",
        choices=["local", "websocket"],
        default="local",
        help="deliver events in process (fast) or over real WebSocket connections",
    )
    run.add_argument("--profile", default="quick", help="quick (default), nightly or pre-release")
    run.add_argument("--max-examples", type=int, help="stop after this many examples")
    run.add_argument("--budget", type=_duration_arg, help="stop after this long, e.g. 10m")
    run.add_argument("--seed", type=int, help="seed for a reproducible campaign")
    add_service_flags(run)
    _add_report_flags(run)
    run.add_argument(
        "--database",
        metavar="PATH|URL",
        help="Hypothesis example database shared by workers: a directory or redis://host/db",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    replay = sub.add_parser("replay", help="perform a saved scenario again")
    replay.add_argument("file", help="a scenario.json written by run or check")
    replay.add_argument("--repeat", type=int, default=1, help="replay N times, report k of N")
    replay.add_argument("--export-test", metavar="PATH", help="write a pytest regression test")
    replay.add_argument("--target", help="replay against this target instead of the recorded one")
    add_service_flags(replay)

    check = sub.add_parser("check", help="pre-release gate: replay the corpus, then fuzz")
    check.add_argument("--corpus", default="reports/corpus", help="scenario directory")
    check.add_argument("--target", help="target for replays and the campaign (default: recorded "
                       "targets, and reference for the campaign)")
    check.add_argument("--transport", choices=["local", "websocket"], default="local")
    check.add_argument("--max-examples", type=int, help="pre-release budget (default 300)")
    check.add_argument("--junit", metavar="FILE", help="also write the JUnit XML here")
    check.add_argument("--report-dir", default="reports", help="where run reports go")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    add_service_flags(check)

    zoo = sub.add_parser("zoo", help="run against every seeded-bug variant and tabulate")
    zoo.add_argument("--bugs", nargs="+", metavar="BUG", help="only these bugs (default: all)")
    zoo.add_argument(
        "--budget-per-bug", type=_duration_arg, default=60.0, help="time per bug (default 60s)"
    )
    zoo.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    zoo.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    return parser


def _add_report_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-dir", default="reports", help="where reports/<run-id>/ go (default reports)"
    )
    parser.add_argument(
        "--corpus",
        default="reports/corpus",
        help="where found scenarios accumulate (default reports/corpus; 'none' to skip)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``isolation-fuzz`` console script; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "run":
            from isolation_fuzz.cli.run import run_command

            return run_command(args, sys.stdout, sys.stderr)
        if args.command == "replay":
            from isolation_fuzz.cli.replay import replay_command

            return replay_command(args, sys.stdout, sys.stderr)
        if args.command == "check":
            from isolation_fuzz.cli.check import check_command

            return check_command(args, sys.stdout, sys.stderr)
        if args.command == "zoo":
            from isolation_fuzz.cli.zoo import zoo_command

            return zoo_command(args, sys.stdout, sys.stderr)
        raise UsageError(f"unknown command {args.command!r}")
    except IsolationFuzzError as exc:
        _error(sys.stderr, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error(sys.stderr, "interrupted")
        return 130
    except Exception as exc:  # a bug of ours: one line, unless asked for the traceback
        if os.environ.get("ISOLATION_FUZZ_DEBUG"):
            raise
        _error(
            sys.stderr,
            f"internal error {type(exc).__name__}: {exc} (a bug in isolation-fuzz; "
            "set ISOLATION_FUZZ_DEBUG=1 for the traceback and please report it)",
        )
        return 3


def _error(stream: TextIO, message: str) -> None:
    stream.write(f"isolation-fuzz: error: {message}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
