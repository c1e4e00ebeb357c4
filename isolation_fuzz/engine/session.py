"""A session: the event loop, the services, the target and a fresh signing key, held open.

Campaigns and replays both need the same world: engines up (embedded or by URL),
the target opened on them, a run controller on the loop, and an auth config whose
key exists only for this session (tokens are minted here, never stored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from isolation_fuzz.engine.execution import Harness, IsolationViolated, Limits, Stats
from isolation_fuzz.engine.identity import AuthConfig, Redactor
from isolation_fuzz.engine.schedule import CampaignLoop, RunController
from isolation_fuzz.services import ServiceConfig, open_services
from isolation_fuzz.target import TargetSpec, open_target, resolve_target

__all__ = ["Session", "open_session"]


@dataclass(frozen=True)
class Session:
    """What an open session offers: the harness to execute moves, and where services run."""

    harness: Harness
    services: dict[str, str]


@contextmanager
def open_session(
    target: TargetSpec,
    services: ServiceConfig,
    limits: Limits,
    on_step: Callable[[Stats], None] | None = None,
    on_failure: Callable[[IsolationViolated], None] | None = None,
) -> Iterator[Session]:
    """Start services and open ``target`` on them; tear both down on exit."""
    resolve_target(target)  # a bad target name fails before any engine starts
    auth = AuthConfig.generate()
    redactor = Redactor()
    for secret in auth.secrets():
        redactor.add(secret)
    with CampaignLoop() as loop:
        opened = loop.enter_async(open_services(services))
        system = loop.enter_async(open_target(target, opened, auth))
        controller = loop.enter_async(RunController(limits.block_timeout))
        stats = Stats()
        harness = Harness(
            loop, controller, system, auth, redactor, limits, stats, on_step, on_failure
        )
        yield Session(harness, opened.endpoints.describe())
