"""Per-campaign namespaces: the only names a campaign may create or remove.

Every key, schema, role, database and table a campaign creates lives under one
namespace such as ``isofuzz_3fa9c01b``.  Teardown removes exactly that namespace,
so the fuzzer is safe to point at a shared server: it never flushes a database and
never drops what it did not create.

Names are restricted to ``[a-z0-9_]`` so they need no quoting in SQL identifiers
and hold no Redis glob metacharacters.
"""

from __future__ import annotations

import re
import secrets

from isolation_fuzz.errors import UsageError

__all__ = ["NAMESPACE_PREFIX", "new_namespace", "validate_namespace"]

NAMESPACE_PREFIX = "isofuzz_"
_VALID = re.compile(r"^isofuzz_[a-z0-9_]{1,40}$")


def new_namespace() -> str:
    """A fresh, unguessable namespace name for one campaign."""
    return f"{NAMESPACE_PREFIX}{secrets.token_hex(6)}"


def validate_namespace(name: str) -> str:
    """Return ``name`` if it is a usable namespace, else raise :class:`UsageError`."""
    if not _VALID.match(name):
        raise UsageError(
            f"namespace {name!r} is not valid: it must start with {NAMESPACE_PREFIX!r} and "
            "hold only lowercase letters, digits and underscores (at most 48 characters)"
        )
    return name
