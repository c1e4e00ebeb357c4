"""What a campaign prepares for an app: its tokens, its environment, its import, its reset.

Design note.  An app reads its settings from the environment, usually once at
import, so the order matters: the campaign's engines are known, the declared
environment is filled from them (the app-role Postgres URL with the campaign's
schema on its search path, the Redis URL and key prefix, the key that verifies the
campaign's tokens) and set, and only then is the app imported, afresh.  The
environment is restored when the campaign ends.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from isolation_fuzz.asgi.records import AsgiSpec
from isolation_fuzz.asgi.templates import fill
from isolation_fuzz.errors import UsageError
from isolation_fuzz.kit import ServiceHandles
from isolation_fuzz.tokens import AuthConfig

__all__ = [
    "app_role_dsn",
    "auth_config",
    "empty_namespace",
    "environ",
    "environment",
    "load_app",
]


def auth_config(spec: AsgiSpec) -> AuthConfig:
    """The campaign's token settings in the app's format (a fresh key unless declared)."""
    c = spec.credentials
    settings: dict[str, Any] = {
        "issuer": c.issuer, "audience": c.audience, "subject_claim": c.subject_claim,
        "claims": c.claims, "lifetime": c.lifetime,
    }
    if c.secret is not None:
        return AuthConfig(c.algorithm, signing_key=c.secret, verify_key=c.secret,  # type: ignore[arg-type]
                          **settings)
    if c.private_key is not None:
        return AuthConfig(c.algorithm, signing_key=c.private_key,  # type: ignore[arg-type]
                          verify_key=_public_pem(c.private_key, spec), **settings)
    return AuthConfig.generate(c.algorithm, **settings)  # type: ignore[arg-type]


def _public_pem(private: str, spec: AsgiSpec) -> str:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(private.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"{spec.source}: [tool.isolation-fuzz.asgi.credentials] private-key-file is not "
            f"an unencrypted PEM private key ({exc.__class__.__name__})"
        ) from None
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode()


def app_role_dsn(handles: ServiceHandles) -> str:
    """The campaign's Postgres as a URL for the app role, its schema on the search path."""
    services = handles.services
    parts = urlsplit(handles.postgres_dsn)
    query = dict(parse_qsl(parts.query))
    query.update({"search_path": handles.postgres_schema, "role": services.postgres_app_role})
    return urlunsplit(parts._replace(query=urlencode(query)))


def environment(spec: AsgiSpec, handles: ServiceHandles, auth: AuthConfig) -> dict[str, str]:
    """The declared environment with its placeholders filled for this campaign."""
    values: dict[str, str] = {"namespace": handles.namespace, "jwt_key": auth.verify_key}
    stores = set(spec.stores)
    if "redis" in stores:
        values.update(redis_url=handles.redis_url, redis_prefix=handles.redis_prefix)
    if "postgres" in stores:
        values.update(postgres_dsn=app_role_dsn(handles), postgres_admin_dsn=handles.postgres_dsn,
                      postgres_schema=handles.postgres_schema)
    if "clickhouse" in stores:
        values.update(clickhouse_url=handles.clickhouse_url,
                      clickhouse_database=handles.clickhouse_database)
    return {name: str(fill(template, values)) for name, template in spec.env}


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def load_app(spec: AsgiSpec) -> Any:
    """Import (again) the app the spec names; call it if it is a factory."""
    module_name, _, attribute = spec.app.partition(":")
    if spec.source:  # the project's own modules import from its root, from anywhere in it
        from isolation_fuzz.target import importable_after_pythonpath

        importable_after_pythonpath(os.path.dirname(os.path.abspath(spec.source)))
    top = module_name.split(".")[0]
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]  # its settings were read from an earlier environment
    module = importlib.import_module(module_name)
    app = getattr(module, attribute, None)
    if app is None:
        raise UsageError(f"{spec.source}: [tool.isolation-fuzz.asgi] app = {spec.app!r}: "
                         f"module {module_name!r} has no attribute {attribute!r}")
    if spec.factory:
        app = app()
    if not callable(app):
        raise UsageError(f"{spec.source}: [tool.isolation-fuzz.asgi] app = {spec.app!r} is a "
                         f"{type(app).__name__}, not an ASGI app (set factory = true for a "
                         "function that builds one)")
    return app


async def empty_namespace(handles: ServiceHandles, stores: tuple[str, ...]) -> None:
    if "postgres" in stores:
        admin = await handles.postgres_admin()
        try:
            tables = await admin.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", handles.postgres_schema
            )
            if tables:
                names = ", ".join(f'"{handles.postgres_schema}"."{r["tablename"]}"'
                                  for r in tables)
                await admin.execute(f"TRUNCATE {names} CASCADE")
        finally:
            await admin.close()
    if "redis" in stores:
        client = handles.redis()
        try:
            async for key in client.scan_iter(match=f"{handles.redis_prefix}*", count=500):
                await client.unlink(key)
        finally:
            await client.aclose()
    if "clickhouse" in stores:
        ch = await handles.clickhouse()
        try:
            rows = await ch.query_rows(
                "SELECT name FROM system.tables WHERE database = %(db)s",
                {"db": handles.clickhouse_database},
            )
            for (name,) in rows:
                await ch.command(f"TRUNCATE TABLE `{handles.clickhouse_database}`.`{name}`")
        finally:
            await ch.aclose()
