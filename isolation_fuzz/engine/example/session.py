"""A session: the event loop, the services, the target and a fresh signing key, held open.

Campaigns and replays both need the same world: engines up (embedded or by URL),
the target opened on them, a run controller on the loop, and an auth config whose
key exists only for this session (tokens are minted here, never stored).

The controller gets the session's services to probe (every service it opened, on
fresh connections) and the service timeout: a run that goes silent is judged by
:mod:`isolation_fuzz.engine.schedule.stall`, so a stalled service ends the session with
:class:`~isolation_fuzz.errors.ServiceUnavailable`, never with a finding.  An
infrastructure error that left a Hypothesis example as
:class:`~isolation_fuzz.engine.schedule.stall.InfrastructureStop` leaves the session as itself.
With Postgres open, the controller also gets a connection of its own to ask who holds
up a silent run's statement (:func:`~isolation_fuzz.services.postgres_locks`), so a run
waiting on a paused run's row lock moves that run instead of looking blocked.

Which engines start is the target's to say (issue 11): its factory's declared
:class:`~isolation_fuzz.capabilities.Capabilities` are read before anything opens,
and only the declared stores' engines start (``Session.services`` lists them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from isolation_fuzz.capabilities import capabilities_of, declared_auth, refine
from isolation_fuzz.engine.example.fresh import fresh_target
from isolation_fuzz.engine.example.harness import Harness, Limits, Stats
from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.loop import CampaignLoop
from isolation_fuzz.engine.schedule.stall import InfrastructureStop
from isolation_fuzz.errors import IsolationFuzzError
from isolation_fuzz.redaction import Redactor
from isolation_fuzz.services import (
    ServiceConfig,
    ServiceFaults,
    open_services,
    postgres_locks,
    probe_services,
)
from isolation_fuzz.target import Target, TargetSpec, open_target, resolve_target
from isolation_fuzz.tokens import AuthConfig

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
) -> Iterator[Session]:
    """Start services and open ``target`` on them; tear both down on exit.

    The target's declared capabilities are read from its factory first: a bad name or
    declaration fails before any engine starts, and only the declared stores start.
    """
    factory = resolve_target(target)
    declared = capabilities_of(factory)
    auth = declared_auth(factory) or AuthConfig.generate()
    redactor = Redactor()
    for secret in auth.secrets():
        redactor.add(secret)
    # A service lost mid-session (or in teardown) leaves as one error naming it.
    with _unwrapped_tool_errors(), ServiceFaults() as faults, CampaignLoop() as loop:
        opened = loop.enter_async(open_services(services, services=declared.engines))
        faults.urls = opened.endpoints.urls
        system: Target
        if limits.fresh_target:  # the factory is called again after every example
            system = loop.enter_async(fresh_target(partial(open_target, target, opened, auth)))
        else:
            system = loop.enter_async(open_target(target, opened, auth))
        capabilities = refine(declared, system)
        urls: dict[str, str] = {name: url for name, url in opened.endpoints.urls.items()}
        probe = partial(probe_services, urls, services.service_timeout)
        locks = None
        if "postgres" in urls:  # to see a run waiting on a paused run's row lock
            locks = loop.enter_async(postgres_locks(urls["postgres"], services.service_timeout))
        controller = loop.enter_async(
            RunController(
                limits.block_timeout, service_timeout=services.service_timeout, probe=probe,
                points=limits.points, locks=locks,
            )
        )
        stats = Stats()
        harness = Harness(
            loop, controller, system, auth, redactor, limits, stats, capabilities=capabilities,
            name=target.name,
        )
        try:
            yield Session(harness, opened.describe())
        except InfrastructureStop as stop:
            raise stop.error from stop.error.__cause__  # its own cause, not the carrier


@contextmanager
def _unwrapped_tool_errors() -> Iterator[None]:
    """Let a tool error (exit 2 or 3) leave as itself, not inside anyio's task groups.

    Unwinding the loop's task groups (the controller's, the services') wraps an error
    raised in the body in ``ExceptionGroup`` layers; the command line would then call
    a stalled target "internal error" instead of printing its one line.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        ours = _first_tool_error(group)
        if ours is None:
            raise
        raise ours from ours.__cause__


def _first_tool_error(group: BaseExceptionGroup[BaseException]) -> IsolationFuzzError | None:
    for exc in group.exceptions:
        if isinstance(exc, InfrastructureStop):
            return exc.error
        if isinstance(exc, IsolationFuzzError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_tool_error(exc)
            if found is not None:
                return found
    return None
