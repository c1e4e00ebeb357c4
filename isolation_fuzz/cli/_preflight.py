"""Bad input refused before anything starts: one check of every flag a command got.

Design note.  A campaign takes minutes, and its embedded engines take seconds to
start, so everything that can be known from the flags alone is checked here, once,
by :func:`preflight`, before a command's ``run`` is called.  Before issue 10 an
unusable ``--report-dir`` was found only when the report was written, after the
whole campaign, as an "internal error", and a finding made meanwhile was lost.

What is checked, by flag name rather than by command, so a command that adds a flag
of the same name gets the same check:

* numbers that count something (``--max-examples``, ``--repeat``) are at least 1;
* ``--profile``, ``--target`` (with ``--transport``) and ``zoo --bugs`` name things
  that exist;
* the service URLs, from flags or the environment, are well formed
  (:func:`isolation_fuzz.services.check_url`);
* every path the command will write (``--report-dir``, ``--corpus``, ``--junit``,
  ``zoo --json``, ``--export-test``, a ``--database`` directory) can be written: a
  directory that exists or can be made, a file that is not a directory or a device,
  in a directory where a file was just created and removed (the only test that
  tells ``/proc`` or a read-only mount from a writable place, even as root);
* ``check --corpus`` exists, unless it is the default (a project with no finding yet
  has none), and every scenario file in it loads (all the bad ones are named: a
  corrupt corpus fails the gate, it is never skipped); ``--export-test`` does not
  overwrite a file without ``--force``.

Every refusal is a :class:`UsageError` (exit 2) whose message names the flag and
the value and says what to do instead.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from isolation_fuzz.errors import UsageError

__all__ = ["DEFAULT_CORPUS", "MAX_COUNT", "check_dir", "check_file", "preflight"]

#: Where ``run`` saves findings and ``check`` replays them from, unless told otherwise.
DEFAULT_CORPUS = "reports/corpus"

#: The largest count a flag takes: beyond it a number is a typo, not a wish.
MAX_COUNT = 1_000_000_000

_COUNTS = ("max_examples", "repeat")


def preflight(args: argparse.Namespace) -> None:
    """Refuse the parsed ``args`` of a command if any of them cannot work.

    Raises:
        UsageError: the first flag found unusable, named with its value.
    """
    for name in _COUNTS:
        _check_count(name, getattr(args, name, None))
    _check_names(args)
    from isolation_fuzz.cli._flags import services_from

    if hasattr(args, "redis_url"):
        services_from(args)  # a ServiceConfig refuses malformed URLs when it is made
    else:
        from isolation_fuzz.services import ServiceConfig

        ServiceConfig.from_env()  # zoo: only the environment says where services are
    _check_paths(args)


def _check_count(name: str, value: int | None) -> None:
    flag = "--" + name.replace("_", "-")
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")
    if value is not None and value > MAX_COUNT:
        raise UsageError(f"{flag} must be at most {MAX_COUNT:,}, got {value}")


def _check_names(args: argparse.Namespace) -> None:
    if getattr(args, "profile", None) is not None:
        from isolation_fuzz.engine.campaign.budget import profile_named

        profile_named(args.profile)
    if getattr(args, "target", None) is not None:
        from isolation_fuzz.target import TargetSpec, resolve_target

        if not args.target.strip():
            raise UsageError("--target is empty; name a target, e.g. reference or zoo:<bug>")
        resolve_target(TargetSpec(args.target, getattr(args, "transport", None) or "local"))
    if getattr(args, "bugs", None):
        from isolation_fuzz.platform.bugs import BUGS

        unknown = sorted(set(args.bugs) - set(BUGS))
        if unknown:
            raise UsageError(f"unknown bug(s) {unknown}; choose from {list(BUGS)}")


def _check_paths(args: argparse.Namespace) -> None:
    command = getattr(args, "command", None)
    if getattr(args, "report_dir", None) is not None:
        check_dir("--report-dir", args.report_dir)
    corpus = getattr(args, "corpus", None)
    if corpus is not None and command == "check":
        _check_corpus_to_read(corpus)
    elif corpus is not None and corpus != "none":
        check_dir("--corpus", corpus)
    if getattr(args, "junit", None) is not None:
        check_file("--junit", args.junit)
    if command == "zoo" and getattr(args, "json", None) is not None:
        check_file("--json", args.json)
    if getattr(args, "export_test", None) is not None:
        if not args.export_test.endswith(".py"):
            raise UsageError(
                f"--export-test {args.export_test!r}: the test module's name must end in .py"
            )
        check_file("--export-test", args.export_test, overwrite=getattr(args, "force", False))
    database = getattr(args, "database", None)
    if database is not None:
        if "://" in database:
            if not database.startswith(("redis://", "rediss://", "unix://")):
                raise UsageError(f"--database {database!r}: use a directory path or a redis:// URL")
            from isolation_fuzz.services import check_url

            check_url("redis", database)
        else:
            check_dir("--database", database)


def _check_corpus_to_read(corpus: str) -> None:
    path = Path(corpus)
    if not corpus.strip():
        raise UsageError("--corpus is empty; pass the directory of saved scenarios")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise UsageError(f"--corpus {corpus!r} cannot be read (permission denied)")
        _check_corpus_files(path)
        return
    if path.exists():
        raise UsageError(f"--corpus {corpus!r} is not a directory; pass --corpus DIR")
    if corpus != DEFAULT_CORPUS:
        raise UsageError(
            f"--corpus {corpus!r} does not exist; pass the directory run saves findings in "
            f"(default {DEFAULT_CORPUS}), or create it empty for a first release"
        )


def _check_corpus_files(corpus: Path) -> None:
    """Load every scenario of the corpus; name every one that cannot be replayed."""
    from isolation_fuzz.engine.replay.scenario import load_scenario

    bad = []
    for path in sorted(p for p in corpus.glob("*.json") if not p.name.startswith(".")):
        try:
            load_scenario(path)
        except UsageError as exc:
            bad.append(str(exc))
    if bad:
        raise UsageError(
            f"the gate fails: {len(bad)} corpus file(s) are not scenarios it can replay: "
            + "; ".join(bad) + ". Fix or remove them"
        )


def check_dir(flag: str, text: str) -> Path:
    """``text`` as a directory the command can write in, made later if missing.

    Raises:
        UsageError: it is empty, a file, under a file, or in a place where no file
            can be created (no permission, a read-only or virtual file system).
    """
    if not text.strip():
        raise UsageError(f"{flag} is empty; pass a directory")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {text!r} exists and is not a directory; pass a directory")
    _check_writable(flag, text, path)
    return path


def check_file(flag: str, text: str, *, overwrite: bool = True) -> Path:
    """``text`` as a regular file the command can write (replace, if ``overwrite``).

    Raises:
        UsageError: it is empty, a directory or a device, exists when ``overwrite`` is
            false, or its directory is not one a file can be created in.
    """
    if not text.strip():
        raise UsageError(f"{flag} is empty; pass a file name")
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(f"{flag} {text!r} is a directory; pass a file name")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise UsageError(f"{flag} {text!r} is not a regular file; pass a file name")
        if not overwrite:
            raise UsageError(f"{flag} {text!r} exists; pass --force to overwrite it")
    _check_writable(flag, text, path.parent)
    return path


def _check_writable(flag: str, text: str, directory: Path) -> None:
    """Create and remove a file in the nearest existing ancestor of ``directory``."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f"{flag} {text!r} cannot be made: {str(existing)!r} is a file, not a directory"
        )
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".isolation-fuzz-probe-")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(
            f"{flag} {text!r} is not writable: cannot create a file in {str(existing)!r} "
            f"({reason}); pass a path in a writable directory"
        ) from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
