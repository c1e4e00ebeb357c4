"""``[tool.isolation-fuzz]`` in the user's pyproject.toml: defaults for the command's flags.

Design note.  A bare ``isolation-fuzz run`` in a repository should fuzz that
repository's system (issue 11), so the table describes it once::

    [tool.isolation-fuzz]
    target = "examples.chatdesk.adapter:open_target"
    stores = ["redis"]
    budget = "60s"
    profile = "quick"
    redis-url = "redis://localhost:6379/13"

The file is the nearest ``pyproject.toml`` from the working directory upwards; a
nearest one without the table means no table (we do not look past a project's own
root).  :func:`apply_pyproject` runs after argparse and before preflight, and fills
only what the command line left unset: a flag always wins, and for service URLs so
does the environment (``ISOLATION_FUZZ_REDIS_URL`` and friends), so CI can point a
checked-in table at its own servers.  Keys are kebab-case like the flags
(``max-examples``; ``max_examples`` is accepted too); a key the command has no flag
for is ignored (``replay`` takes the URLs, not the budget).

Which flags a user gave is learnt by parsing the same argv again with every default
suppressed: what comes back was typed, however abbreviated or spelt (``--budget=1m``).

The project's root (the table's directory) goes on ``sys.path``, so the table's
import path loads from any subdirectory.  ``stores`` declares the stores of the
table's own target (a factory that declares none, say): the factory is re-registered
under its name with those stores, so only their engines start.

Every bad value is a :class:`UsageError` naming the key and the file: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from isolation_fuzz.errors import UsageError
from isolation_fuzz.target import importable_after_pythonpath

__all__ = ["TABLE", "apply_pyproject", "find_pyproject", "read_table"]

TABLE = "isolation-fuzz"
_SERVICES = ("redis", "postgres", "clickhouse")
_ENV = {f"{s}_url": f"ISOLATION_FUZZ_{s.upper()}_URL" for s in _SERVICES}


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (the working directory) or above it."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_table(path: Path) -> dict[str, Any]:
    """The ``[tool.isolation-fuzz]`` table of ``path`` with its keys validated and converted.

    Returns a mapping of argparse destinations (``max_examples``) to values, plus
    ``stores`` when declared.  An unreadable file or a bad key is a UsageError.
    """
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read as TOML: {exc}") from None
    table = data.get("tool", {}).get(TABLE)
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise UsageError(f"{path}: [tool.{TABLE}] must be a table, not {table!r}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "asgi":  # the app itself, described (isolation_fuzz.asgi.spec)
            from isolation_fuzz.asgi.spec import parse_spec

            parse_spec(value, str(path), read=lambda name: (path.parent / name).read_text())
            out.setdefault("target", "asgi")
            continue
        dest = key.replace("-", "_")
        convert = _CONVERTERS.get(dest)
        if convert is None:
            known = ", ".join(sorted([*(k.replace("_", "-") for k in _CONVERTERS), "asgi"]))
            raise UsageError(f"{path}: [tool.{TABLE}] has unknown key {key!r}; use {known}")
        try:
            out[dest] = convert(value)
        except UsageError as exc:
            raise UsageError(f"{path}: [tool.{TABLE}] {key} = {_shown(value)}: {exc}") from None
    return out


def apply_pyproject(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    parser: Callable[[], argparse.ArgumentParser],
    start: Path | None = None,
) -> Path | None:
    """Fill the flags ``argv`` left unset from the nearest table; return the file used.

    ``parser`` builds the command's parser anew (its defaults are suppressed to see
    which flags were typed).
    """
    path = find_pyproject(start)
    if path is None:
        return None
    table = read_table(path)
    if not table:
        return None
    importable_after_pythonpath(str(path.parent))
    given = _typed(parser, sys.argv[1:] if argv is None else argv)
    for dest, value in table.items():
        if dest == "stores" or dest in given or not hasattr(args, dest):
            continue
        if dest in _ENV and os.environ.get(_ENV[dest]):
            continue  # the environment outranks a checked-in file for where services are
        setattr(args, dest, value)
    if "stores" in table and "target" in table and getattr(args, "target", None) == table["target"]:
        _declare_stores(table["target"], table["stores"])
    return path


def _typed(parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str]) -> set[str]:
    """The destinations of the flags present in ``argv``."""
    fresh = parser()
    for action in fresh._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for inner in sub._actions:
                    inner.default = argparse.SUPPRESS
    return set(vars(fresh.parse_args(list(argv)))) - {"command"}


def _declare_stores(name: str, stores: tuple[str, ...]) -> None:
    """Re-register target ``name`` with ``stores`` as its declared stores."""
    from isolation_fuzz.capabilities import capabilities_of
    from isolation_fuzz.target import TargetSpec, register_target, resolve_target

    factory = resolve_target(TargetSpec(name))
    declared = replace(capabilities_of(factory), stores=stores)  # type: ignore[arg-type]

    def with_stores(spec: Any, services: Any, auth: Any) -> Any:
        return factory(spec, services, auth)

    with_stores.capabilities = declared  # type: ignore[attr-defined]
    register_target(name, with_stores)


def _shown(value: object) -> str:
    """``value`` for an error line, with any URL password hidden."""
    from isolation_fuzz.redaction import redact_url

    return repr(redact_url(value)) if isinstance(value, str) and "://" in value else repr(value)


# -- converters: a table value to what argparse would have produced -----------------------


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError("wants a non-empty string")
    return value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError("wants a whole number of at least 1")
    return value


def _seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError("wants a whole number of at least 0")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError("wants true or false")
    return value


def _duration(value: object) -> float:
    from isolation_fuzz.cli._flags import parse_duration

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UsageError("wants a duration such as \"90s\", \"10m\" or a number of seconds")
    return parse_duration(str(value))


def _profile(value: object) -> str:
    from isolation_fuzz.engine.campaign.budget import PROFILES

    if value not in PROFILES:
        raise UsageError(f"is not a profile; choose one of {', '.join(sorted(PROFILES))}")
    return str(value)


def _transport(value: object) -> str:
    if value not in ("local", "websocket"):
        raise UsageError("wants 'local' or 'websocket'")
    return str(value)


def _stores(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise UsageError(f"wants a non-empty list of {', '.join(_SERVICES)}")
    stray = [s for s in value if s not in _SERVICES]
    if stray:
        raise UsageError(f"{stray[0]!r} is not a store; use {', '.join(_SERVICES)}")
    return tuple(dict.fromkeys(value))


def _url(service: str) -> Callable[[object], str]:
    def convert(value: object) -> str:
        from isolation_fuzz.services import check_url

        check_url(service, _text(value))
        return str(value)

    return convert


_CONVERTERS: dict[str, Callable[[object], Any]] = {
    "target": _text,
    "stores": _stores,
    "budget": _duration,
    "max_examples": _count,
    "profile": _profile,
    "seed": _seed,
    "transport": _transport,
    "fresh_target": _flag,
    "report_dir": _text,
    "corpus": _text,
    **{f"{service}_url": _url(service) for service in _SERVICES},
}
