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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from isolation_fuzz.errors import IsolationFuzzError, ServiceUnavailable
from isolation_fuzz.redaction import redact_url

__all__ = ["reaching"]


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
        raise ServiceUnavailable(service, redact_url(url), str(exc).splitlines()[0]) from exc
