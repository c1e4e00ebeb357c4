"""The ``isolation-fuzz`` command: one module per subcommand, and the exit codes.

What lives here: :func:`main` (the console script), the parser it builds from the
command modules (each has ``add_parser(sub)`` and ``run(args, out, err) -> int``),
and the one place where errors become exit codes.  The commands: ``run`` (a campaign,
its verdict and report files), ``stress`` (many identities, runs truly at once),
``replay`` (a saved scenario performed again), ``check`` (the pre-release gate),
``clean`` (what killed campaigns left behind) and ``zoo`` (every seeded bug, as a
table).  Flags more than one command takes live in ``_flags``.

The CLI only parses flags, calls the engine and hands the engine's events to the
reporters; every exit code comes from the result (0 clean, 1 confirmed violation,
2 too small a budget, 3 trouble), from the error class (2 usage or bad input,
3 infrastructure) or from a signal (130 SIGINT, 143 SIGTERM).  No traceback reaches
the user for an error of ours, and no secret reaches the terminal: everything
printed passes through the campaign's redactor, and an error line is scrubbed of the
passwords in the service URLs it was given.  Bad input is refused by ``_preflight``
before a command starts anything.

Signals.  :func:`main` holds the outermost
:func:`~isolation_fuzz.engine.stopping.handling_signals` for the whole command, so a
SIGINT or SIGTERM in any phase (engines starting, fuzzing, shrinking, confirming,
writing) is noted, the command finishes its report and cleans up, and the exit code
is the signal's, never 0 (issue 10: a SIGTERM during start-up once exited 0,
"clean").  A command that the signal reached in the middle of a replay raises
``StopRequested``; it is turned into the verdict line here.

Who may import it: nobody but the console script and tests; it sits on top of every
other floor.  Command modules import the engine inside ``run``, so building the
parser (``--help``, a mistyped flag) stays quick.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Protocol, TextIO, cast

from isolation_fuzz import __version__
from isolation_fuzz.cli import check, clean, replay, run, stress, zoo
from isolation_fuzz.cli._flags import parse_duration
from isolation_fuzz.cli._preflight import preflight
from isolation_fuzz.cli._pyproject import apply_pyproject
from isolation_fuzz.engine.stopping import SIGNAL_EXIT_CODES, StopRequested, handling_signals
from isolation_fuzz.errors import IsolationFuzzError, UsageError
from isolation_fuzz.redaction import Redactor, url_secrets
from isolation_fuzz.services import ENV_VARS

__all__ = ["main", "parse_duration"]



class _Command(Protocol):
    """What a command module offers (a module satisfies a protocol by its functions)."""

    def add_parser(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> int: ...


#: Subcommand name -> its module, in the order ``--help`` lists them.
COMMANDS: dict[str, _Command] = {
    "run": run, "stress": stress, "replay": replay, "check": check, "zoo": zoo,
    "clean": clean,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="isolation-fuzz",
        description="Find cross-user isolation bugs in multi-user agent backends.",
    )
    parser.add_argument("--version", action="version", version=f"isolation-fuzz {__version__}")
    # The subparsers build _Parser instances; the commands need only ArgumentParser's face.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, parser_class=_Parser),
    )
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``isolation-fuzz`` console script; returns the exit code."""
    with handling_signals() as signals:
        code = _main(argv)
        received = signals.received
    if received is not None and code not in SIGNAL_EXIT_CODES.values():
        # The signal came after the command's own verdict (while writing): still never 0.
        sys.stdout.write(f"verdict: interrupted by {received} (after the verdict above)\n")
        code = SIGNAL_EXIT_CODES[received]
    return code


def _main(argv: Sequence[str] | None) -> int:
    _quiet_libraries()
    secrets = _secrets(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        command = COMMANDS.get(args.command)
        if command is None:
            raise UsageError(f"unknown command {args.command!r}")
        apply_pyproject(args, argv, _parser)  # [tool.isolation-fuzz] fills unset flags
        preflight(args)  # bad input fails here, before any engine starts
        return command.run(args, sys.stdout, sys.stderr)
    except IsolationFuzzError as exc:
        _error(sys.stderr, secrets.redact(str(exc)))
        return exc.exit_code
    except StopRequested as stop:
        sys.stdout.write(f"verdict: interrupted by {stop.reason}\n")
        return SIGNAL_EXIT_CODES.get(stop.reason, 130)
    except KeyboardInterrupt:
        sys.stdout.write("verdict: interrupted by SIGINT\n")
        return 130
    except Exception as exc:  # a bug of ours: one line, unless asked for the traceback
        if os.environ.get("ISOLATION_FUZZ_DEBUG"):
            raise
        _error(
            sys.stderr,
            secrets.redact(
                f"internal error {type(exc).__name__}: {exc} (a bug in isolation-fuzz; "
                "set ISOLATION_FUZZ_DEBUG=1 for the traceback and please report it)"
            ),
        )
        return 3


def _error(stream: TextIO, message: str) -> None:
    # One line, always: a driver's multi-line message must not look like several errors.
    one_line = " ".join(message.split())
    stream.write(f"isolation-fuzz: error: {one_line}\n")


def _secrets(argv: Sequence[str]) -> Redactor:
    """The passwords in the service URLs of ``argv`` and the environment, to scrub."""
    redactor = Redactor()
    for text in [*argv, *(os.environ.get(var, "") for var in ENV_VARS.values())]:
        if "://" in text or "@" in text:
            for secret in url_secrets(text.partition("=")[2] if text.startswith("--") else text):
                redactor.add(secret)
    return redactor


def _quiet_libraries() -> None:
    """Keep drivers' log records off the terminal: the CLI says what went wrong itself.

    Without a handler, Python prints a library's warnings through its last-resort
    handler, so clickhouse-connect's "Unexpected Http Driver Exception" used to come
    before our one-line error (issue 10).
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
