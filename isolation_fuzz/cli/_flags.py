"""The flags several commands share, and what they turn into, in one place.

Service flags (``--redis-url`` and friends, else the environment, and
``--service-timeout``), the run controller's ``--block-timeout``, report flags
(``--report-dir``, ``--corpus``) and durations (``90s``, ``10m``, ``1.5h``).  A
command module adds the groups it needs in its ``add_parser`` and reads them back
with :func:`services_from` and :func:`report_from`, so two commands cannot spell or
default the same flag differently.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from isolation_fuzz.errors import UsageError
from isolation_fuzz.services import ServiceConfig

if TYPE_CHECKING:
    from isolation_fuzz.report.files import RunReport

__all__ = [
    "add_block_timeout_flag",
    "add_points_flag",
    "add_report_flags",
    "add_service_flags",
    "duration_arg",
    "parse_duration",
    "report_from",
    "services_from",
]

SERVICES = ("redis", "postgres", "clickhouse")

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


def duration_arg(text: str) -> float:
    """:func:`parse_duration` as an argparse ``type``."""
    try:
        return parse_duration(text)
    except UsageError as exc:
        # argparse replaces a ValueError's message with a generic one; keep ours.
        raise argparse.ArgumentTypeError(str(exc)) from None


def timeout_arg(text: str) -> float:
    """A positive duration (``10s``, ``0.5``) as an argparse ``type``, for timeouts."""
    try:
        return parse_duration(text)
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"timeout {text!r} is not a positive duration; write e.g. 10s or 0.5s"
        ) from None


def add_service_flags(parser: argparse.ArgumentParser) -> None:
    """``--redis-url``, ``--postgres-url``, ``--clickhouse-url`` and ``--service-timeout``."""
    for service in SERVICES:
        parser.add_argument(
            f"--{service}-url",
            help=f"external {service} server (default: $ISOLATION_FUZZ_{service.upper()}_URL, "
            "else the embedded engine)",
        )
    parser.add_argument(
        "--service-timeout",
        type=timeout_arg,
        default=ServiceConfig.service_timeout,
        metavar="DURATION",
        help="how long a service may take to answer mid-campaign before the command ends "
        "with exit 3 naming it; a slow service is never a violation (default 10s)",
    )


def add_points_flag(parser: argparse.ArgumentParser, *, recorded: bool = False) -> None:
    """``--points auto|explicit|auto-only``: which suspensions are interleaving points."""
    default = "the scenario's recorded mode" if recorded else "auto"
    parser.add_argument(
        "--points",
        choices=["auto", "explicit", "auto-only"],
        default=None if recorded else "auto",
        help="where runs may be interleaved: at every real await and every checkpoint() "
        f"(auto), only at checkpoint() calls (explicit), or only at awaits (auto-only); "
        f"default {default}",
    )


def add_block_timeout_flag(parser: argparse.ArgumentParser) -> None:
    """``--block-timeout``: how long a run may go without reaching a checkpoint."""
    parser.add_argument(
        "--block-timeout",
        type=timeout_arg,
        default=5.0,
        metavar="DURATION",
        help="how long a run may go without reaching a checkpoint before the services are "
        "probed and, if all answer while another run is paused, it counts as blocked "
        "(default 5s)",
    )


def services_from(args: argparse.Namespace) -> ServiceConfig:
    """The service flags, each falling back to its environment variable.

    A flag given empty (``--redis-url ''``) is refused as a malformed URL rather than
    read as "embedded": only a flag left out falls back.
    """
    env = ServiceConfig.from_env()
    return ServiceConfig(
        redis_url=env.redis_url if args.redis_url is None else args.redis_url,
        postgres_url=env.postgres_url if args.postgres_url is None else args.postgres_url,
        clickhouse_url=env.clickhouse_url if args.clickhouse_url is None else args.clickhouse_url,
        service_timeout=getattr(args, "service_timeout", ServiceConfig.service_timeout),
    )


def add_report_flags(parser: argparse.ArgumentParser) -> None:
    """``--report-dir`` and ``--corpus``."""
    parser.add_argument(
        "--report-dir", default="reports", help="where reports/<run-id>/ go (default reports)"
    )
    parser.add_argument(
        "--corpus",
        default="reports/corpus",
        help="where found scenarios accumulate (default reports/corpus; 'none' to skip)",
    )


def report_from(args: argparse.Namespace, label: str, notices: TextIO | None = None) -> RunReport:
    """The run's report files under ``--report-dir``, feeding ``--corpus`` unless 'none'."""
    from isolation_fuzz.report.files import RunReport, new_run_id

    corpus = None if args.corpus == "none" else Path(args.corpus)
    return RunReport(Path(args.report_dir), new_run_id(label), corpus, notices)
