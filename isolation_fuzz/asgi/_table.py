"""Reading one TOML table strictly: every key checked, every error one line.

A :class:`Table` remembers which keys were read; :meth:`Table.done` makes any
other key an error, so a misspelt key never silently means its default.  A
secret's value is never shown, not even a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn

from isolation_fuzz.errors import UsageError

__all__ = ["Table", "placeholders"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class Table:
    """One TOML table being read: every key taken is checked, the rest are errors."""

    def __init__(self, data: object, name: str, source: str) -> None:
        self.name, self.source = name, source
        if not isinstance(data, Mapping):
            self.fail(None, data, "wants a table")
        self.data: Mapping[str, Any] = data
        self.taken: set[str] = set()

    def fail(self, key: str | None, value: object, why: str) -> NoReturn:
        if key == "secret":
            value = "…"  # a secret is never shown, not even a wrong one
        at = f"[{self.name}]" + (f" {key} = {_shown(value)}" if key is not None else "")
        prefix = f"{self.source}: " if self.source else ""
        raise UsageError(f"{prefix}{at}: {why}")

    def get(self, key: str, default: Any = None) -> Any:
        spelt = key if key in self.data else key.replace("-", "_")
        self.taken.add(spelt)
        return self.data.get(spelt, default)

    def has(self, key: str) -> bool:
        return key in self.data or key.replace("-", "_") in self.data

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self.get(key)
        if value is None:
            if required:
                self.fail(None, None, f"needs {key} (a string)")
            return default
        if not isinstance(value, str) or not value.strip():
            self.fail(key, value, "wants a non-empty string")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, value, "wants true or false")
        return bool(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, default)
        if value not in choices:
            self.fail(key, value, f"is not one of {', '.join(choices)}")
        return str(value)

    def names(self, key: str, *, required: bool = False, allowed: tuple[str, ...] = ()) -> Any:
        value = self.get(key)
        if value is None:
            if required:
                self.fail(None, None, f"needs {key} (a list of strings)")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.fail(key, value, "wants a non-empty list of strings")
        for item in value:
            if not isinstance(item, str) or not item:
                self.fail(key, value, f"holds {item!r}, which is not a non-empty string")
            if allowed and item not in allowed:
                self.fail(key, value, f"{item!r} is not one of {', '.join(allowed)}")
        return tuple(dict.fromkeys(value))

    def statuses(self, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
        value = self.get(key, list(default))
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in value
        ):
            self.fail(key, value, "wants a list of HTTP statuses (100 to 599)")
        return tuple(value)

    def pairs(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(key, value, "wants a table of names to strings")
        for name, item in value.items():
            if not isinstance(item, str):
                self.fail(key, value, f"{name} is {item!r}, not a string")
        return tuple(value.items())

    def sub(self, key: str) -> Table | None:
        value = self.get(key)
        return None if value is None else Table(value, f"{self.name}.{key}", self.source)

    def done(self) -> None:
        stray = sorted(k for k in self.data if k not in self.taken)
        if stray:
            self.fail(None, None, f"has unknown key {stray[0]!r}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def placeholders(template: object) -> set[str]:
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, Mapping):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    return set()
