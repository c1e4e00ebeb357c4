"""What a usable service URL looks like, checked before anything is started.

Drivers are lenient in ways that hide mistakes: redis-py reads ``redis://`` as
localhost database 0, clickhouse-connect reads ``garbage`` as ``localhost:8123``,
and a malformed port surfaced only when the first connection failed, as an
infrastructure fault (exit 3) after the embedded engines had started (issue 10).
:func:`check_url` refuses such a URL at once, as bad input (:class:`UsageError`,
exit 2), showing it with its password hidden and an example of the right shape.

The rules are deliberately few: a known scheme, a host where the driver would
otherwise invent one, a port that is a number, and for Redis a numeric database.
Anything subtler (a wrong password, a missing database) is for the server to say.
"""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qs, urlsplit

from isolation_fuzz.errors import UsageError
from isolation_fuzz.redaction import redact_url

__all__ = ["EXAMPLES", "check_url"]

#: A well-formed URL per service, shown in every refusal.
EXAMPLES = {
    "redis": "redis://[:password@]host[:6379][/db]",
    "postgres": "postgresql://user[:password]@host[:5432]/database",
    "clickhouse": "http(s)://[user:password@]host[:8123] or chdb://memory",
}

_SCHEMES = {
    "redis": ("redis", "rediss", "unix"),
    "postgres": ("postgresql", "postgres"),
    "clickhouse": ("http", "https", "clickhouse", "chdb"),
}


def check_url(service: str, url: str) -> None:
    """Raise :class:`UsageError` unless ``url`` is a usable URL for ``service``.

    Args:
        service: ``"redis"``, ``"postgres"`` or ``"clickhouse"``.
        url: the URL as given (flag or environment variable).

    Raises:
        UsageError: the URL cannot mean a server, naming what is wrong.
    """
    problem = _problem(service, url)
    if problem is not None:
        raise UsageError(
            f"{service} URL {redact_url(url)!r} {problem}; write it as {EXAMPLES[service]} "
            f"(or leave --{service}-url unset for the embedded engine)"
        )


def _problem(service: str, url: str) -> str | None:
    if not url.strip():
        return "is empty"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"cannot be parsed ({exc})"
    schemes = _SCHEMES[service]
    if parts.scheme not in schemes:
        found = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        return f"has {found}, not {' or '.join(s + '://' for s in schemes)}"
    if parts.scheme == "chdb":
        return None
    if parts.scheme == "unix":
        return None if parts.path.strip("/") else "names no socket path"
    hosts = parts.netloc.rpartition("@")[2]
    if service == "postgres":
        if not hosts:
            has_host = parse_qs(parts.query).get("host")
            return None if has_host else "names no host (give one, or ?host=/path/to/socket)"
        return _ports(hosts.split(","))
    if not parts.hostname:
        return "names no host"
    bad_port = _ports([hosts])
    if bad_port is not None:
        return bad_port
    if service == "redis":
        return _redis_db(parts)
    return None


def _ports(hosts: list[str]) -> str | None:
    """The first problem with a ``host[:port]`` in ``hosts`` (IPv6 literals in brackets)."""
    for host in hosts:
        if not host:
            return "has an empty host"
        after_literal = host.rpartition("]")[2]  # '[::1]:6379' -> ':6379'; 'h:1' -> 'h:1'
        if ":" not in after_literal:
            continue
        port = after_literal.rpartition(":")[2]
        if not port.isdigit() or not 0 < int(port) < 65536:
            return f"has port {port!r}, not a number from 1 to 65535"
    return None


def _redis_db(parts: SplitResult) -> str | None:
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return f"has database {db!r}, not a number"
    for value in parse_qs(parts.query).get("db", []):
        if not value.isdigit():
            return f"has ?db={value!r}, not a number"
    return None
