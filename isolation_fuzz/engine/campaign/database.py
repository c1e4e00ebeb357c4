"""Where Hypothesis keeps the examples it found: a directory, or Redis for many workers.

Several nightly workers pointed at one Redis database share what each finds:
every worker replays the others' failing and interesting examples first.  The
Redis database touches only its own key prefix, so a shared server is safe.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from isolation_fuzz.errors import ServiceUnavailable, UsageError
from isolation_fuzz.redaction import redact_url
from isolation_fuzz.services import check_url

__all__ = ["KEY_PREFIX", "open_database"]

KEY_PREFIX = b"isolation-fuzz:examples:"


def open_database(spec: str) -> ExampleDatabase:
    """``PATH`` (a directory, created if missing) or ``redis://host:port/db``."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        check_url("redis", spec)  # a malformed URL is bad input, not a dead server
        client = redis.Redis.from_url(spec, socket_connect_timeout=3, socket_timeout=10)
        try:
            client.ping()
        except (redis.RedisError, OSError) as exc:
            shown = redact_url(spec)
            raise ServiceUnavailable("example database (redis)", shown, str(exc)) from None
        return RedisExampleDatabase(client, key_prefix=KEY_PREFIX)
    if "://" in spec:
        raise UsageError(f"--database {spec!r}: use a directory path or a redis:// URL")
    path = Path(spec)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--database {spec!r} exists and is not a directory")
    return DirectoryBasedExampleDatabase(path)
