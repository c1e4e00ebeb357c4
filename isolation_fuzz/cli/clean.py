"""``isolation-fuzz clean``: remove what campaigns killed before their teardown left behind.

A campaign removes its namespace on every exit it controls; a SIGKILL, a lost
machine or a power cut leave Redis keys, a Postgres schema and a role.  This
command removes the namespaces whose leases have expired, and nothing else: never
a live campaign's, never anything isolation-fuzz did not mark as its own (see
:mod:`isolation_fuzz.services.lease`).  It prints one line per namespace removed.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from isolation_fuzz.errors import UsageError

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``clean`` and its flags to the command's subparsers."""
    clean = sub.add_parser(
        "clean",
        help="remove the namespaces of dead campaigns (expired leases) from external servers",
        description="Remove the Redis keys, Postgres schemas and roles of campaigns whose "
        "lease has expired (killed before their own teardown). Live campaigns and anything "
        "isolation-fuzz did not create are left alone.",
    )
    for service in ("redis", "postgres"):
        clean.add_argument(
            f"--{service}-url",
            help=f"the {service} server campaigns used "
            f"(default: $ISOLATION_FUZZ_{service.upper()}_URL)",
        )
    # No ClickHouse flag (clean does not look there), but the shared URL checks read one.
    clean.set_defaults(clickhouse_url=None)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Remove every expired namespace on the given servers; print what went; exit 0."""
    import anyio

    from isolation_fuzz.cli._flags import services_from
    from isolation_fuzz.redaction import redact_url
    from isolation_fuzz.services import clean_expired

    config = services_from(args)  # vets the URLs: a malformed one is bad input (exit 2)
    if not config.redis_url and not config.postgres_url:
        raise UsageError(
            "clean needs the servers campaigns used: give --redis-url, --postgres-url or "
            "both (or set ISOLATION_FUZZ_REDIS_URL / ISOLATION_FUZZ_POSTGRES_URL); "
            "embedded engines die with their campaign and need no cleaning"
        )
    removed = anyio.run(clean_expired, config.redis_url, config.postgres_url)
    where = ", ".join(
        redact_url(url) for url in (config.redis_url, config.postgres_url) if url is not None
    )
    for item in removed:
        out.write(f"removed {item.describe()}\n")
    out.write(f"clean: {len(removed)} expired namespace(s) removed from {where}\n")
    return 0
