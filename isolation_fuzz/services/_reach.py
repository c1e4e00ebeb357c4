"""One rule for "this service cannot be reached": :func:`reaching`.

Every call that first touches a server (a Redis ``PING``, an asyncpg connection or
pool, a ClickHouse client's first query) runs inside :func:`reaching`.  It sets a
deadline a little longer than the driver's own timeout, so a driver that ignores
its timeout still cannot hang a campaign, and it reports any failure the same way:
a :class:`ServiceUnavailable` that names the service, shows the URL with its
password hidden, and keeps only the first line of the driver's message (asyncpg and
clickhouse-connect add multi-line detail that belongs in the chained exception, not
on the user's terminal).  Our own errors (a :class:`MissingDependency` raised while
opening a client) pass through unchanged, so the install hint is not lost.

The same rule holds mid-campaign (issue 10: a Redis killed during a campaign ended
as "a bug in isolation-fuzz").  :func:`service_fault` finds, anywhere in an
exception's causes, contexts or groups, the error a driver raises when its server
is gone (redis-py's ``ConnectionError``, asyncpg's connection errors, an
``OSError`` raised from inside a driver) and names the service it came from, by
the driver's module, so nothing here imports a driver.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import anyio

from isolation_fuzz.errors import InfrastructureError, IsolationFuzzError, ServiceUnavailable
from isolation_fuzz.redaction import redact_url

__all__ = ["ServiceFaults", "first_line", "reaching", "service_fault"]


@contextmanager
def reaching(service: str, url: str, deadline: float) -> Iterator[None]:
    """Run the body within ``deadline`` seconds; turn any failure into ServiceUnavailable.

    Args:
        service: ``"redis"``, ``"postgres"`` or ``"clickhouse"``, as the error shows it.
        url: the URL being reached; only its redacted form reaches the message.
        deadline: seconds before the body is cancelled and reported as ``"timed out"``.

    Raises:
        ServiceUnavailable: the body timed out or raised any other exception.
    """
    try:
        with anyio.fail_after(deadline):
            yield
    except TimeoutError as exc:
        raise ServiceUnavailable(service, redact_url(url), "timed out") from exc
    except IsolationFuzzError:
        raise
    except Exception as exc:
        raise ServiceUnavailable(service, redact_url(url), first_line(exc)) from exc


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its type's name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


#: Driver module prefix -> service, and the driver's error classes that mean
#: "the server is gone or unreachable" (matched by name along the class's MRO).
_DRIVERS: dict[str, tuple[str, frozenset[str]]] = {
    "redis": ("redis", frozenset({"ConnectionError", "TimeoutError", "BusyLoadingError"})),
    "asyncpg": (
        "postgres",
        frozenset({"PostgresConnectionError", "OperatorInterventionError"}),
    ),
    "clickhouse_connect": ("clickhouse", frozenset({"OperationalError", "StreamClosedError"})),
    "chdb": ("clickhouse", frozenset()),
}


def _driver_of(module: str) -> str | None:
    root = module.partition(".")[0]
    return root if root in _DRIVERS else None


def _service_of(exc: BaseException) -> str | None:
    driver = _driver_of(type(exc).__module__)
    if driver is not None:
        service, kinds = _DRIVERS[driver]
        names = {cls.__name__ for cls in type(exc).__mro__}
        closed = driver == "asyncpg" and "connection is closed" in str(exc)
        return service if names & kinds or closed else None
    if isinstance(exc, OSError):  # a socket error: whose driver raised it?
        tb = exc.__traceback__
        while tb is not None:
            driver = _driver_of(str(tb.tb_frame.f_globals.get("__name__", "")))
            if driver is not None:
                return _DRIVERS[driver][0]
            tb = tb.tb_next
    return None


def service_fault(
    exc: BaseException, urls: Mapping[Any, str] | None = None
) -> ServiceUnavailable | None:
    """The service failure behind ``exc``, as one :class:`ServiceUnavailable`, or None.

    Args:
        exc: any exception, possibly a group or a chain (Hypothesis wraps errors).
        urls: service -> URL, to name where the service was; redacted before use.

    Returns:
        ``exc`` or the first :class:`ServiceUnavailable` in its chain, or a new one for
        the first driver error that means a server is gone; None when there is none.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ServiceUnavailable):
            return current
        service = _service_of(current)
        if service is not None:
            url = (urls or {}).get(service)
            where = redact_url(url) if url else f"the campaign's {service}"
            return ServiceUnavailable(
                service, where, f"it stopped answering ({first_line(current)})"
            )
        pending.extend(getattr(current, "exceptions", ()))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


class ServiceFaults:
    """A context manager that turns a lost service, raised from its body, into one error.

    Anything that is not a service's fault passes through unchanged; a driver's
    "server gone" error, or a vaguer :class:`InfrastructureError` caused by one, leaves
    as the :class:`ServiceUnavailable` :func:`service_fault` makes of it, chained to
    the original.  Set :attr:`urls`
    once the services are known, so the message shows where the service was.
    """

    def __init__(self) -> None:
        self.urls: Mapping[Any, str] = {}

    def __enter__(self) -> ServiceFaults:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, ServiceUnavailable):
            return
        if isinstance(exc, IsolationFuzzError) and not isinstance(exc, InfrastructureError):
            return  # bad input, a crashed invariant...: not a service's doing
        fault = service_fault(exc, self.urls)
        if fault is not None:
            raise fault from exc
