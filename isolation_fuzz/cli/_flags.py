"""Service flags shared by the commands: ``--redis-url`` and friends, else the environment."""

from __future__ import annotations

import argparse

from isolation_fuzz.services import ServiceConfig

__all__ = ["add_service_flags", "services_from"]

SERVICES = ("redis", "postgres", "clickhouse")


def add_service_flags(parser: argparse.ArgumentParser) -> None:
    for service in SERVICES:
        parser.add_argument(
            f"--{service}-url",
            help=f"external {service} server (default: $ISOLATION_FUZZ_{service.upper()}_URL, "
            "else the embedded engine)",
        )


def services_from(args: argparse.Namespace) -> ServiceConfig:
    env = ServiceConfig.from_env()
    return ServiceConfig(
        redis_url=args.redis_url or env.redis_url,
        postgres_url=args.postgres_url or env.postgres_url,
        clickhouse_url=args.clickhouse_url or env.clickhouse_url,
    )
